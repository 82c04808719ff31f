//! The `Autoscaler` custom resource (`ebb.dev/v1alpha1`): its spec is exactly the normalized
//! autoscaler `ebb convert` prints ([`AutoscalerSpec`]); its status is what the HPA controller
//! writes, plus ebb's explanation of the last decision and the engine's memory, so a restarted
//! controller neither blocks nor hastens a scale-down.

use ebb_core::hpa::status::MetricStatus;
use ebb_manifest::kinds::autoscaler::AutoscalerSpec;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The spec of the `Autoscaler` resource: ebb's normalized autoscaler, field for field.
// Each printcolumn(...) repeats the keys name/type_/json_path, which clippy reads as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "ebb.dev",
    version = "v1alpha1",
    kind = "Autoscaler",
    namespaced,
    status = "AutoscalerStatus",
    shortname = "eas",
    category = "ebb",
    doc = "An ebb Autoscaler: HPA (class hpa) or Knative KPA (class kpa) semantics for one scalable workload.",
    printcolumn(
        name = "Reference",
        type_ = "string",
        json_path = ".status.reference",
        description = "Kind/name of the scaled workload"
    ),
    printcolumn(
        name = "Targets",
        type_ = "string",
        json_path = ".status.targets",
        description = "current/target of each metric, as kubectl get hpa shows them"
    ),
    printcolumn(
        name = "MinPods",
        type_ = "integer",
        json_path = ".status.minPods",
        description = "Lower replica bound in force"
    ),
    printcolumn(
        name = "MaxPods",
        type_ = "integer",
        json_path = ".status.maxPods",
        description = "Upper replica bound in force (0: none)"
    ),
    printcolumn(
        name = "Replicas",
        type_ = "integer",
        json_path = ".status.currentReplicas",
        description = "The target's spec.replicas at the last sync"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Class",
        type_ = "string",
        json_path = ".spec.class",
        priority = 1
    ),
    printcolumn(
        name = "Decision",
        type_ = "string",
        json_path = ".status.lastDecision.summary",
        priority = 1
    )
)]
#[serde(transparent)]
pub struct Spec(pub AutoscalerSpec);

/// `status` of an Autoscaler.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalerStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Kind/name` of the target (the REFERENCE column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Each metric's `current/target`, as `kubectl get hpa` prints them (the TARGETS column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<String>,
    /// The lower bound in force: `minReplicas` (class hpa) or `min-scale` (class kpa).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_pods: Option<i32>,
    /// The upper bound in force: `maxReplicas` or `max-scale` (0: unbounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pods: Option<i32>,
    /// The target's `spec.replicas` at the last sync.
    #[serde(default)]
    pub current_replicas: i32,
    /// What the autoscaler last decided.
    #[serde(default)]
    pub desired_replicas: i32,
    /// One entry per spec metric, in order; an empty entry for a metric that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub current_metrics: Vec<MetricStatus>,
    /// HPA conditions (AbleToScale, ScalingActive, ScalingLimited) or the KPA's Active.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<StatusCondition>,
    /// When the target was last rescaled (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<String>,
    /// ebb's explanation of the last decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_decision: Option<LastDecision>,
    /// The HPA engine's memory (class hpa).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<HpaHistory>,
    /// The KPA engine's memory (class kpa): the decider and the PodAutoscaler state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub kpa: Option<serde_json::Value>,
}

/// A condition as Kubernetes writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusCondition {
    /// Condition type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Upstream reason, CamelCase.
    #[serde(default)]
    pub reason: String,
    /// Upstream message.
    #[serde(default)]
    pub message: String,
    /// When `status` last changed (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// The last decision, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastDecision {
    /// When it was made (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub time: String,
    /// One line, as `ebb decide` prints it first.
    pub summary: String,
    /// Every step, as `ebb decide --explain` prints it.
    pub explanation: String,
}

/// The HPA's memory between syncs. Upstream keeps it in the controller's memory and loses it on
/// restart; ebb keeps it here.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HpaHistory {
    /// Past metric proposals (stabilization windows read them).
    #[serde(default)]
    pub recommendations: Vec<TimedReplicas>,
    /// Past scale-ups (rate policies read them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scale_up_events: Vec<ScaleEventRecord>,
    /// Past scale-downs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scale_down_events: Vec<ScaleEventRecord>,
}

/// A replica count at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimedReplicas {
    /// Replicas.
    pub replicas: i32,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub timestamp: String,
}

/// A past rescale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleEventRecord {
    /// Replicas added or removed (≥ 0).
    pub replica_change: i32,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub timestamp: String,
    /// Older than every policy period: kept for reuse, never counted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outdated: bool,
}

fn preserve_unknown_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true
    })
}
