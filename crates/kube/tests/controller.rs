//! The controller's syncs against a fake API server (see `support`), scripted request by
//! request: what it reads, what it writes (paths, verbs, patch types and bodies), and what it
//! must not write.

mod support;

use std::sync::{Arc, Mutex};

use ebb_core::time::Instant;
use ebb_kube::Error;
use ebb_kube::api::Cluster;
use ebb_kube::clock;
use ebb_kube::crd::Autoscaler;
use ebb_kube::leader::Fence;
use ebb_kube::sync::{Context, sync};
use serde_json::{Value, json};
use support::{Exchange, FakeApi, merge_patch, status_error};

const MERGE: &str = "application/merge-patch+json";
const SCALE: &str = "/apis/apps/v1/namespaces/default/deployments/web/scale";
const HPAS: &str = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";
const PODS: &str = "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb";
const POD_METRICS: &str =
    "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dweb";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/default/events";
const STATUS: &str = "/apis/ebb.dev/v1alpha1/namespaces/default/autoscalers/web/status";

/// Every sync finishes well within this on a loaded machine; a hang fails instead of blocking.
async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(30), f)
        .await
        .expect("the sync did not finish within 30 s")
}

/// The sync's report; on an error, the fake's log of what went wrong first.
fn checked<T, E: std::fmt::Debug>(fake: &FakeApi, result: Result<T, E>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => {
            fake.finish();
            panic!("the sync failed: {e:?}")
        }
    }
}

fn t0() -> Instant {
    clock::parse_rfc3339("2026-01-01T00:00:00Z").unwrap()
}

fn at(seconds: i64) -> Instant {
    Instant::from_nanos(t0().as_nanos() + seconds * 1_000_000_000)
}

/// A class-hpa Autoscaler on Deployment/web: CPU at 50 % of requests, 1–10 replicas.
fn autoscaler(behavior: Option<Value>) -> Value {
    let mut spec = json!({
        "class": "hpa",
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1,
        "maxReplicas": 10,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                     "target": {"type": "Utilization", "averageUtilization": 50}}}]
    });
    if let Some(b) = behavior {
        spec["behavior"] = b;
    }
    json!({
        "apiVersion": "ebb.dev/v1alpha1", "kind": "Autoscaler",
        "metadata": {"name": "web", "namespace": "default", "uid": "u-1",
                     "resourceVersion": "7", "generation": 1},
        "spec": spec
    })
}

fn typed(object: &Value) -> Autoscaler {
    serde_json::from_value(object.clone()).unwrap()
}

fn scale(replicas: i32, rv: &str) -> Value {
    json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
           "metadata": {"name": "web", "namespace": "default", "resourceVersion": rv},
           "spec": {"replicas": replicas},
           "status": {"replicas": replicas, "selector": "app=web"}})
}

/// `n` ready pods requesting 200m CPU each, started an hour before t0.
fn pods(n: usize) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "metadata": {"name": format!("web-{i}"), "namespace": "default", "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "200m"}}}]},
                "status": {"phase": "Running", "startTime": "2025-12-31T23:00:00Z",
                           "conditions": [{"type": "Ready", "status": "True",
                                           "lastTransitionTime": "2025-12-31T23:00:30Z"}]}
            })
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items})
}

/// PodMetrics for `n` pods each using `cpu`, sampled at `now`.
fn pod_metrics(n: usize, cpu: &str, now: Instant) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            json!({"metadata": {"name": format!("web-{i}"), "namespace": "default"},
                   "timestamp": clock::rfc3339(now), "window": "30s",
                   "containers": [{"name": "app", "usage": {"cpu": cpu}}]})
        })
        .collect();
    json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "items": items})
}

