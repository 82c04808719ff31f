//! Class kpa against a fake API server and a fake gateway (see `support`): a request held by
//! the gateway while the target is at zero makes the controller scale it up, through a merge
//! patch of `/scale`, with an event and the KPA's memory in status.

mod support;

use std::sync::{Arc, Mutex};

use ebb_core::time::Instant;
use ebb_kube::api::Cluster;
use ebb_kube::clock;
use ebb_kube::crd::Autoscaler;
use ebb_kube::gateway_stats::GatewayStats;
use ebb_kube::knative_config;
use ebb_kube::leader::Fence;
use ebb_kube::sync::{Context, sync};
use serde_json::{Value, json};
use support::{FakeApi, merge_patch};

const SCALE: &str = "/apis/apps/v1/namespaces/default/deployments/sentiment-predictor/scale";

fn at(seconds: i64) -> Instant {
    let t0 = clock::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
    Instant::from_nanos(t0.as_nanos() + seconds * 1_000_000_000)
}

/// What a class-kpa Autoscaler did over 8 one-second syncs while the gateway held a request
/// from the second second on: the (second, count) of the first rescale, the requests the API
/// server saw, and the object with its status. `hpa` puts a built-in HPA on the same target;
/// `config_autoscaler` is the `data` of the cluster's `knative-serving/config-autoscaler`, read
/// as the controller reads it before its first sync.
async fn held_at_zero(
    hpa: bool,
    config_autoscaler: Option<Value>,
) -> (Option<(i64, i32)>, Vec<support::Seen>, Value, i32) {
    let api = FakeApi::start().await;
    let hpas: Vec<Value> = if hpa {
        vec![
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                    "metadata": {"name": "sentiment-hpa", "namespace": "default"},
                    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sentiment-predictor"},
                             "maxReplicas": 3}}),
        ]
    } else {
        Vec::new()
    };
    api.always("GET", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", move |_| {
        (200, json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscalerList", "metadata": {}, "items": hpas.clone()}))
    });
    let gateway = FakeApi::start().await;
    let object = Arc::new(Mutex::new(json!({
        "apiVersion": "ebb.dev/v1alpha1", "kind": "Autoscaler",
        "metadata": {"name": "sentiment", "namespace": "default", "uid": "u-3", "resourceVersion": "1", "generation": 1},
        "spec": {"class": "kpa", "kpa": {"minScale": 0, "target": 1.0},
                 "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sentiment-predictor"}}
    })));
    let replicas = Arc::new(Mutex::new(0));
    let r = replicas.clone();
    api.always("GET", SCALE, move |_| {
        let n = *r.lock().unwrap();
        (200, json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
                     "metadata": {"name": "sentiment-predictor", "resourceVersion": format!("{}", 10 + n)},
                     "spec": {"replicas": n}, "status": {"replicas": n, "selector": "app=sentiment"}}))
    });
    let r = replicas.clone();
    api.always("PATCH", SCALE, move |body| {
        let mut n = r.lock().unwrap();
        if body["metadata"]["resourceVersion"] != json!(format!("{}", 10 + *n)) {
            return (409, support::status_error(409, "Conflict", "modified"));
        }
        *n = body["spec"]["replicas"].as_i64().unwrap() as i32;
        (200, json!({"spec": {"replicas": *n}}))
    });
    api.always("GET", "/api/v1/namespaces/default/pods", |_| {
        (
            200,
            json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": []}),
        )
    });
    api.always(
        "POST",
        "/apis/events.k8s.io/v1/namespaces/default/events",
        |b| (201, b.clone()),
    );
    let o = object.clone();
    api.always(
        "PATCH",
        "/apis/ebb.dev/v1alpha1/namespaces/default/autoscalers/sentiment/status",
        move |p| {
            let mut o = o.lock().unwrap();
            merge_patch(&mut o, &json!({"status": p["status"].clone()}));
            (200, o.clone())
        },
    );
    // The gateway holds one request from the second second on.
    let held = Arc::new(Mutex::new((0u64, 0.0f64, 0u64)));
    let h = held.clone();
    gateway.always("GET", "/ebb/v1/stats/default/sentiment", move |_| {
        let (requests, concurrency_seconds, held) = *h.lock().unwrap();
        (200, json!({"requests": requests, "concurrencySeconds": concurrency_seconds, "inFlight": held, "held": held}))
    });

    let (_lease, fence) = Fence::manual(true);
    let mut ctx = Context::new(Cluster::new(api.client()), fence, "ebb-controller-0");
    ctx.gateways = GatewayStats {
        gateways: vec![gateway.url()],
        discover: None,
    };
    if let Some(data) = config_autoscaler {
        api.always(
            "GET",
            "/api/v1/namespaces/knative-serving/configmaps/config-autoscaler",
            move |_| {
                (200, json!({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "config-autoscaler", "namespace": "knative-serving"},
                             "data": data.clone()}))
            },
        );
        let line =
            knative_config::refresh(&ctx, &knative_config::Source::default(), &mut None).await;
        assert!(
            line.is_some_and(|l| l.contains("from ConfigMap knative-serving/config-autoscaler")),
            "the ConfigMap is read"
        );
    }
    let mut scaled = None;
    for second in 0..8 {
        if second == 2 {
            *held.lock().unwrap() = (1, 0.0, 1);
        } else if second > 2 {
            let mut h = held.lock().unwrap();
            h.1 += 1.0; // one request in flight all along
        }
        let current: Autoscaler = serde_json::from_value(object.lock().unwrap().clone()).unwrap();
        let report = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            sync(&ctx, &current, at(second)),
        )
        .await
        .expect("sync finished")
        .expect("sync succeeded");
        if let Some(n) = report.scaled_to {
            scaled = Some((second, n));
            break;
        }
    }
    let n = *replicas.lock().unwrap();
    let status = object.lock().unwrap().clone();
    (scaled, api.seen(), status, n)
}

