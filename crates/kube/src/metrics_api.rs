//! The metrics APIs' response types (none of them is in k8s-openapi: they are aggregated APIs
//! without an OpenAPI spec) and their translation into what the HPA engine reads.
//!
//! - `metrics.k8s.io/v1beta1` `PodMetricsList` (metrics-server): Resource metrics;
//! - `custom.metrics.k8s.io/v1beta2` `MetricValueList` (prometheus-adapter, KEDA, ...): Pods and
//!   Object metrics;
//! - `external.metrics.k8s.io/v1beta1` `ExternalMetricValueList`: External metrics.

use std::collections::BTreeMap;
use std::time::Duration;

use ebb_core::Quantity;
use ebb_core::decision::ConditionStatus;
use ebb_core::hpa::observe::{
    Container, ContainerUsage, Pod as EnginePod, PodMetricValue, PodPhase, PodResourceMetrics,
    ReadyCondition,
};
use ebb_core::units::parse_duration;
use k8s_openapi::api::core::v1::{Container as KubeContainer, Pod, ResourceRequirements};
use serde::Deserialize;

use crate::clock;

/// The sample window upstream assumes when an adapter does not say.
const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// `PodMetricsList`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodMetricsList {
    /// One entry per pod.
    #[serde(default)]
    pub items: Vec<PodMetrics>,
}

/// `PodMetrics`.
#[derive(Debug, Clone, Deserialize)]
pub struct PodMetrics {
    /// Name and namespace.
    pub metadata: NameOnly,
    /// End of the sample window.
    pub timestamp: String,
    /// The window, e.g. `30s`.
    #[serde(default)]
    pub window: Option<String>,
    /// Per-container usage.
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
}

/// Only the name of an object.
#[derive(Debug, Clone, Deserialize)]
pub struct NameOnly {
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// `ContainerMetrics`.
#[derive(Debug, Clone, Deserialize)]
pub struct ContainerMetrics {
    /// Container name.
    pub name: String,
    /// `cpu`, `memory`, ... as quantities.
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

/// `MetricValueList` (custom.metrics.k8s.io/v1beta2).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetricValueList {
    /// Values.
    #[serde(default)]
    pub items: Vec<MetricValue>,
}

/// `MetricValue`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricValue {
    /// The object the value describes.
    pub described_object: DescribedObject,
    /// When it was sampled.
    pub timestamp: String,
    /// Sample window.
    #[serde(default)]
    pub window_seconds: Option<i64>,
    /// The value.
    pub value: String,
}

/// `describedObject` of a metric value.
#[derive(Debug, Clone, Deserialize)]
pub struct DescribedObject {
    /// Kind.
    #[serde(default)]
    pub kind: String,
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// `ExternalMetricValueList` (external.metrics.k8s.io/v1beta1).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExternalMetricValueList {
    /// One value per matching series.
    #[serde(default)]
    pub items: Vec<ExternalMetricValue>,
}

/// `ExternalMetricValue`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMetricValue {
    /// Metric name.
    #[serde(default)]
    pub metric_name: String,
    /// The value.
    pub value: String,
}

fn quantity(text: &str, what: &str) -> Result<Quantity, String> {
    text.parse()
        .map_err(|e| format!("{what}: {text:?} is not a quantity: {e}"))
}

fn time(text: &str, what: &str) -> Result<ebb_core::Instant, String> {
    clock::parse_rfc3339(text).ok_or_else(|| format!("{what}: {text:?} is not an RFC 3339 time"))
}

/// PodMetrics → the engine's samples. A pod with an unreadable entry is left out (upstream
/// treats it as a pod without a sample).
pub fn resource_samples(list: &PodMetricsList) -> Vec<PodResourceMetrics> {
    list.items
        .iter()
        .filter_map(|m| {
            let timestamp = time(&m.timestamp, "PodMetrics timestamp").ok()?;
            let window = match &m.window {
                Some(w) => parse_duration(w).ok()?,
                None => DEFAULT_WINDOW,
            };
            let containers = m
                .containers
                .iter()
                .map(|c| {
                    let usage = c
                        .usage
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), quantity(v, k).ok()?)))
                        .collect();
                    ContainerUsage {
                        name: c.name.clone(),
                        usage,
                    }
                })
                .collect();
            Some(PodResourceMetrics {
                pod: m.metadata.name.clone(),
                timestamp,
                window,
                containers,
            })
        })
        .collect()
}

/// Per-pod custom metric values.
pub fn pod_values(list: &MetricValueList) -> Result<Vec<PodMetricValue>, String> {
    list.items
        .iter()
        .map(|v| {
            Ok(PodMetricValue {
                pod: v.described_object.name.clone(),
                value: quantity(&v.value, "metric value")?,
                timestamp: time(&v.timestamp, "metric timestamp")?,
                window: v
                    .window_seconds
                    .and_then(|s| u64::try_from(s).ok())
                    .map_or(DEFAULT_WINDOW, Duration::from_secs),
            })
        })
        .collect()
}

/// The one value of an object metric (upstream takes the first item).
pub fn object_value(list: &MetricValueList) -> Result<Quantity, String> {
    let first = list
        .items
        .first()
        .ok_or_else(|| "no metrics returned from custom metrics API".to_string())?;
    quantity(&first.value, "metric value")
}

/// External metric series values (the engine sums them).
pub fn external_values(list: &ExternalMetricValueList) -> Result<Vec<Quantity>, String> {
    list.items
        .iter()
        .map(|v| quantity(&v.value, &v.metric_name))
        .collect()
}

