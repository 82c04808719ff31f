//! Leader election with the real kube-lease-manager against a fake Lease endpoint (see
//! `support`): this replica takes a free Lease, and its fence closes when another replica holds
//! the Lease. Real time, bounded waits (a lease of 3 s renewed every 2 s).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ebb_kube::leader::{Fence, LeaseConfig, elect};
use serde_json::{Value, json};
use support::{FakeApi, merge_patch, status_error};

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/ebb-system/leases";

/// Waits until the fence is in `state`, up to `limit`.
async fn until(fence: &Fence, state: bool, limit: Duration) -> bool {
    let start = tokio::time::Instant::now();
    while start.elapsed() < limit {
        if fence.is_leader() == state {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fence_opens_with_the_lease_and_closes_when_another_replica_holds_it() {
    let fake = FakeApi::start().await;
    let lease: Arc<Mutex<Option<Value>>> = Arc::new(Mutex::new(None));
    let path = format!("{LEASES}/ebb-controller");
    let l = lease.clone();
    fake.always("GET", &path, move |_| match l.lock().unwrap().clone() {
        Some(v) => (200, v),
        None => (
            404,
            status_error(
                404,
                "NotFound",
                "leases.coordination.k8s.io \"ebb-controller\" not found",
            ),
        ),
    });
    let l = lease.clone();
    fake.always("POST", LEASES, move |body| {
        let mut created = body.clone();
        created["metadata"]["resourceVersion"] = json!("1");
        *l.lock().unwrap() = Some(created.clone());
        (201, created)
    });
    let l = lease.clone();
    fake.always("PATCH", &path, move |body| {
        let mut guard = l.lock().unwrap();
        let Some(current) = guard.as_mut() else {
            return (404, status_error(404, "NotFound", "no lease"));
        };
        merge_patch(current, &json!({"spec": body["spec"].clone()}));
        (200, current.clone())
    });

    let config = LeaseConfig {
        namespace: "ebb-system".into(),
        name: "ebb-controller".into(),
        identity: "ebb-controller-0".into(),
        duration: Duration::from_secs(3),
        grace: Duration::from_secs(1),
    };
    let (fence, task) = elect(fake.client(), &config)
        .await
        .expect("the lease manager starts");
    assert!(
        until(&fence, true, Duration::from_secs(15)).await,
        "never became the leader"
    );
    assert_eq!(
        lease.lock().unwrap().as_ref().unwrap()["spec"]["holderIdentity"],
        "ebb-controller-0"
    );

    // Another replica holds the Lease now (as after a partition): this one must stop writing.
    {
        let mut guard = lease.lock().unwrap();
        let spec = &mut guard.as_mut().unwrap()["spec"];
        spec["holderIdentity"] = json!("ebb-controller-1");
        spec["leaseDurationSeconds"] = json!(60);
        spec["renewTime"] = json!(k8s_openapi::jiff::Timestamp::now().to_string());
    }
    assert!(
        until(&fence, false, Duration::from_secs(15)).await,
        "kept writing without the lease"
    );
    assert!(fence.check().is_err());
    task.abort();
    support::assert_rbac_allows("ebb-controller", &fake.seen());
}
