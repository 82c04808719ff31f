//! The HorizontalPodAutoscaler spec as users write it (autoscaling/v2, and v1 converted to it),
//! its API-server defaulting (spec §2.1–2.2) and its API validation (spec §2.3).
//!
//! Field names and shapes follow the Kubernetes API exactly, so the same YAML a user applies to
//! a cluster deserializes here unchanged.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::units::Quantity;
use crate::validation::FieldError;

/// `scaleTargetRef` / `describedObject`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CrossVersionObjectReference {
    /// e.g. `apps/v1`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// e.g. `Deployment`.
    #[serde(default)]
    pub kind: String,
    /// Object name.
    #[serde(default)]
    pub name: String,
}

impl fmt::Display for CrossVersionObjectReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// A Kubernetes label selector.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Exact label matches.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One set-based selector requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: String,
    /// Values for In / NotIn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// Go's `%+v` rendering of a `*LabelSelector`, which upstream embeds in external metric names:
/// `nil`, or `&LabelSelector{MatchLabels:map[string]string{a: b,},MatchExpressions:[]LabelSelectorRequirement{},}`.
pub fn go_selector_string(selector: Option<&LabelSelector>) -> String {
    let Some(s) = selector else {
        return "nil".to_string();
    };
    let labels: String = s
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}: {v},"))
        .collect();
    let exprs: String = s
        .match_expressions
        .iter()
        .map(|e| {
            let values: String = e.values.iter().map(|v| format!("{v:?},")).collect();
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{},Values:[]string{{{values}}},}},",
                e.key, e.operator
            )
        })
        .collect();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )
}

/// The five metric source types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum MetricSourceType {
    /// CPU / memory of whole pods.
    Resource,
    /// CPU / memory of one container of each pod.
    ContainerResource,
    /// A custom metric per pod, averaged.
    Pods,
    /// A custom metric describing one Kubernetes object.
    Object,
    /// A metric from outside the cluster.
    External,
}

/// `Utilization`, `Value` or `AverageValue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum MetricTargetType {
    /// Percent of the pods' requests.
    Utilization,
    /// A total value.
    Value,
    /// A value per pod.
    AverageValue,
}

/// `target` of a metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MetricTarget {
    /// Which of the fields below matters.
    #[serde(rename = "type")]
    pub kind: MetricTargetType,
    /// Total value target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Quantity>,
    /// Per-pod value target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_value: Option<Quantity>,
    /// Percent of request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_utilization: Option<i32>,
}

impl MetricTarget {
    /// A utilization target of `percent`.
    pub fn utilization(percent: i32) -> Self {
        MetricTarget {
            kind: MetricTargetType::Utilization,
            value: None,
            average_value: None,
            average_utilization: Some(percent),
        }
    }
}

/// `resource` metric source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceMetricSource {
    /// `cpu`, `memory`, ...
    pub name: String,
    /// The target.
    pub target: MetricTarget,
}

/// `containerResource` metric source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContainerResourceMetricSource {
    /// `cpu`, `memory`, ...
    pub name: String,
    /// The container whose usage counts.
    pub container: String,
    /// The target.
    pub target: MetricTarget,
}

/// Name and optional selector of a custom or external metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MetricIdentifier {
    /// Metric name.
    pub name: String,
    /// Narrows the metric series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// `pods` metric source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PodsMetricSource {
    /// Which metric.
    pub metric: MetricIdentifier,
    /// The target (AverageValue).
    pub target: MetricTarget,
}

/// `object` metric source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ObjectMetricSource {
    /// The object the metric describes.
    pub described_object: CrossVersionObjectReference,
    /// Which metric.
    pub metric: MetricIdentifier,
    /// The target (Value or AverageValue).
    pub target: MetricTarget,
}

/// `external` metric source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExternalMetricSource {
    /// Which metric.
    pub metric: MetricIdentifier,
    /// The target (Value or AverageValue).
    pub target: MetricTarget,
}

/// One entry of `spec.metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MetricSpec {
    /// Which source field is used.
    #[serde(rename = "type")]
    pub kind: MetricSourceType,
    /// For `Resource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceMetricSource>,
    /// For `ContainerResource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_resource: Option<ContainerResourceMetricSource>,
    /// For `Pods`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<PodsMetricSource>,
    /// For `Object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectMetricSource>,
    /// For `External`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalMetricSource>,
}

