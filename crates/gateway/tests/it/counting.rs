//! Counting: exact in-flight counts under concurrency, released at body end, time-weighted
//! averages, and the Prometheus view of the same numbers.

use std::time::Duration;

use ebb_gateway::{GatewayConfig, ServiceConfig};
use futures::future::join_all;
use http_body_util::BodyExt;

use crate::support::*;

fn svc() -> GatewayConfig {
    GatewayConfig::new(vec![ServiceConfig::new("svc")])
}

#[tokio::test]
async fn counts_are_exact_under_concurrency() {
    const N: usize = 40;
    let gw = TestGateway::start(svc()).await;
    let (a, b) = (
        FakeModel::new("a").held().run().await,
        FakeModel::new("b").held().run().await,
    );
    let (ra, rb) = (
        gw.ready_replica("svc", a.addr),
        gw.ready_replica("svc", b.addr),
    );
    gw.gateway.observe(); // start a fresh window

    let clients: Vec<_> = (0..N)
        .map(|_| tokio::spawn(get(gw.addr, "svc.localhost", "/")))
        .collect();
    eventually("every request to reach a replica", || {
        a.arrivals() + b.arrivals() == N
    })
    .await;

    // The instantaneous count, read without closing the window.
    assert_eq!(gw.gateway.in_flight("svc"), Some(N as u32));
    assert_eq!(gw.gateway.in_flight("nope"), None);
    let during = gw.gateway.observe().services.remove(0);
    assert_eq!(during.in_flight, N as u32);
    assert_eq!(during.held, 0);
    assert_eq!(
        (during.arrivals_per_second * during.period.as_secs_f64()).round(),
        N as f64
    );
    let per_replica: Vec<(ebb_gateway::ReplicaId, u32)> = during
        .replicas
        .iter()
        .map(|r| (r.id, r.in_flight))
        .collect();
    // Least in-flight of two: with two replicas the split is as even as it can be.
    assert_eq!(per_replica, vec![(ra, N as u32 / 2), (rb, N as u32 / 2)]);
    assert_eq!((a.arrivals(), b.arrivals()), (N / 2, N / 2));

    a.release(N);
    b.release(N);
    for reply in join_all(clients).await {
        assert_eq!(reply.expect("client task").status.as_u16(), 200);
    }
    eventually("every slot to be released", || gw.in_flight() == 0).await;
    let after = gw.gateway.observe().services.remove(0);
    assert_eq!(after.in_flight, 0);
    assert_eq!(gw.gateway.in_flight("svc"), Some(0));
    let text = gw.metrics();
    assert!(
        text.contains(&format!(
            "ebb_gateway_requests_total{{service=\"svc\",code=\"200\"}} {N}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ebb_gateway_replica_completed_total{{service=\"svc\",replica=\"{ra}@{}\"}} {}",
            a.addr,
            N / 2
        )),
        "{text}"
    );
    assert!(
        text.contains("ebb_gateway_in_flight{service=\"svc\"} 0"),
        "{text}"
    );
}

#[tokio::test]
async fn completions_are_counted_once_each() {
    let gw = TestGateway::start(svc()).await;
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    gw.gateway.observe();
    for _ in 0..7 {
        assert_eq!(
            get(gw.addr, "svc.localhost", "/").await.status.as_u16(),
            200
        );
    }
    eventually("the last body to be released", || gw.in_flight() == 0).await;
    let o = gw.gateway.observe().services.remove(0);
    let completed = o.requests_per_second * o.period.as_secs_f64();
    assert_eq!(completed.round(), 7.0, "{o:?}");
    let at_replica = o.replicas[0].requests_per_second * o.period.as_secs_f64();
    assert_eq!(at_replica.round(), 7.0, "{o:?}");
}

#[tokio::test]
async fn a_request_counts_until_its_body_ends_not_its_headers() {
    let gw = TestGateway::start(svc()).await;
    let model = FakeModel::new("m").streaming().run().await;
    gw.ready_replica("svc", model.addr);
    let req = get_svc("/");
    let response = send(gw.addr, req).await;
    let chunks = model.chunks().await;
    assert_eq!(response.status().as_u16(), 200);
    let mut body = response.into_body();
    chunks.send("data: one\n\n".into()).await.unwrap();
    let first = within("first chunk", body.frame()).await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "data: one\n\n");
    assert_eq!(
        gw.in_flight(),
        1,
        "headers and a chunk arrived, the body has not ended"
    );
    drop(chunks); // ends the stream
    assert!(within("end of body", body.frame()).await.is_none());
    eventually("the slot to be released", || gw.in_flight() == 0).await;
}

#[tokio::test]
async fn average_concurrency_is_time_weighted() {
    let gw = TestGateway::start(svc()).await;
    let model = FakeModel::new("m").held().run().await;
    gw.ready_replica("svc", model.addr);
    let clients: Vec<_> = (0..2)
        .map(|_| tokio::spawn(get(gw.addr, "svc.localhost", "/")))
        .collect();
    eventually("both requests at the replica", || model.arrivals() == 2).await;
    gw.gateway.observe(); // the window starts with exactly 2 in flight
    tokio::time::sleep(Duration::from_millis(200)).await;
    let o = gw.gateway.observe().services.remove(0);
    // Two requests in flight for the whole window: the average is exactly 2.
    assert!((o.average_concurrency - 2.0).abs() < 1e-9, "{o:?}");
    assert!(
        (o.replicas[0].average_concurrency - 2.0).abs() < 1e-9,
        "{o:?}"
    );
    assert!(o.period >= Duration::from_millis(200));
    model.release(2);
    for reply in join_all(clients).await {
        assert_eq!(reply.expect("client").status.as_u16(), 200);
    }
}

#[tokio::test]
async fn every_metric_family_is_exported_with_its_prefix() {
    // (`rejected` has no sample until something is rejected; the queueing tests read it.)
    let gw = TestGateway::start(svc()).await;
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    assert_eq!(
        get(gw.addr, "svc.localhost", "/").await.status.as_u16(),
        200
    );
    gw.gateway.observe();
    let text = gw.metrics();
    for (family, kind) in [
        ("requests", "counter"),
        ("request_duration_seconds", "histogram"),
        ("in_flight", "gauge"),
        ("held", "gauge"),
        ("average_concurrency", "gauge"),
        ("wakeups", "counter"),
        ("retries", "counter"),
        ("replica_in_flight", "gauge"),
        ("replica_completed", "counter"),
        ("connections", "gauge"),
        ("unrouted", "counter"),
    ] {
        let line = format!("# TYPE ebb_gateway_{family} {kind}");
        assert!(text.contains(&line), "missing {line:?} in\n{text}");
    }
    assert_eq!(
        gw.sample("ebb_gateway_request_duration_seconds_count{service=\"svc\"}"),
        Some(1.0)
    );
}
