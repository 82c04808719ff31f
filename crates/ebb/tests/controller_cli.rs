//! `ebb controller` as a user runs it, against a fake API server on 127.0.0.1 (the one of
//! `crates/kube/tests/support`; not a real API server, which cannot run here): it checks that
//! the CRD is installed, watches Autoscalers, scales one through `/scale`, and stops cleanly on
//! SIGTERM.
#![cfg(feature = "k8s")]

#[path = "../../kube/tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use support::{FakeApi, merge_patch};

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = tokio::time::Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn pods(n: usize) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| json!({
            "metadata": {"name": format!("web-{i}"), "namespace": "default"},
            "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "200m"}}}]},
            "status": {"phase": "Running", "startTime": "2020-01-01T00:00:00Z",
                       "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:30Z"}]}
        }))
        .collect();
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_scales_a_deployment_and_stops_on_sigterm() {
    let fake = FakeApi::start().await;
    fake.hang_watches();
    let object = Arc::new(Mutex::new(json!({
        "apiVersion": "ebb.dev/v1alpha1", "kind": "Autoscaler",
        "metadata": {"name": "web", "namespace": "default", "uid": "u-9", "resourceVersion": "7", "generation": 1},
        "spec": {"class": "hpa", "minReplicas": 1, "maxReplicas": 10,
                 "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                              "target": {"type": "Utilization", "averageUtilization": 50}}}]}
    })));
    let o = object.clone();
    fake.always(
        "GET",
        "/apis/ebb.dev/v1alpha1/namespaces/default/autoscalers",
        move |_| {
            (
                200,
                json!({"apiVersion": "ebb.dev/v1alpha1", "kind": "AutoscalerList",
                     "metadata": {"resourceVersion": "7"}, "items": [o.lock().unwrap().clone()]}),
            )
        },
    );
    fake.always("GET", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", |_| {
        (200, json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscalerList", "metadata": {}, "items": []}))
    });
    let replicas = Arc::new(Mutex::new(2));
    let r = replicas.clone();
    fake.always(
        "GET",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
        move |_| {
            let n = *r.lock().unwrap();
            (
                200,
                json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
                     "metadata": {"name": "web", "namespace": "default", "resourceVersion": "100"},
                     "spec": {"replicas": n}, "status": {"replicas": n, "selector": "app=web"}}),
            )
        },
    );
    let r = replicas.clone();
    fake.always(
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
        move |body| {
            *r.lock().unwrap() = body["spec"]["replicas"].as_i64().unwrap_or(0) as i32;
            (200, body.clone())
        },
    );
    fake.always("GET", "/api/v1/namespaces/default/pods", |_| (200, pods(2)));
    // Knative's cluster defaults, read by default from knative-serving/config-autoscaler.
    fake.always(
        "GET",
        "/api/v1/namespaces/knative-serving/configmaps/config-autoscaler",
        |_| {
            (
                200,
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "config-autoscaler", "namespace": "knative-serving"},
                       "data": {"stable-window": "90s"}}),
            )
        },
    );
    fake.always("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", |_| {
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let items: Vec<Value> = (0..2)
            .map(|i| json!({"metadata": {"name": format!("web-{i}")}, "timestamp": now, "window": "30s",
                            "containers": [{"name": "app", "usage": {"cpu": "180m"}}]}))
            .collect();
        (200, json!({"kind": "PodMetricsList", "items": items}))
    });
    fake.always(
        "POST",
        "/apis/events.k8s.io/v1/namespaces/default/events",
        |b| (201, b.clone()),
    );
    let o = object.clone();
    fake.always(
        "PATCH",
        "/apis/ebb.dev/v1alpha1/namespaces/default/autoscalers/web/status",
        move |p| {
            let mut o = o.lock().unwrap();
            merge_patch(&mut o, &json!({"status": p["status"].clone()}));
            (200, o.clone())
        },
    );

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: me\n  user: {{}}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: me, namespace: default}}\ncurrent-context: fake\n",
            fake.url()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ebb"))
        .args([
            "controller",
            "--namespace",
            "default",
            "--gateways-from",
            "",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let scaled = wait_until(Duration::from_secs(60), || *replicas.lock().unwrap() == 4).await;
    let pid = rustix::process::Pid::from_child(&child);
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let mut status = None;
    let stopped = wait_until(Duration::from_secs(30), || {
        status = child.try_wait().unwrap();
        status.is_some()
    })
    .await;
    if !stopped {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(scaled, "the controller never scaled web to 4:\n{log}");
    assert!(
        log.contains("Autoscaler defaults from ConfigMap knative-serving/config-autoscaler"),
        "{log}"
    );
    assert!(
        stopped,
        "the controller did not stop within 30 s of SIGTERM:\n{log}"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?}:\n{log}"
    );
    let seen = fake.seen();
    let patch = seen
        .iter()
        .find(|s| s.method == "PATCH" && s.path().ends_with("/scale"))
        .unwrap();
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        patch.body,
        json!({"metadata": {"resourceVersion": "100"}, "spec": {"replicas": 4}})
    );
    assert!(
        seen.iter().any(|s| s.uri.contains("watch=true")),
        "it watches Autoscalers"
    );
    assert_eq!(object.lock().unwrap()["status"]["desiredReplicas"], 4);
    support::assert_rbac_allows("ebb-controller", &seen);
}