impl MetricSpec {
    /// A `Resource` metric with a utilization target.
    pub fn resource_utilization(name: &str, percent: i32) -> Self {
        MetricSpec {
            kind: MetricSourceType::Resource,
            resource: Some(ResourceMetricSource {
                name: name.to_string(),
                target: MetricTarget::utilization(percent),
            }),
            container_resource: None,
            pods: None,
            object: None,
            external: None,
        }
    }
}

/// `Pods` or `Percent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ScalingPolicyType {
    /// An absolute number of pods per period.
    Pods,
    /// A percent of the pods at the period's start.
    Percent,
}

/// One rate policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ScalingPolicy {
    /// Pods or Percent.
    #[serde(rename = "type")]
    pub kind: ScalingPolicyType,
    /// How many pods / what percent.
    pub value: i32,
    /// Over how many seconds.
    pub period_seconds: i32,
}

impl fmt::Display for ScalingPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ScalingPolicyType::Pods => "Pods",
            ScalingPolicyType::Percent => "Percent",
        };
        write!(f, "{kind}={}/{}s", self.value, self.period_seconds)
    }
}

/// `Max`, `Min` or `Disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum SelectPolicy {
    /// The policy allowing the largest change.
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// `behavior.scaleUp` / `behavior.scaleDown` as written (every field optional).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ScalingRules {
    /// Stabilization window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<i32>,
    /// How policies combine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_policy: Option<SelectPolicy>,
    /// Rate policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<ScalingPolicy>>,
    /// Per-direction tolerance (KEP-4951).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Quantity>,
}

/// `spec.behavior` as written.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Behavior {
    /// Scale-up rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<ScalingRules>,
    /// Scale-down rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<ScalingRules>,
}

/// autoscaling/v2 `HorizontalPodAutoscalerSpec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaSpec {
    /// The workload to scale.
    pub scale_target_ref: CrossVersionObjectReference,
    /// Lower bound (defaults to 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// Upper bound.
    pub max_replicas: i32,
    /// Metrics (defaults to CPU at 80%).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricSpec>,
    /// Scaling behavior; absent means the legacy (v1) normalization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<Behavior>,
}

/// autoscaling/v1 `HorizontalPodAutoscalerSpec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaSpecV1 {
    /// The workload to scale.
    pub scale_target_ref: CrossVersionObjectReference,
    /// Lower bound (defaults to 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// Upper bound.
    pub max_replicas: i32,
    /// CPU target; absent means the API default (80%).
    #[serde(
        rename = "targetCPUUtilizationPercentage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub target_cpu_utilization_percentage: Option<i32>,
}

impl From<HpaSpecV1> for HpaSpec {
    /// v1 → v2 as the API server converts it: the CPU target becomes the one Resource metric.
    fn from(v1: HpaSpecV1) -> Self {
        HpaSpec {
            scale_target_ref: v1.scale_target_ref,
            min_replicas: v1.min_replicas,
            max_replicas: v1.max_replicas,
            metrics: v1
                .target_cpu_utilization_percentage
                .map(|p| vec![MetricSpec::resource_utilization("cpu", p)])
                .unwrap_or_default(),
            behavior: None,
        }
    }
}

/// The CPU target the API server fills in when `metrics` is empty.
pub const DEFAULT_CPU_UTILIZATION: i32 = 80;

/// One direction's rules after defaulting: every field has a value.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedRules {
    /// Stabilization window in seconds.
    pub stabilization_window_seconds: i32,
    /// How policies combine.
    pub select_policy: SelectPolicy,
    /// Rate policies (non-empty after validation).
    pub policies: Vec<ScalingPolicy>,
    /// Per-direction tolerance, if set.
    pub tolerance: Option<f64>,
}

impl ResolvedRules {
    /// The longest policy period, which bounds how long scale events matter.
    pub fn longest_period_seconds(&self) -> i32 {
        self.policies
            .iter()
            .map(|p| p.period_seconds)
            .max()
            .unwrap_or(0)
    }
}

/// `behavior` after API defaulting (§2.2) and the controller's scale-down window substitution.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedBehavior {
    /// Scale-up rules.
    pub scale_up: ResolvedRules,
    /// Scale-down rules.
    pub scale_down: ResolvedRules,
}

