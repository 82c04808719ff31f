//! Draining: no new requests, and a report when the last one in flight ends.

use std::time::Duration;

use ebb_gateway::{Error, GatewayConfig, ReplicaState, ServiceConfig};

use crate::support::*;

#[tokio::test]
async fn a_draining_replica_finishes_its_requests_and_reports_empty() {
    let gw = TestGateway::start(GatewayConfig::new(vec![ServiceConfig::new("svc")])).await;
    let old = FakeModel::new("old").held().run().await;
    let new = FakeModel::new("new").run().await;
    let old_id = gw.ready_replica("svc", old.addr);
    let busy = tokio::spawn(get(gw.addr, "svc.localhost", "/"));
    eventually("a request at the old replica", || old.arrivals() == 1).await;

    gw.ready_replica("svc", new.addr);
    let mut drained = std::pin::pin!(gw.gateway.drain(old_id).unwrap());
    assert_eq!(
        gw.gateway.replica_state(old_id),
        Some(ReplicaState::Draining)
    );
    assert_eq!(
        gw.gateway.set_ready(old_id, true),
        Err(Error::Draining(old_id))
    );

    for _ in 0..5 {
        let reply = get(gw.addr, "svc.localhost", "/").await;
        assert_eq!(reply.body, "new", "new requests avoid the draining replica");
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(100), &mut drained)
            .await
            .is_err(),
        "still one request in flight"
    );
    old.release(1);
    assert_eq!(within("the old request", busy).await.unwrap().body, "old");
    within("the drain to finish", drained).await;

    gw.gateway.remove_replica(old_id).unwrap();
    assert_eq!(gw.gateway.replica_state(old_id), None);
    assert_eq!(
        gw.gateway.remove_replica(old_id),
        Err(Error::UnknownReplica(old_id))
    );
    let text = gw.metrics();
    assert!(
        !text.contains(&old.addr.to_string()),
        "a removed replica is no longer exported"
    );
}

#[tokio::test]
async fn draining_an_idle_replica_is_immediate_and_unknown_names_are_errors() {
    let gw = TestGateway::start(GatewayConfig::new(vec![ServiceConfig::new("svc")])).await;
    let model = FakeModel::new("m").run().await;
    let id = gw.ready_replica("svc", model.addr);
    within("an idle drain", gw.gateway.drain(id).unwrap()).await;
    let err = gw.gateway.add_replica("nope", model.addr).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown service \"nope\"; the gateway routes to: svc"
    );
}