#[tokio::test]
async fn a_request_held_at_zero_scales_the_target_up() {
    let (scaled, seen, object, replicas) = held_at_zero(false, None).await;
    let (second, n) = scaled.expect("the held request never scaled the target up");
    assert!(
        second >= 2,
        "scaled before any request came (second {second})"
    );
    assert!(n >= 1);
    assert_eq!(replicas, n);
    let patch = seen
        .iter()
        .find(|s| s.method == "PATCH" && s.path().ends_with("/scale"))
        .unwrap();
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(patch.body["spec"]["replicas"], n);
    let event = seen.iter().find(|s| s.method == "POST").expect("an event");
    assert_eq!(event.body["reason"], "SuccessfulRescale");
    let status = &object["status"];
    assert!(
        status["kpa"]["pa"].is_object(),
        "the KPA memory is kept in status: {status}"
    );
    assert_eq!(status["reference"], "Deployment/sentiment-predictor");
    support::assert_rbac_allows("ebb-controller", &seen);
}

#[tokio::test]
async fn the_clusters_config_autoscaler_reaches_the_kpa() {
    // Scale to zero turned off cluster-wide: the target comes up at once, before any request.
    let config = json!({"enable-scale-to-zero": "false"});
    let (scaled, seen, _, replicas) = held_at_zero(false, Some(config)).await;
    assert_eq!(scaled, Some((0, 1)));
    assert_eq!(replicas, 1);
    support::assert_rbac_allows("ebb-controller", &seen);
}

#[tokio::test]
async fn a_built_in_hpa_on_the_target_is_never_fought() {
    let (scaled, seen, _, replicas) = held_at_zero(true, None).await;
    assert_eq!(scaled, None);
    assert_eq!(replicas, 0);
    assert!(
        !seen
            .iter()
            .any(|s| s.method == "PATCH" && s.path().ends_with("/scale"))
    );
    let warning = seen
        .iter()
        .find(|s| s.method == "POST" && s.body["reason"] == "AmbiguousSelector")
        .expect("a warning event");
    assert!(
        warning.body["note"]
            .as_str()
            .unwrap()
            .contains("default/sentiment-hpa (HorizontalPodAutoscaler)"),
        "{}",
        warning.body
    );
}