impl ResolvedBehavior {
    /// Fills every unset field from the upstream defaults. `downscale_window_seconds` is the
    /// controller's `--horizontal-pod-autoscaler-downscale-stabilization`, used when
    /// `scaleDown.stabilizationWindowSeconds` is unset.
    pub fn resolve(behavior: &Behavior, downscale_window_seconds: i32) -> Self {
        let up = behavior.scale_up.clone().unwrap_or_default();
        let down = behavior.scale_down.clone().unwrap_or_default();
        ResolvedBehavior {
            scale_up: ResolvedRules {
                stabilization_window_seconds: up.stabilization_window_seconds.unwrap_or(0),
                select_policy: up.select_policy.unwrap_or(SelectPolicy::Max),
                policies: up.policies.unwrap_or_else(|| {
                    vec![
                        ScalingPolicy {
                            kind: ScalingPolicyType::Pods,
                            value: 4,
                            period_seconds: 15,
                        },
                        ScalingPolicy {
                            kind: ScalingPolicyType::Percent,
                            value: 100,
                            period_seconds: 15,
                        },
                    ]
                }),
                tolerance: up.tolerance.map(|q| q.as_f64()),
            },
            scale_down: ResolvedRules {
                stabilization_window_seconds: down
                    .stabilization_window_seconds
                    .unwrap_or(downscale_window_seconds),
                select_policy: down.select_policy.unwrap_or(SelectPolicy::Max),
                policies: down.policies.unwrap_or_else(|| {
                    vec![ScalingPolicy {
                        kind: ScalingPolicyType::Percent,
                        value: 100,
                        period_seconds: 15,
                    }]
                }),
                tolerance: down.tolerance.map(|q| q.as_f64()),
            },
        }
    }
}

/// Which upstream feature gates validation treats as enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gates {
    /// `HPAScaleToZero`: allows `minReplicas: 0` (with an Object or External metric).
    pub scale_to_zero: bool,
    /// `HPAConfigurableTolerance`: allows `behavior.*.tolerance`.
    pub configurable_tolerance: bool,
}

impl Gates {
    /// Upstream defaults: both alpha gates off.
    pub const UPSTREAM: Gates = Gates {
        scale_to_zero: false,
        configurable_tolerance: false,
    };
    /// ebb's defaults: both on, because scaling to zero and per-direction tolerance are what
    /// users of an ML autoscaler ask for (docs/decide.md explains).
    pub const EBB: Gates = Gates {
        scale_to_zero: true,
        configurable_tolerance: true,
    };
}

impl Default for Gates {
    fn default() -> Self {
        Gates::EBB
    }
}

impl HpaSpec {
    /// `minReplicas` with its default.
    pub fn min(&self) -> i32 {
        self.min_replicas.unwrap_or(1)
    }

    /// `metrics` with its default (CPU at 80%) when empty.
    pub fn metrics_or_default(&self) -> Vec<MetricSpec> {
        if self.metrics.is_empty() {
            vec![MetricSpec::resource_utilization(
                "cpu",
                DEFAULT_CPU_UTILIZATION,
            )]
        } else {
            self.metrics.clone()
        }
    }

    /// Upstream API validation (§2.3). `prefix` is the path of this spec in its document,
    /// usually `spec`. Every violated rule is returned, not just the first.
    pub fn validate(&self, prefix: &str, gates: Gates) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let p = |field: &str| format!("{prefix}.{field}");

        // scaleTargetRef
        validate_object_ref(&self.scale_target_ref, &p("scaleTargetRef"), &mut errs);

        // min / max
        let min = self.min();
        let floor = if gates.scale_to_zero { 0 } else { 1 };
        if let Some(m) = self.min_replicas
            && m < floor
        {
            errs.push(FieldError::invalid(
                p("minReplicas"),
                m,
                format!("must be greater than or equal to {floor}"),
            ));
        }
        if self.max_replicas < 1 {
            errs.push(FieldError::invalid(
                p("maxReplicas"),
                self.max_replicas,
                "must be greater than 0",
            ));
        }
        if self.max_replicas < min {
            errs.push(FieldError::invalid(
                p("maxReplicas"),
                self.max_replicas,
                "must be greater than or equal to `minReplicas`",
            ));
        }

