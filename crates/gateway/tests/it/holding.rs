//! Holding at zero: the wakeup, the release when a replica is ready, the timeout, the bound,
//! and a held client that leaves.

use std::time::Duration;

use ebb_gateway::{Answers, GatewayConfig, REASON_HEADER, ServiceConfig};
use tokio::io::AsyncWriteExt;

use crate::support::*;

fn at_zero(queue_depth: u32, queue_timeout: Duration) -> GatewayConfig {
    let mut svc = ServiceConfig::new("svc");
    svc.queue_depth = queue_depth;
    svc.queue_timeout = queue_timeout;
    GatewayConfig::new(vec![svc])
}

#[tokio::test]
async fn held_requests_wake_the_autoscaler_and_go_out_when_a_replica_is_ready() {
    let mut gw = TestGateway::start(at_zero(100, PATIENCE)).await;
    let first = tokio::spawn(get(gw.addr, "svc.localhost", "/v2/models/svc/infer"));
    let wakeup = within("the wakeup", gw.wakeups.recv())
        .await
        .expect("channel open");
    assert_eq!(&*wakeup.service, "svc");
    let second = tokio::spawn(get(gw.addr, "svc.localhost", "/v2/models/svc/infer"));
    eventually("both requests held", || gw.held() == 2).await;
    assert!(
        gw.wakeups.try_recv().is_none(),
        "one wakeup for the hold, not one per request"
    );
    assert!(
        gw.metrics()
            .contains("ebb_gateway_wakeups_total{service=\"svc\"} 1")
    );

    // The autoscaler starts a replica; a replica that is added but not ready gets nothing.
    let model = FakeModel::new("m").run().await;
    let replica = gw.gateway.add_replica("svc", model.addr).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!((model.arrivals(), gw.held()), (0, 2));
    gw.gateway.set_ready(replica, true).unwrap();
    for client in [first, second] {
        let reply = within("a held reply", client).await.unwrap();
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "m"));
    }
    assert_eq!(gw.held(), 0);
    // Both waited, each at least the 50 ms the replica was not ready.
    assert_eq!(
        gw.sample("ebb_gateway_wait_seconds_count{service=\"svc\"}"),
        Some(2.0)
    );
    let waited = gw
        .sample("ebb_gateway_wait_seconds_sum{service=\"svc\"}")
        .unwrap();
    assert!(waited >= 0.1, "{waited}");
}

#[tokio::test]
async fn a_hold_that_outlasts_the_queue_timeout_is_504() {
    let gw = TestGateway::start(at_zero(100, Duration::from_millis(200))).await;
    let reply = get(gw.addr, "svc.localhost", "/").await;
    assert_eq!(reply.status.as_u16(), 504);
    assert_eq!(reply.header(REASON_HEADER), "no-ready-replica");
    assert!(reply.body.contains("no ready replica"), "{}", reply.body);
    assert_eq!((gw.held(), gw.in_flight()), (0, 0));
    // Its wait counts too: the longest cold starts are the ones that time out.
    eventually("the wait observed", || {
        gw.sample("ebb_gateway_wait_seconds_count{service=\"svc\"}") == Some(1.0)
    })
    .await;
    let waited = gw
        .sample("ebb_gateway_wait_seconds_sum{service=\"svc\"}")
        .unwrap();
    assert!(waited >= 0.2, "{waited}");
}

#[tokio::test]
async fn with_knatives_answers_a_hold_that_outlasts_its_wait_is_503() {
    let mut config = at_zero(100, Duration::from_millis(200));
    config.answers = Answers::Knative;
    let gw = TestGateway::start(config).await;
    let reply = get(gw.addr, "svc.localhost", "/").await;
    assert_eq!(reply.status.as_u16(), 503, "the activator's answer");
    assert_eq!(reply.header(REASON_HEADER), "no-ready-replica");
    assert!(reply.body.contains("no ready replica"), "{}", reply.body);
}

#[tokio::test]
async fn the_hold_queue_is_bounded() {
    let gw = TestGateway::start(at_zero(2, PATIENCE)).await;
    let held: Vec<_> = (0..2)
        .map(|_| tokio::spawn(get(gw.addr, "svc.localhost", "/")))
        .collect();
    eventually("two held", || gw.held() == 2).await;
    let refused = get(gw.addr, "svc.localhost", "/").await;
    assert_eq!(refused.status.as_u16(), 503);
    assert_eq!(refused.header(REASON_HEADER), "queue-full");
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    for client in held {
        assert_eq!(
            within("held reply", client).await.unwrap().status.as_u16(),
            200
        );
    }
}

#[tokio::test]
async fn a_held_client_that_leaves_frees_its_place() {
    let mut gw = TestGateway::start(at_zero(100, PATIENCE)).await;
    let mut raw = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nhost: svc.localhost\r\n\r\n")
        .await
        .unwrap();
    within("the wakeup", gw.wakeups.recv())
        .await
        .expect("channel open");
    eventually("the request held", || gw.held() == 1).await;
    drop(raw);
    eventually("the held place freed", || {
        gw.held() == 0 && gw.in_flight() == 0
    })
    .await;

    // The next hold is a new one: it wakes the autoscaler again.
    let again = tokio::spawn(get(gw.addr, "svc.localhost", "/"));
    within("a second wakeup", gw.wakeups.recv())
        .await
        .expect("channel open");
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    assert_eq!(within("reply", again).await.unwrap().status.as_u16(), 200);
    assert_eq!(model.arrivals(), 1, "the abandoned request was never sent");
}
