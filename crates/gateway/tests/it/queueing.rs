//! containerConcurrency, the bounded queue, FIFO release and overflow with Retry-After.

use std::time::Duration;

use bytes::Bytes;
use ebb_gateway::{GatewayConfig, REASON_HEADER, ServiceConfig};
use http_body_util::BodyExt;

use crate::support::*;

fn limited(queue_depth: u32, queue_timeout: Duration) -> GatewayConfig {
    let mut svc = ServiceConfig::new("svc");
    svc.container_concurrency = 1;
    svc.queue_depth = queue_depth;
    svc.queue_timeout = queue_timeout;
    GatewayConfig::new(vec![svc])
}

#[tokio::test]
async fn overflow_is_503_with_retry_after_and_queued_requests_go_in_order() {
    let gw = TestGateway::start(limited(2, PATIENCE)).await;
    let model = FakeModel::new("m").held().run().await;
    gw.ready_replica("svc", model.addr);

    let first = tokio::spawn(get_tagged(gw.addr, "1"));
    eventually("request 1 at the replica", || model.arrivals() == 1).await;
    let second = tokio::spawn(get_tagged(gw.addr, "2"));
    eventually("request 2 queued", || gw.held() == 1).await;
    let third = tokio::spawn(get_tagged(gw.addr, "3"));
    eventually("request 3 queued", || gw.held() == 2).await;

    let refused = get_tagged(gw.addr, "4").await;
    assert_eq!(refused.status.as_u16(), 503);
    assert_eq!(refused.header("retry-after"), "1");
    assert_eq!(refused.header(REASON_HEADER), "queue-full");
    assert!(refused.body.contains("queueDepth 2"), "{}", refused.body);
    assert_eq!(model.arrivals(), 1, "containerConcurrency 1: one at a time");

    model.release(3);
    for client in [first, second, third] {
        assert_eq!(
            within("a queued reply", client)
                .await
                .unwrap()
                .status
                .as_u16(),
            200
        );
    }
    let order: Vec<String> = model.seen().into_iter().map(|s| s.tag).collect();
    assert_eq!(order, ["1", "2", "3"]);
    // The two that queued waited; the first found its slot free.
    assert_eq!(
        gw.sample("ebb_gateway_wait_seconds_count{service=\"svc\"}"),
        Some(2.0)
    );
    assert!(
        gw.metrics()
            .contains("ebb_gateway_rejected_total{service=\"svc\",reason=\"queue-full\"} 1")
    );
}

#[tokio::test]
async fn no_free_slot_within_the_queue_timeout_is_503() {
    let gw = TestGateway::start(limited(10, Duration::from_millis(200))).await;
    let model = FakeModel::new("m").held().run().await;
    gw.ready_replica("svc", model.addr);
    let first = tokio::spawn(get_tagged(gw.addr, "1"));
    eventually("request 1 at the replica", || model.arrivals() == 1).await;

    let waited = get_tagged(gw.addr, "2").await;
    assert_eq!(waited.status.as_u16(), 503);
    assert_eq!(waited.header(REASON_HEADER), "no-free-slot");
    assert_eq!(waited.header("retry-after"), "1");
    assert!(
        waited.body.contains("containerConcurrency 1"),
        "{}",
        waited.body
    );
    assert_eq!(gw.held(), 0);

    model.release(1);
    assert_eq!(
        within("request 1", first).await.unwrap().status.as_u16(),
        200
    );
    assert_eq!(
        model.arrivals(),
        1,
        "the timed-out request never reached the replica"
    );
}

/// Knative times a request from its arrival, not phase by phase: the wait for a slot counts
/// towards `responseTimeout`.
#[tokio::test]
async fn response_timeout_runs_from_arrival_and_bounds_the_wait() {
    let mut config = limited(10, PATIENCE);
    config.services[0].response_timeout = Duration::from_millis(1000);
    let gw = TestGateway::start(config).await;
    let model = FakeModel::new("m").held().run().await;
    gw.ready_replica("svc", model.addr);

    let first = tokio::spawn(get_tagged(gw.addr, "1"));
    eventually("request 1 at the replica", || model.arrivals() == 1).await;
    let arrived = tokio::time::Instant::now();
    let second = tokio::spawn(get_tagged(gw.addr, "2"));
    eventually("request 2 queued", || gw.held() == 1).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Request 1 is answered; request 2 takes its slot with ~300 ms of its 1 s left.
    model.release(1);
    assert_eq!(within("request 1", first).await.unwrap().status, 200);
    eventually("request 2 at the replica", || model.arrivals() == 2).await;

    let late = within("request 2", second).await.unwrap();
    let took = arrived.elapsed();
    assert_eq!(late.status, 504, "{}", late.body);
    assert_eq!(late.header(REASON_HEADER), "response-timeout");
    assert!(
        late.body
            .contains("within responseTimeout (1s) of the request's arrival"),
        "{}",
        late.body
    );
    // Timed phase by phase it would take 1.7 s: 0.7 s queued, then 1 s at the replica.
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_millis(1500),
        "request 2 answered after {took:?}"
    );

    // A stream holds its slot past responseTimeout, which only bounds its start; a request
    // waiting for that slot times out when responseTimeout, shorter than queueTimeout, ends
    // its wait: 504, not the overload's 503, and is told so.
    let mut config = limited(10, PATIENCE);
    config.services[0].response_timeout = Duration::from_millis(300);
    let gw = TestGateway::start(config).await;
    let model = FakeModel::new("m").streaming().run().await;
    gw.ready_replica("svc", model.addr);
    let req = get_svc("/");
    let stream = send(gw.addr, req).await;
    assert_eq!(stream.status(), 200);
    let chunks = model.chunks().await;
    let refused = get_tagged(gw.addr, "queued").await;
    assert_eq!(refused.status, 504);
    assert_eq!(refused.header(REASON_HEADER), "no-free-slot");
    assert!(refused.headers.get("retry-after").is_none());
    assert!(
        refused.body.contains("within responseTimeout (300ms)"),
        "{}",
        refused.body
    );
    chunks
        .send(Bytes::from_static(b"data: late\n\n"))
        .await
        .unwrap();
    drop(chunks);
    let body = within("the stream", stream.into_body().collect())
        .await
        .unwrap();
    assert_eq!(body.to_bytes(), "data: late\n\n");
    assert_eq!(
        model.arrivals(),
        1,
        "the refused request never reached the replica"
    );
}