/// Resource requests as quantities; one that does not parse (the API server refuses those) is
/// left out.
fn requests(resources: Option<&ResourceRequirements>) -> BTreeMap<String, Quantity> {
    resources
        .and_then(|r| r.requests.as_ref())
        .map(|req| {
            req.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.0.parse().ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn containers(list: &[KubeContainer]) -> Vec<Container> {
    list.iter()
        .map(|c| Container {
            name: c.name.clone(),
            requests: requests(c.resources.as_ref()),
            restart_always: c.restart_policy.as_deref() == Some("Always"),
        })
        .collect()
}

/// A Kubernetes pod as the HPA engine sees it.
pub fn engine_pod(pod: &Pod) -> EnginePod {
    let status = pod.status.as_ref();
    let phase = match status.and_then(|s| s.phase.as_deref()) {
        Some("Pending") => PodPhase::Pending,
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        _ => PodPhase::Unknown,
    };
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| ReadyCondition {
            status: match c.status.as_str() {
                "True" => ConditionStatus::True,
                "False" => ConditionStatus::False,
                _ => ConditionStatus::Unknown,
            },
            last_transition_time: c
                .last_transition_time
                .as_ref()
                .map_or(ebb_core::Instant::EPOCH, |t| clock::from_timestamp(t.0)),
        });
    let spec = pod.spec.as_ref();
    EnginePod {
        name: pod.metadata.name.clone().unwrap_or_default(),
        phase,
        ready,
        start_time: status
            .and_then(|s| s.start_time.as_ref())
            .map(|t| clock::from_timestamp(t.0)),
        deleting: pod.metadata.deletion_timestamp.is_some(),
        containers: spec.map(|s| containers(&s.containers)).unwrap_or_default(),
        init_containers: spec
            .and_then(|s| s.init_containers.as_deref())
            .map(containers)
            .unwrap_or_default(),
        pod_requests: requests(spec.and_then(|s| s.resources.as_ref())),
    }
}

/// Whether a pod counts as ready for the KPA (Running, Ready=True, not being deleted).
pub fn is_ready(pod: &Pod) -> bool {
    let p = engine_pod(pod);
    p.phase == PodPhase::Running
        && !p.deleting
        && p.ready.is_some_and(|r| r.status == ConditionStatus::True)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_metrics_become_samples() {
        let list: PodMetricsList = serde_json::from_value(json!({
            "kind": "PodMetricsList",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "items": [{
                "metadata": {"name": "web-1", "namespace": "default"},
                "timestamp": "2023-11-14T22:13:20Z",
                "window": "15s",
                "containers": [{"name": "app", "usage": {"cpu": "250m", "memory": "100Mi"}}]
            }, {
                "metadata": {"name": "broken"},
                "timestamp": "not a time",
                "containers": []
            }]
        }))
        .unwrap();
        let samples = resource_samples(&list);
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].pod, "web-1");
        assert_eq!(samples[0].window, Duration::from_secs(15));
        assert_eq!(samples[0].containers[0].usage["cpu"].milli_value(), 250);
    }

    #[test]
    fn custom_and_external_values() {
        let list: MetricValueList = serde_json::from_value(json!({"items": [{
            "describedObject": {"kind": "Pod", "name": "web-1", "apiVersion": "/v1"},
            "metric": {"name": "qps"},
            "timestamp": "2023-11-14T22:13:20Z",
            "value": "12500m"
        }]}))
        .unwrap();
        let v = pod_values(&list).unwrap();
        assert_eq!(
            (v[0].pod.as_str(), v[0].value.milli_value()),
            ("web-1", 12_500)
        );
        assert_eq!(v[0].window, DEFAULT_WINDOW);
        assert_eq!(object_value(&list).unwrap().milli_value(), 12_500);
        assert!(object_value(&MetricValueList::default()).is_err());

        let ext: ExternalMetricValueList = serde_json::from_value(json!({"items": [
            {"metricName": "queue", "metricLabels": {}, "timestamp": "2023-11-14T22:13:20Z", "value": "40"},
            {"metricName": "queue", "metricLabels": {}, "timestamp": "2023-11-14T22:13:20Z", "value": "2"}
        ]}))
        .unwrap();
        let values = external_values(&ext).unwrap();
        assert_eq!(
            values.iter().map(Quantity::milli_value).sum::<i64>(),
            42_000
        );
    }

    #[test]
    fn pods_keep_what_the_hpa_reads() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-1"},
            "spec": {
                "containers": [{"name": "app", "resources": {"requests": {"cpu": "200m"}}}],
                "initContainers": [{"name": "proxy", "restartPolicy": "Always",
                                    "resources": {"requests": {"cpu": "50m"}}}]
            },
            "status": {
                "phase": "Running",
                "startTime": "2023-11-14T22:00:00Z",
                "conditions": [{"type": "Ready", "status": "True",
                                "lastTransitionTime": "2023-11-14T22:00:30Z"}]
            }
        }))
        .unwrap();
        let p = engine_pod(&pod);
        assert_eq!(p.phase, PodPhase::Running);
        assert_eq!(p.containers[0].requests["cpu"].milli_value(), 200);
        assert!(p.init_containers[0].restart_always);
        assert_eq!(
            p.ready.map(|r| r.last_transition_time),
            clock::parse_rfc3339("2023-11-14T22:00:30Z")
        );
        assert!(is_ready(&pod));
    }
}