        // metrics
        let mut has_object_or_external = false;
        for (i, metric) in self.metrics.iter().enumerate() {
            let mp = format!("{prefix}.metrics[{i}]");
            if matches!(
                metric.kind,
                MetricSourceType::Object | MetricSourceType::External
            ) {
                has_object_or_external = true;
            }
            validate_metric(metric, &mp, &mut errs);
        }
        if self.min_replicas == Some(0) && gates.scale_to_zero && !has_object_or_external {
            errs.push(FieldError::forbidden(
                p("minReplicas"),
                "must specify at least one Object or External metric to support scaling to zero replicas",
            ));
        }

        // behavior
        if let Some(b) = &self.behavior {
            for (name, rules) in [("scaleUp", &b.scale_up), ("scaleDown", &b.scale_down)] {
                if let Some(r) = rules {
                    validate_rules(r, &format!("{prefix}.behavior.{name}"), gates, &mut errs);
                }
            }
        }
        errs
    }
}

fn validate_object_ref(r: &CrossVersionObjectReference, path: &str, errs: &mut Vec<FieldError>) {
    if r.kind.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.kind"),
            "kind is required",
        ));
    } else if !is_path_segment(&r.kind) {
        errs.push(FieldError::invalid(
            format!("{path}.kind"),
            &r.kind,
            "may not contain '/' or '%', and may not be '.' or '..'",
        ));
    }
    if r.name.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.name"),
            "name is required",
        ));
    } else if !is_path_segment(&r.name) {
        errs.push(FieldError::invalid(
            format!("{path}.name"),
            &r.name,
            "may not contain '/' or '%', and may not be '.' or '..'",
        ));
    }
}

/// Kubernetes `IsValidPathSegmentName`.
fn is_path_segment(s: &str) -> bool {
    s != "." && s != ".." && !s.contains('/') && !s.contains('%')
}

/// DNS-1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric, ≤ 63.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn validate_metric(m: &MetricSpec, path: &str, errs: &mut Vec<FieldError>) {
    let set = [
        (MetricSourceType::Resource, "resource", m.resource.is_some()),
        (
            MetricSourceType::ContainerResource,
            "containerResource",
            m.container_resource.is_some(),
        ),
        (MetricSourceType::Pods, "pods", m.pods.is_some()),
        (MetricSourceType::Object, "object", m.object.is_some()),
        (MetricSourceType::External, "external", m.external.is_some()),
    ];
    for (kind, field, present) in set {
        if kind == m.kind && !present {
            errs.push(FieldError::required(
                format!("{path}.{field}"),
                "must populate information for the given metric source",
            ));
        }
        if kind != m.kind && present {
            errs.push(FieldError::forbidden(
                format!("{path}.{field}"),
                "must populate the given metric source only",
            ));
        }
    }

    if let Some(r) = &m.resource {
        let rp = format!("{path}.resource");
        if r.name.is_empty() {
            errs.push(FieldError::required(
                format!("{rp}.name"),
                "must specify a resource name",
            ));
        }
        validate_resource_target(&r.target, &rp, errs);
    }
    if let Some(r) = &m.container_resource {
        let rp = format!("{path}.containerResource");
        if r.name.is_empty() {
            errs.push(FieldError::required(
                format!("{rp}.name"),
                "must specify a resource name",
            ));
        }
        if r.container.is_empty() {
            errs.push(FieldError::required(
                format!("{rp}.container"),
                "must specify a container",
            ));
        } else if !is_dns1123_label(&r.container) {
            errs.push(FieldError::invalid(
                format!("{rp}.container"),
                &r.container,
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            ));
        }
        validate_resource_target(&r.target, &rp, errs);
    }
    if let Some(s) = &m.pods {
        let sp = format!("{path}.pods");
        validate_identifier(&s.metric, &sp, errs);
        validate_target(&s.target, &sp, errs);
        if s.target.average_value.is_none() {
            errs.push(FieldError::required(
                format!("{sp}.target.averageValue"),
                "must specify a positive target averageValue",
            ));
        }
    }
    if let Some(s) = &m.object {
        let sp = format!("{path}.object");
        validate_object_ref(&s.described_object, &format!("{sp}.describedObject"), errs);
        validate_identifier(&s.metric, &sp, errs);
        validate_target(&s.target, &sp, errs);
        if s.target.value.is_none() && s.target.average_value.is_none() {
            errs.push(FieldError::required(
                format!("{sp}.target.averageValue"),
                "must set either a target value or averageValue",
            ));
        }
    }
    if let Some(s) = &m.external {
        let sp = format!("{path}.external");
        validate_identifier(&s.metric, &sp, errs);
        validate_target(&s.target, &sp, errs);
        match (&s.target.value, &s.target.average_value) {
            (None, None) => errs.push(FieldError::required(
                format!("{sp}.target.averageValue"),
                "must set either a target value for metric or a per-pod target",
            )),
            (Some(_), Some(_)) => errs.push(FieldError::forbidden(
                format!("{sp}.target.value"),
                "may not set both a target value for metric and a per-pod target",
            )),
            _ => {}
        }
    }
}

