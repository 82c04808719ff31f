//! Knative's balancing, when asked for: first free at containerConcurrency 1–3, round robin
//! above. (ebb's least-of-two is in `counting`: an even split between two replicas.)

use ebb_gateway::{Balancing, GatewayConfig, ServiceConfig};

use crate::support::*;

fn knative(container_concurrency: u32) -> GatewayConfig {
    let mut svc = ServiceConfig::new("svc");
    svc.container_concurrency = container_concurrency;
    let mut config = GatewayConfig::new(vec![svc]);
    config.balancing = Balancing::Knative;
    config
}

/// Two replicas that hold every request until released.
async fn two_held_models() -> (RunningModel, RunningModel) {
    (
        FakeModel::new("a").held().run().await,
        FakeModel::new("b").held().run().await,
    )
}

#[tokio::test]
async fn with_knatives_balancing_at_low_concurrency_the_first_replica_fills_first() {
    let gw = TestGateway::start(knative(2)).await;
    let (a, b) = two_held_models().await;
    gw.ready_replica("svc", a.addr);
    gw.ready_replica("svc", b.addr);

    let mut clients = Vec::new();
    // Least-of-two would have sent the second to the idle `b`.
    for (n, expected) in [(1, (1, 0)), (2, (2, 0)), (3, (2, 1))] {
        clients.push(tokio::spawn(get(gw.addr, "svc.localhost", "/")));
        eventually("the request to reach a replica", || {
            a.arrivals() + b.arrivals() == n
        })
        .await;
        assert_eq!((a.arrivals(), b.arrivals()), expected, "request {n}");
    }

    a.release(2);
    b.release(1);
    for client in clients {
        let reply = within("a reply", client).await.expect("client task");
        assert_eq!(reply.status.as_u16(), 200);
    }
}

#[tokio::test]
async fn with_knatives_balancing_at_high_concurrency_replicas_take_turns_whatever_their_load() {
    let gw = TestGateway::start(knative(4)).await;
    let (a, b) = two_held_models().await;
    gw.ready_replica("svc", a.addr);

    let mut clients = Vec::new();
    let mut send = async |n: usize| {
        clients.push(tokio::spawn(get(gw.addr, "svc.localhost", "/")));
        eventually("the request to reach a replica", || {
            a.arrivals() + b.arrivals() == n
        })
        .await;
    };
    for n in 1..=3 {
        send(n).await;
    }
    gw.ready_replica("svc", b.addr);
    send(4).await;
    send(5).await;
    // `b` had its turn, then `a` its own though it was busier (least-of-two: 3 and 2).
    assert_eq!((a.arrivals(), b.arrivals()), (4, 1));

    a.release(4);
    b.release(1);
    for client in clients {
        let reply = within("a reply", client).await.expect("client task");
        assert_eq!(reply.status.as_u16(), 200);
    }
}
