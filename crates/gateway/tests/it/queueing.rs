//! containerConcurrency, the bounded queue, FIFO release and overflow with Retry-After.

use std::time::Duration;

use ebb_gateway::{GatewayConfig, REASON_HEADER, ServiceConfig};

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
