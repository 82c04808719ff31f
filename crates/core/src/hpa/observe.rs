//! What an HPA sync reads from the cluster: the target's scale, its pods, and metric values.
//!
//! A driver fills an [`HpaObservation`] from wherever it gets data (the Kubernetes API,
//! local processes, a scenario file, the simulator). A source that failed carries its error, so
//! the engine reacts to outages exactly as upstream does.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::spec::CrossVersionObjectReference;
use crate::decision::ConditionStatus;
use crate::time::Instant;
use crate::units::Quantity;

/// The target's `/scale` subresource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scale {
    /// `spec.replicas`: what the HPA treats as the current count.
    pub spec_replicas: i32,
    /// `status.replicas`: pods that exist.
    pub status_replicas: i32,
    /// `status.selector`, the label selector of the target's pods.
    pub selector: String,
}

/// A pod's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodPhase {
    /// Not all containers started.
    Pending,
    /// Running.
    Running,
    /// Exited successfully.
    Succeeded,
    /// Exited with failure.
    Failed,
    /// Unknown.
    Unknown,
}

/// The pod's `Ready` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadyCondition {
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// When the status last changed.
    pub last_transition_time: Instant,
}

/// A container's resource requests.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// Container name.
    pub name: String,
    /// `resources.requests` (`cpu`, `memory`, ...).
    #[serde(default)]
    pub requests: BTreeMap<String, Quantity>,
    /// For init containers: `restartPolicy: Always` makes it a sidecar whose requests count.
    #[serde(default)]
    pub restart_always: bool,
}

/// A pod as the HPA sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    /// Pod name (metrics are matched by it).
    pub name: String,
    /// Phase.
    pub phase: PodPhase,
    /// The Ready condition, if the pod has one.
    pub ready: Option<ReadyCondition>,
    /// `status.startTime`.
    pub start_time: Option<Instant>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// Regular containers.
    pub containers: Vec<Container>,
    /// Init containers (only sidecars count toward requests).
    #[serde(default)]
    pub init_containers: Vec<Container>,
    /// Pod-level `spec.resources.requests` (feature PodLevelResources).
    #[serde(default)]
    pub pod_requests: BTreeMap<String, Quantity>,
}

/// Resource usage of one container in a metrics sample.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerUsage {
    /// Container name.
    pub name: String,
    /// `cpu`, `memory`, ... as quantities.
    pub usage: BTreeMap<String, Quantity>,
}

/// One pod's entry from `metrics.k8s.io` (PodMetrics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodResourceMetrics {
    /// Pod name.
    pub pod: String,
    /// End of the sample window.
    pub timestamp: Instant,
    /// Length of the sample window.
    pub window: Duration,
    /// Per-container usage.
    pub containers: Vec<ContainerUsage>,
}

/// One pod's value of a custom per-pod metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMetricValue {
    /// Pod name.
    pub pod: String,
    /// The value.
    pub value: Quantity,
    /// When it was sampled.
    pub timestamp: Instant,
    /// Sample window (60s when the adapter does not say).
    pub window: Duration,
}

/// A result from a metrics API: the values, or the error the API answered with.
pub type ApiResult<T> = Result<T, String>;

/// Values of a `Pods` metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodsMetricReading {
    /// Metric name.
    pub metric: String,
    /// Per-pod values, or the API error.
    pub values: ApiResult<Vec<PodMetricValue>>,
}

/// Value of an `Object` metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMetricReading {
    /// Metric name.
    pub metric: String,
    /// The object it describes (matched by kind and name).
    pub object: CrossVersionObjectReference,
    /// The value, or the API error.
    pub value: ApiResult<Quantity>,
}

/// Values of an `External` metric (one per matching series; the HPA sums them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMetricReading {
    /// Metric name.
    pub metric: String,
    /// Series values, or the API error.
    pub values: ApiResult<Vec<Quantity>>,
}

/// Everything one HPA sync reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaObservation {
    /// The time of the sync.
    pub now: Instant,
    /// The target's scale, or the error reading it.
    pub scale: ApiResult<Scale>,
    /// Pods matching the scale's selector.
    pub pods: Vec<Pod>,
    /// Other HPAs whose selectors also match these pods (upstream: AmbiguousSelector).
    #[serde(default)]
    pub other_hpas_selecting_pods: Vec<String>,
    /// `metrics.k8s.io` pod metrics, or the API error.
    pub resource_metrics: ApiResult<Vec<PodResourceMetrics>>,
    /// `custom.metrics.k8s.io` per-pod metrics.
    #[serde(default)]
    pub pods_metrics: Vec<PodsMetricReading>,
    /// `custom.metrics.k8s.io` object metrics.
    #[serde(default)]
    pub object_metrics: Vec<ObjectMetricReading>,
    /// `external.metrics.k8s.io` metrics.
    #[serde(default)]
    pub external_metrics: Vec<ExternalMetricReading>,
}

impl HpaObservation {
    /// An observation at `now` with a readable scale and nothing else.
    pub fn new(now: Instant, scale: Scale) -> Self {
        HpaObservation {
            now,
            scale: Ok(scale),
            pods: Vec::new(),
            other_hpas_selecting_pods: Vec::new(),
            resource_metrics: Ok(Vec::new()),
            pods_metrics: Vec::new(),
            object_metrics: Vec::new(),
            external_metrics: Vec::new(),
        }
    }
}