fn no_hpas() -> Exchange {
    Exchange::get(HPAS).reply(200, json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscalerList", "metadata": {}, "items": []}))
}

fn scale_patch(replicas: i32, rv: &str) -> Exchange {
    Exchange::patch(SCALE, MERGE)
        .body(json!({"metadata": {"resourceVersion": rv}, "spec": {"replicas": replicas}}))
        .reply(200, scale(replicas, "200"))
}

fn event(reason: &'static str, note_starts: &'static str) -> Exchange {
    Exchange::post(EVENTS)
        .check(move |b| {
            let ok = b["reason"] == reason
                && b["note"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(note_starts))
                && b["regarding"]["kind"] == "Autoscaler"
                && b["regarding"]["name"] == "web"
                && b["reportingController"] == "ebb.dev/controller"
                && b["eventTime"].is_string()
                && b["action"].is_string();
            if ok {
                Ok(())
            } else {
                Err(format!("event {b}"))
            }
        })
        .reply_with(|b| (201, b.clone()))
}

/// The status PATCH: checked by `check`, applied to `object` as the API server would (the
/// resourceVersion precondition, then a merge patch), answered with the new object.
fn status_patch(
    object: &Arc<Mutex<Value>>,
    check: impl Fn(&Value) -> Result<(), String> + Send + 'static,
) -> Exchange {
    let object = object.clone();
    Exchange::patch(STATUS, MERGE)
        .check(check)
        .reply_with(move |patch| {
            let mut o = object.lock().unwrap();
            if patch["metadata"]["resourceVersion"] != o["metadata"]["resourceVersion"] {
                return (
                    409,
                    status_error(409, "Conflict", "the object has been modified"),
                );
            }
            let mut status_only = json!({"status": patch["status"].clone()});
            merge_patch(&mut o, &status_only.take());
            let rv: u64 = o["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            o["metadata"]["resourceVersion"] = json!((rv + 1).to_string());
            (200, o.clone())
        })
}

fn context(fake: &FakeApi, fence: Fence) -> Context {
    Context::new(Cluster::new(fake.client()), fence, "ebb-controller-0")
}

#[tokio::test]
async fn a_scale_up_writes_the_merge_patch_an_event_and_the_status() {
    let fake = FakeApi::start().await;
    let object = Arc::new(Mutex::new(autoscaler(None)));
    let now = at(0);
    // 2 pods at 180m of 200m: 90 % against 50 % → ratio 1.8 → ceil(1.8 × 2) = 4.
    fake.expect([
        no_hpas(),
        Exchange::get(SCALE).reply(200, scale(2, "100")),
        Exchange::get(PODS).reply(200, pods(2)),
        Exchange::get(POD_METRICS).reply(200, pod_metrics(2, "180m", now)),
        scale_patch(4, "100"),
        event(
            "SuccessfulRescale",
            "New size: 4; reason: cpu resource utilization (percentage of request) above target",
        ),
        status_patch(&object, |p| {
            let s = &p["status"];
            let ok = p["metadata"]["resourceVersion"] == "7"
                && s["currentReplicas"] == 2
                && s["desiredReplicas"] == 4
                && s["lastScaleTime"] == "2026-01-01T00:00:00Z"
                && s["targets"] == "cpu: 90%/50%"
                && s["reference"] == "Deployment/web"
                && s["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 90
                && s["conditions"][0]["reason"] == "SucceededRescale"
                && s["conditions"][1]["reason"] == "ValidMetricFound"
                && s["lastDecision"]["summary"]
                    .as_str()
                    .is_some_and(|t| t.contains("scale 2 → 4"))
                && s["history"]["recommendations"].is_array();
            if ok {
                Ok(())
            } else {
                Err(format!("status {s}"))
            }
        }),
    ]);
    let (_lease, fence) = Fence::manual(true);
    let ctx = context(&fake, fence);
    let report = {
        let current = typed(&object.lock().unwrap().clone());
        checked(&fake, within(sync(&ctx, &current, now)).await)
    };
    assert_eq!(report.scaled_to, Some(4));
    assert!(report.status_written);
    fake.finish();
    support::assert_rbac_allows("ebb-controller", &fake.seen());
}

#[tokio::test]
async fn a_steady_load_writes_no_scale_and_no_event() {
    let fake = FakeApi::start().await;
    let object = Arc::new(Mutex::new(autoscaler(None)));
    let (_lease, fence) = Fence::manual(true);
    let ctx = context(&fake, fence);
    // 3 pods at 100m of 200m: exactly the 50 % target, twice.
    for (i, now) in [at(0), at(15)].into_iter().enumerate() {
        fake.expect([
            no_hpas(),
            Exchange::get(SCALE).reply(200, scale(3, "100")),
            Exchange::get(PODS).reply(200, pods(3)),
            Exchange::get(POD_METRICS).reply(200, pod_metrics(3, "100m", now)),
        ]);
        // The status is written: the first time it is new; the second time only the engine's
        // memory (the new recommendation) and the decision's time change.
        let before = object.lock().unwrap()["status"].clone();
        fake.expect([status_patch(&object, move |p| {
            let visible = |s: &Value| {
                let mut s = s.clone();
                if let Some(o) = s.as_object_mut() {
                    o.remove("history");
                    o.remove("lastDecision");
                }
                s
            };
            let s = &p["status"];
            let ok = s["desiredReplicas"] == 3
                && s["targets"] == "cpu: 50%/50%"
                && s.get("lastScaleTime").is_none()
                && (i == 0 || visible(s) == visible(&before));
            if ok { Ok(()) } else { Err(format!("{p}")) }
        })]);
        let current = typed(&object.lock().unwrap().clone());
        let report = checked(&fake, within(sync(&ctx, &current, now)).await);
        assert_eq!(report.scaled_to, None);
    }
    fake.finish();
    let writes: Vec<String> = fake
        .seen()
        .into_iter()
        .filter(|s| s.method != "GET")
        .map(|s| s.uri)
        .collect();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(
        writes.iter().all(|u| u.contains("/autoscalers/web/status")),
        "{writes:?}"
    );
}

#[tokio::test]
async fn a_conflict_on_scale_is_retried_with_a_fresh_read() {
    let fake = FakeApi::start().await;
    let object = Arc::new(Mutex::new(autoscaler(None)));
    let now = at(0);
    fake.expect([
        no_hpas(),
        Exchange::get(SCALE).reply(200, scale(2, "100")),
        Exchange::get(PODS).reply(200, pods(2)),
        Exchange::get(POD_METRICS).reply(200, pod_metrics(2, "180m", now)),
        Exchange::patch(SCALE, MERGE)
            .body(json!({"metadata": {"resourceVersion": "100"}, "spec": {"replicas": 4}}))
            .reply(409, status_error(409, "Conflict", "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again")),
        // The fresh read: the Deployment's status moved on, its replicas did not. The pods and
        // metrics of the same selector are not read again.
        Exchange::get(SCALE).reply(200, scale(2, "101")),
        scale_patch(4, "101"),
        event("SuccessfulRescale", "New size: 4;"),
        status_patch(&object, |p| {
            if p["status"]["desiredReplicas"] == 4 { Ok(()) } else { Err(format!("{p}")) }
        }),
    ]);
    let (_lease, fence) = Fence::manual(true);
    let report = {
        let current = typed(&object.lock().unwrap().clone());
        checked(
            &fake,
            within(sync(&context(&fake, fence), &current, now)).await,
        )
    };
    assert_eq!(report.scaled_to, Some(4));
    fake.finish();
}

#[tokio::test]
async fn a_conflict_after_someone_else_rescaled_is_decided_again_from_the_new_count() {
    let fake = FakeApi::start().await;
    let object = Arc::new(Mutex::new(autoscaler(None)));
    let now = at(0);
    fake.expect([
        no_hpas(),
        Exchange::get(SCALE).reply(200, scale(2, "100")),
        Exchange::get(PODS).reply(200, pods(2)),
        Exchange::get(POD_METRICS).reply(200, pod_metrics(2, "180m", now)),
        Exchange::patch(SCALE, MERGE).reply(409, status_error(409, "Conflict", "modified")),
        // Someone scaled to 3 meanwhile: the same pods' 90 % now asks for ceil(1.8 × 2) = 4,
        // still above 3, and the write carries the new resourceVersion.
        Exchange::get(SCALE).reply(200, scale(3, "102")),
        scale_patch(4, "102"),
        event("SuccessfulRescale", "New size: 4;"),
        status_patch(&object, |p| {
            let s = &p["status"];
            if s["currentReplicas"] == 3 && s["desiredReplicas"] == 4 {
                Ok(())
            } else {
                Err(format!("{s}"))
            }
        }),
    ]);
    let (_lease, fence) = Fence::manual(true);
    let report = {
        let current = typed(&object.lock().unwrap().clone());
        checked(
            &fake,
            within(sync(&context(&fake, fence), &current, now)).await,
        )
    };
    assert_eq!(report.scaled_to, Some(4));
    fake.finish();
}

#[tokio::test]
async fn a_conflict_on_status_is_retried_on_a_fresh_read_of_the_object() {
    let fake = FakeApi::start().await;
    let object = Arc::new(Mutex::new(autoscaler(None)));
    let now = at(0);
    let read_back = object.clone();
    fake.expect([
        no_hpas(),
        Exchange::get(SCALE).reply(200, scale(3, "100")),
        Exchange::get(PODS).reply(200, pods(3)),
        Exchange::get(POD_METRICS).reply(200, pod_metrics(3, "100m", now)),
        // A user edited the object (resourceVersion 8) after the controller read it (7).
        Exchange::patch(STATUS, MERGE)
            .check(|p| {
                if p["metadata"]["resourceVersion"] == "7" {
                    Ok(())
                } else {
                    Err(format!("{p}"))
                }
            })
            .on_arrival(move || {
                read_back.lock().unwrap()["metadata"]["resourceVersion"] = json!("8")
            })
            .reply(
                409,
                status_error(409, "Conflict", "the object has been modified"),
            ),
        Exchange::get("/apis/ebb.dev/v1alpha1/namespaces/default/autoscalers/web").reply_with({
            let object = object.clone();
            move |_| (200, object.lock().unwrap().clone())
        }),
        status_patch(&object, |p| {
            if p["metadata"]["resourceVersion"] == "8" {
                Ok(())
            } else {
                Err(format!("{p}"))
            }
        }),
    ]);
    let (_lease, fence) = Fence::manual(true);
    let report = {
        let current = typed(&object.lock().unwrap().clone());
        checked(
            &fake,
            within(sync(&context(&fake, fence), &current, now)).await,
        )
    };
    assert!(report.status_written);
    assert_eq!(object.lock().unwrap()["status"]["desiredReplicas"], 3);
    fake.finish();
    support::assert_rbac_allows("ebb-controller", &fake.seen());
}

#[tokio::test]
async fn missing_metrics_show_unknown_and_the_upstream_condition_and_never_scale() {
    let fake = FakeApi::start().await;
    let object = Arc::new(Mutex::new(autoscaler(None)));
    fake.expect([
        no_hpas(),
        Exchange::get(SCALE).reply(200, scale(3, "100")),
        Exchange::get(PODS).reply(200, pods(3)),
        Exchange::get(POD_METRICS).reply(
            503,
            status_error(
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request (get pods.metrics.k8s.io)",
            ),
        ),
        event(
            "FailedGetResourceMetric",
            "failed to get cpu utilization: unable to get metrics for resource cpu",
        ),
        event(
            "FailedComputeMetricsReplicas",
            "invalid metrics (1 invalid out of 1), first error is: failed to get cpu utilization",
        ),
        status_patch(&object, |p| {
            let s = &p["status"];
            let active = &s["conditions"][1];
            let ok = s["targets"] == "cpu: <unknown>/50%"
                && s["currentMetrics"] == json!([{}])
                && active["type"] == "ScalingActive"
                && active["status"] == "False"
                && active["reason"] == "FailedGetResourceMetric"
                && active["message"].as_str().is_some_and(|m| {
                    m.starts_with("the HPA was unable to compute the replica count: ")
                });
            if ok {
                Ok(())
            } else {
                Err(format!("status {s}"))
            }
        }),
    ]);
    let (_lease, fence) = Fence::manual(true);
    let report = {
        let current = typed(&object.lock().unwrap().clone());
        checked(
            &fake,
            within(sync(&context(&fake, fence), &current, at(0))).await,
        )
    };
    assert_eq!(report.scaled_to, None);
    fake.finish();
    support::assert_rbac_allows("ebb-controller", &fake.seen());
}

#[tokio::test]
async fn losing_the_lease_mid_sync_stops_every_write() {
    let fake = FakeApi::start().await;
    let object = Arc::new(Mutex::new(autoscaler(None)));
    let now = at(0);
    let (lease, fence) = Fence::manual(true);
    // The lease is lost while the metrics are read: the scale-up that follows must not be
    // written, nor its event, nor the status. Nothing more is expected by the fake.
    fake.expect([
        no_hpas(),
        Exchange::get(SCALE).reply(200, scale(2, "100")),
        Exchange::get(PODS).reply(200, pods(2)),
        Exchange::get(POD_METRICS)
            .on_arrival(move || {
                lease.send_replace(false);
            })
            .reply(200, pod_metrics(2, "180m", now)),
    ]);
    let ctx = context(&fake, fence);
    let current = typed(&object.lock().unwrap().clone());
    let result = within(sync(&ctx, &current, now)).await;
    assert!(matches!(result, Err(Error::NotLeader)), "{result:?}");
    // A replica that is not the leader does not even read.
    let again = within(sync(&ctx, &current, at(15))).await;
    assert!(matches!(again, Err(Error::NotLeader)));
    fake.finish();
    assert_eq!(fake.seen().len(), 4, "no request after the lease was lost");
}

#[tokio::test]
async fn an_hpa_on_the_same_target_is_never_fought() {
    let fake = FakeApi::start().await;
    let object = Arc::new(Mutex::new(autoscaler(None)));
    let now = at(0);
    fake.expect([
        Exchange::get(HPAS).reply(200, json!({"items": [{
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web-hpa", "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "maxReplicas": 5}
        }]})),
        Exchange::get(SCALE).reply(200, scale(2, "100")),
        Exchange::get(PODS).reply(200, pods(2)),
        Exchange::get(POD_METRICS).reply(200, pod_metrics(2, "180m", now)),
        event("AmbiguousSelector", "pods by selector app=web are controlled by multiple HPAs: [default/web default/web-hpa (HorizontalPodAutoscaler)]"),
        event("FailedComputeMetricsReplicas", "pods by selector app=web are controlled by multiple HPAs"),
        status_patch(&object, |p| {
            let c = &p["status"]["conditions"][1];
            if c["reason"] == "AmbiguousSelector" && c["status"] == "False" { Ok(()) } else { Err(format!("{p}")) }
        }),
    ]);
    let (_lease, fence) = Fence::manual(true);
    let report = {
        let current = typed(&object.lock().unwrap().clone());
        checked(
            &fake,
            within(sync(&context(&fake, fence), &current, now)).await,
        )
    };
    assert_eq!(report.scaled_to, None);
    fake.finish();
    support::assert_rbac_allows("ebb-controller", &fake.seen());
    assert!(
        !fake
            .seen()
            .iter()
            .any(|s| s.method == "PATCH" && s.path().ends_with("/scale"))
    );
}

/// Scripts one sync with `replicas` pods at 20 % of their request against the 50 % target (a
/// proposal of 2): its reads, the scale write `write` expects (`None`: no write to `/scale` at
/// all) with its event, and the status write.
fn low_load(
    fake: &FakeApi,
    object: &Arc<Mutex<Value>>,
    replicas: usize,
    now: Instant,
    write: Option<i32>,
) {
    fake.expect([
        no_hpas(),
        Exchange::get(SCALE).reply(200, scale(replicas as i32, "100")),
        Exchange::get(PODS).reply(200, pods(replicas)),
        Exchange::get(POD_METRICS).reply(200, pod_metrics(replicas, "40m", now)),
    ]);
    if let Some(n) = write {
        fake.expect([
            scale_patch(n, "100"),
            event("SuccessfulRescale", "New size:"),
        ]);
    }
    fake.expect([status_patch(object, |_| Ok(()))]);
}

async fn run(
    fake: &FakeApi,
    ctx: &Context,
    object: &Arc<Mutex<Value>>,
    now: Instant,
) -> Option<i32> {
    let current = typed(&object.lock().unwrap().clone());
    checked(fake, within(sync(ctx, &current, now)).await).scaled_to
}

/// Runs the same sync in a continuing controller, a restarted one that reads the memory from
/// status, and a restarted one whose status lost its history; returns what each wrote.
async fn continuing_restarted_and_forgetful(
    behavior: Option<Value>,
    first: (usize, Option<i32>),
    second_at: i64,
    second_pods: usize,
    expected: (Option<i32>, Option<i32>),
) {
    let (_lease, fence) = Fence::manual(true);
    let a_fake = FakeApi::start().await;
    let a_object = Arc::new(Mutex::new(autoscaler(behavior)));
    let a = context(&a_fake, fence.clone());
    low_load(&a_fake, &a_object, first.0, at(0), first.1);
    assert_eq!(
        run(&a_fake, &a, &a_object, at(0)).await,
        first.1,
        "first sync"
    );
    let saved = a_object.lock().unwrap().clone();
    assert!(saved["status"]["history"]["recommendations"].is_array());

    low_load(&a_fake, &a_object, second_pods, at(second_at), expected.0);
    let continuing = run(&a_fake, &a, &a_object, at(second_at)).await;
    a_fake.finish();

    let b_fake = FakeApi::start().await;
    let b_object = Arc::new(Mutex::new(saved.clone()));
    low_load(&b_fake, &b_object, second_pods, at(second_at), expected.0);
    let restarted = run(
        &b_fake,
        &context(&b_fake, fence.clone()),
        &b_object,
        at(second_at),
    )
    .await;
    b_fake.finish();
    assert_eq!(
        restarted, continuing,
        "a restarted controller acts as if it never restarted"
    );
    assert_eq!(
        b_object.lock().unwrap()["status"]["history"],
        a_object.lock().unwrap()["status"]["history"],
        "and remembers the same"
    );

    // Without the history the answer differs: the check above can fail.
    let mut forgetful = saved;
    forgetful["status"]
        .as_object_mut()
        .unwrap()
        .remove("history");
    let c_fake = FakeApi::start().await;
    let c_object = Arc::new(Mutex::new(forgetful));
    low_load(&c_fake, &c_object, second_pods, at(second_at), expected.1);
    let without = run(&c_fake, &context(&c_fake, fence), &c_object, at(second_at)).await;
    c_fake.finish();
    assert_eq!((continuing, without), expected);
}

#[tokio::test]
async fn a_restart_does_not_block_a_scale_down_that_is_due() {
    // Legacy path, 5-minute scale-down window. At t0 the first sync remembers 4 (the current
    // count) and holds the proposal of 2; 310 s later both are out of the window: scale to 2.
    // A controller that forgot would remember 4 again and hold another 5 minutes.
    continuing_restarted_and_forgetful(None, (4, None), 310, 4, (Some(2), None)).await;
}

#[tokio::test]
async fn a_restart_does_not_hasten_a_paced_scale_down() {
    // Scale down at most 1 pod per minute, no window: at t0 4 → 3; 30 s later the proposal is
    // still 2 but the minute's budget is spent. A controller that forgot the scale event would
    // step down to 2 at once.
    let behavior = json!({"scaleDown": {"stabilizationWindowSeconds": 0,
                          "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}});
    continuing_restarted_and_forgetful(Some(behavior), (4, Some(3)), 30, 3, (None, Some(2))).await;
}

#[test]
fn the_rbac_check_refuses_what_deploy_does_not_grant() {
    let write_scale = support::Seen {
        method: "PATCH".into(),
        uri: SCALE.into(),
        content_type: Some(MERGE.into()),
        body: Value::Null,
    };
    assert_eq!(
        support::attributes("PATCH", SCALE),
        ("apps".into(), "deployments/scale".into(), "patch".into())
    );
    assert_eq!(
        support::attributes("GET", PODS),
        ("".into(), "pods".into(), "list".into())
    );
    // The gateway may not rescale anything.
    let refused =
        std::panic::catch_unwind(|| support::assert_rbac_allows("ebb-gateway", &[write_scale]));
    assert!(refused.is_err());
    // The controller may read the ConfigMap config-autoscaler, and no other.
    let get = |uri: &str| support::Seen {
        method: "GET".into(),
        uri: uri.into(),
        content_type: None,
        body: Value::Null,
    };
    let config = "/api/v1/namespaces/knative-serving/configmaps/config-autoscaler";
    support::assert_rbac_allows("ebb-controller", &[get(config)]);
    let other = "/api/v1/namespaces/knative-serving/configmaps/config-features";
    let refused =
        std::panic::catch_unwind(|| support::assert_rbac_allows("ebb-controller", &[get(other)]));
    assert!(refused.is_err());
}

#[tokio::test]
async fn an_invalid_spec_is_refused_with_what_to_fix_and_nothing_is_read_or_scaled() {
    let fake = FakeApi::start().await;
    let mut bad = autoscaler(None);
    bad["spec"]["minReplicas"] = json!(5);
    bad["spec"]["maxReplicas"] = json!(3);
    let object = Arc::new(Mutex::new(bad));
    fake.expect([
        event(
            "InvalidSpec",
            "the spec is invalid, nothing is scaled until it is fixed: spec.maxReplicas",
        ),
        status_patch(&object, |p| {
            let c = &p["status"]["conditions"][0];
            let ok = c["type"] == "ScalingActive"
                && c["status"] == "False"
                && c["reason"] == "InvalidSpec"
                && c["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("minReplicas"));
            if ok { Ok(()) } else { Err(format!("{p}")) }
        }),
    ]);
    let (_lease, fence) = Fence::manual(true);
    let report = {
        let current = typed(&object.lock().unwrap().clone());
        checked(
            &fake,
            within(sync(&context(&fake, fence), &current, at(0))).await,
        )
    };
    assert_eq!(report.scaled_to, None);
    fake.finish();
}

#[tokio::test]
async fn two_autoscalers_on_one_target_do_not_fight() {
    let fake = FakeApi::start().await;
    let object = Arc::new(Mutex::new(autoscaler(None)));
    let mut twin = autoscaler(None);
    twin["metadata"]["name"] = json!("web-2");
    twin["metadata"]["uid"] = json!("u-2");
    let (store, mut writer) = kube::runtime::reflector::store::<Autoscaler>();
    writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(typed(&twin)));
    writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(typed(
        &object.lock().unwrap().clone(),
    )));
    let now = at(0);
    fake.expect([
        no_hpas(),
        Exchange::get(SCALE).reply(200, scale(2, "100")),
        Exchange::get(PODS).reply(200, pods(2)),
        Exchange::get(POD_METRICS).reply(200, pod_metrics(2, "180m", now)),
        event("AmbiguousSelector", "pods by selector app=web are controlled by multiple HPAs: [default/web default/web-2 (Autoscaler)]"),
        event("FailedComputeMetricsReplicas", "pods by selector app=web"),
        status_patch(&object, |p| {
            let c = &p["status"]["conditions"][1];
            if c["reason"] == "AmbiguousSelector" { Ok(()) } else { Err(format!("{p}")) }
        }),
    ]);
    let (_lease, fence) = Fence::manual(true);
    let mut ctx = context(&fake, fence);
    ctx.autoscalers = Some(store);
    let report = {
        let current = typed(&object.lock().unwrap().clone());
        checked(&fake, within(sync(&ctx, &current, now)).await)
    };
    assert_eq!(report.scaled_to, None);
    fake.finish();
}