fn validate_identifier(id: &MetricIdentifier, path: &str, errs: &mut Vec<FieldError>) {
    if id.name.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.metric.name"),
            "must specify a metric name",
        ));
    } else if !is_path_segment(&id.name) {
        errs.push(FieldError::invalid(
            format!("{path}.metric.name"),
            &id.name,
            "may not contain '/' or '%', and may not be '.' or '..'",
        ));
    }
}

fn validate_target(t: &MetricTarget, path: &str, errs: &mut Vec<FieldError>) {
    let tp = format!("{path}.target");
    if let Some(v) = &t.value
        && !v.is_positive()
    {
        errs.push(FieldError::invalid(
            format!("{tp}.value"),
            v,
            "must be positive",
        ));
    }
    if let Some(v) = &t.average_value
        && !v.is_positive()
    {
        errs.push(FieldError::invalid(
            format!("{tp}.averageValue"),
            v,
            "must be positive",
        ));
    }
    if let Some(u) = t.average_utilization
        && u < 1
    {
        errs.push(FieldError::invalid(
            format!("{tp}.averageUtilization"),
            u,
            "must be greater than 0",
        ));
    }
}

fn validate_resource_target(t: &MetricTarget, path: &str, errs: &mut Vec<FieldError>) {
    validate_target(t, path, errs);
    let tp = format!("{path}.target");
    match (&t.average_value, t.average_utilization) {
        (Some(_), Some(_)) => errs.push(FieldError::forbidden(
            format!("{tp}.averageValue"),
            "may not set both a target raw value and a target utilization",
        )),
        (None, None) => errs.push(FieldError::required(
            format!("{tp}.averageUtilization"),
            "must set either a target raw value or a target utilization",
        )),
        _ => {}
    }
}

fn validate_rules(r: &ScalingRules, path: &str, gates: Gates, errs: &mut Vec<FieldError>) {
    if let Some(w) = r.stabilization_window_seconds {
        if w < 0 {
            errs.push(FieldError::invalid(
                format!("{path}.stabilizationWindowSeconds"),
                w,
                "must be greater than or equal to zero",
            ));
        } else if w > 3600 {
            errs.push(FieldError::invalid(
                format!("{path}.stabilizationWindowSeconds"),
                w,
                "must be less than or equal to 3600",
            ));
        }
    }
    match &r.policies {
        Some(p) if p.is_empty() => errs.push(FieldError::required(
            format!("{path}.policies"),
            "must specify at least one Policy",
        )),
        Some(policies) => {
            for (i, policy) in policies.iter().enumerate() {
                let pp = format!("{path}.policies[{i}]");
                if policy.value <= 0 {
                    errs.push(FieldError::invalid(
                        format!("{pp}.value"),
                        policy.value,
                        "must be greater than zero",
                    ));
                }
                if policy.period_seconds <= 0 {
                    errs.push(FieldError::invalid(
                        format!("{pp}.periodSeconds"),
                        policy.period_seconds,
                        "must be greater than zero",
                    ));
                } else if policy.period_seconds > 1800 {
                    errs.push(FieldError::invalid(
                        format!("{pp}.periodSeconds"),
                        policy.period_seconds,
                        "must be less than or equal to 1800",
                    ));
                }
            }
        }
        None => {}
    }
    if let Some(t) = &r.tolerance {
        if !gates.configurable_tolerance {
            errs.push(FieldError::forbidden(
                format!("{path}.tolerance"),
                "tolerance is not supported when the HPAConfigurableTolerance feature gate is disabled",
            ));
        } else if t.milli_value() < 0 {
            errs.push(FieldError::invalid(
                format!("{path}.tolerance"),
                t,
                "must be greater than or equal to 0",
            ));
        }
    }
}
