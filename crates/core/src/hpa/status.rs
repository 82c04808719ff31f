//! The HPA status as the controller writes it (spec §2.4) and as kubectl presents it (§9).

use serde::{Deserialize, Serialize};

use super::spec::{
    CrossVersionObjectReference, MetricIdentifier, MetricSourceType, MetricSpec, MetricTarget,
};
use crate::decision::{Condition, ConditionStatus};
use crate::time::Instant;
use crate::units::Quantity;

/// `current` of a metric status.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MetricValueStatus {
    /// Total value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Quantity>,
    /// Per-pod value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_value: Option<Quantity>,
    /// Percent of request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average_utilization: Option<i32>,
}

/// Status of a `resource` metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceMetricStatus {
    /// Resource name.
    pub name: String,
    /// Current value.
    pub current: MetricValueStatus,
}

/// Status of a `containerResource` metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContainerResourceMetricStatus {
    /// Resource name.
    pub name: String,
    /// Container name.
    pub container: String,
    /// Current value.
    pub current: MetricValueStatus,
}

/// Status of a `pods` or `external` metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NamedMetricStatus {
    /// Which metric.
    pub metric: MetricIdentifier,
    /// Current value.
    pub current: MetricValueStatus,
}

/// Status of an `object` metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ObjectMetricStatus {
    /// Which metric.
    pub metric: MetricIdentifier,
    /// Current value.
    pub current: MetricValueStatus,
    /// The object it describes.
    pub described_object: CrossVersionObjectReference,
}

/// One entry of `status.currentMetrics`. A metric that failed has an empty entry, which kubectl
/// shows as `<unknown>`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MetricStatus {
    /// Source type (absent for a failed metric).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MetricSourceType>,
    /// For Resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceMetricStatus>,
    /// For ContainerResource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_resource: Option<ContainerResourceMetricStatus>,
    /// For Pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<NamedMetricStatus>,
    /// For Object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectMetricStatus>,
    /// For External.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<NamedMetricStatus>,
}

/// A condition with the time its status last flipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusCondition {
    /// Condition type.
    #[serde(rename = "type")]
    pub kind: String,
    /// True / False / Unknown.
    pub status: String,
    /// Upstream reason.
    pub reason: String,
    /// Upstream message.
    pub message: String,
    /// When `status` last changed.
    pub last_transition_time: Instant,
}

/// `status` of a HorizontalPodAutoscaler.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaStatus {
    /// The target's spec.replicas at the last sync.
    pub current_replicas: i32,
    /// What the HPA last decided.
    pub desired_replicas: i32,
    /// One entry per spec metric, in order.
    #[serde(default)]
    pub current_metrics: Vec<MetricStatus>,
    /// Conditions in first-insertion order.
    #[serde(default)]
    pub conditions: Vec<StatusCondition>,
    /// Set when a rescale succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<Instant>,
}

impl HpaStatus {
    /// Upstream `setCondition`: update in place (the transition time moves only when the status
    /// flips) or append.
    pub fn set_condition(&mut self, c: Condition, now: Instant) {
        let status = c.status.to_string();
        match self.conditions.iter_mut().find(|x| x.kind == c.kind) {
            Some(existing) => {
                if existing.status != status {
                    existing.last_transition_time = now;
                }
                existing.status = status;
                existing.reason = c.reason;
                existing.message = c.message;
            }
            None => self.conditions.push(StatusCondition {
                kind: c.kind,
                status,
                reason: c.reason,
                message: c.message,
                last_transition_time: now,
            }),
        }
    }

    /// autoscaling/v1's `currentCPUUtilizationPercentage`: the utilization of the first
    /// `cpu` Resource metric, when it was computed.
    pub fn current_cpu_utilization_percentage(&self) -> Option<i32> {
        self.current_metrics
            .iter()
            .filter_map(|m| m.resource.as_ref())
            .find(|r| r.name == "cpu")
            .and_then(|r| r.current.average_utilization)
    }

    /// The conditions without their times.
    pub fn conditions(&self) -> Vec<Condition> {
        self.conditions
            .iter()
            .map(|c| Condition {
                kind: c.kind.clone(),
                status: match c.status.as_str() {
                    "True" => ConditionStatus::True,
                    "False" => ConditionStatus::False,
                    _ => ConditionStatus::Unknown,
                },
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
            .collect()
    }
}

const UNKNOWN: &str = "<unknown>";

fn q(v: Option<&Quantity>) -> Option<String> {
    v.map(ToString::to_string)
}

/// One metric's `current/target` as `kubectl get hpa` prints it (spec §9.1).
pub fn target_cell(spec: &MetricSpec, status: Option<&MetricStatus>) -> String {
    let or_unknown = |v: Option<String>| v.unwrap_or_else(|| UNKNOWN.to_string());
    match spec.kind {
        MetricSourceType::External => {
            let Some(s) = &spec.external else {
                return "<unknown type>".into();
            };
            let current = status
                .and_then(|st| st.external.as_ref())
                .map(|e| &e.current);
            match &s.target.average_value {
                Some(avg) => format!(
                    "{}/{avg} (avg)",
                    or_unknown(q(current.and_then(|c| c.average_value.as_ref())))
                ),
                None => format!(
                    "{}/{}",
                    or_unknown(q(current.and_then(|c| c.value.as_ref()))),
                    or_unknown(q(s.target.value.as_ref()))
                ),
            }
        }
        MetricSourceType::Pods => {
            let Some(s) = &spec.pods else {
                return "<unknown type>".into();
            };
            let current = status
                .and_then(|st| st.pods.as_ref())
                .and_then(|p| p.current.average_value.as_ref());
            format!(
                "{}/{}",
                or_unknown(q(current)),
                or_unknown(q(s.target.average_value.as_ref()))
            )
        }
        MetricSourceType::Object => {
            let Some(s) = &spec.object else {
                return "<unknown type>".into();
            };
            let current = status.and_then(|st| st.object.as_ref()).map(|o| &o.current);
            match &s.target.average_value {
                Some(avg) => format!(
                    "{}/{avg} (avg)",
                    or_unknown(q(current.and_then(|c| c.average_value.as_ref())))
                ),
                None => format!(
                    "{}/{}",
                    or_unknown(q(current.and_then(|c| c.value.as_ref()))),
                    or_unknown(q(s.target.value.as_ref()))
                ),
            }
        }
        MetricSourceType::Resource | MetricSourceType::ContainerResource => {
            let (name, target, current) = match (&spec.resource, &spec.container_resource) {
                (Some(r), _) if spec.kind == MetricSourceType::Resource => (
                    &r.name,
                    &r.target,
                    status
                        .and_then(|st| st.resource.as_ref())
                        .map(|x| &x.current),
                ),
                (_, Some(r)) if spec.kind == MetricSourceType::ContainerResource => (
                    &r.name,
                    &r.target,
                    status
                        .and_then(|st| st.container_resource.as_ref())
                        .map(|x| &x.current),
                ),
                _ => return "<unknown type>".into(),
            };
            match &target.average_value {
                Some(avg) => format!(
                    "{name}: {}/{avg}",
                    or_unknown(q(current.and_then(|c| c.average_value.as_ref())))
                ),
                None => {
                    let cur = current
                        .and_then(|c| c.average_utilization)
                        .map(|u| format!("{u}%"));
                    let tgt = target
                        .average_utilization
                        .map_or_else(|| "<auto>".to_string(), |u| format!("{u}%"));
                    format!("{name}: {}/{tgt}", or_unknown(cur))
                }
            }
        }
    }
}

/// The TARGETS column of `kubectl get hpa`: at most two metrics, then `+ N more...`.
pub fn targets_column(metrics: &[MetricSpec], status: &[MetricStatus]) -> String {
    if metrics.is_empty() {
        return "<none>".to_string();
    }
    let cells: Vec<String> = metrics
        .iter()
        .enumerate()
        .map(|(i, m)| target_cell(m, status.get(i)))
        .collect();
    if cells.len() > 2 {
        format!("{} + {} more...", cells[..2].join(", "), cells.len() - 2)
    } else {
        cells.join(", ")
    }
}

/// For an Object or External metric: which kind of target it has, and "current / target"
/// in that kind (kubectl describe's wording).
fn value_or_average(
    target: &MetricTarget,
    current: Option<&MetricValueStatus>,
) -> (&'static str, String) {
    let (kind, cur, tgt) = match &target.average_value {
        Some(avg) => (
            "target average value",
            current.and_then(|c| c.average_value.as_ref()),
            Some(avg),
        ),
        None => (
            "target value",
            current.and_then(|c| c.value.as_ref()),
            target.value.as_ref(),
        ),
    };
    let values = format!(
        "{} / {}",
        q(cur).as_deref().unwrap_or(UNKNOWN),
        q(tgt).as_deref().unwrap_or(UNKNOWN)
    );
    (kind, values)
}

/// The Metrics block of `kubectl describe hpa` (spec §9.2): `(label, "current / target")`.
pub fn describe_metrics(metrics: &[MetricSpec], status: &[MetricStatus]) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for (i, spec) in metrics.iter().enumerate() {
        let st = status.get(i);
        let unknown = || UNKNOWN.to_string();
        match spec.kind {
            MetricSourceType::Resource | MetricSourceType::ContainerResource => {
                let (name, container, target, current) =
                    match (&spec.resource, &spec.container_resource) {
                        (Some(r), _) if spec.kind == MetricSourceType::Resource => (
                            &r.name,
                            None,
                            &r.target,
                            st.and_then(|s| s.resource.as_ref()).map(|x| &x.current),
                        ),
                        (_, Some(r)) => (
                            &r.name,
                            Some(&r.container),
                            &r.target,
                            st.and_then(|s| s.container_resource.as_ref())
                                .map(|x| &x.current),
                        ),
                        _ => continue,
                    };
                let on = match container {
                    Some(c) => format!("resource {name} of container \"{c}\" on pods"),
                    None => format!("resource {name} on pods"),
                };
                match (&target.average_value, target.average_utilization) {
                    (Some(avg), _) => {
                        let cur = q(current.and_then(|c| c.average_value.as_ref()))
                            .unwrap_or_else(unknown);
                        rows.push((format!("{on}:"), format!("{cur} / {avg}")));
                    }
                    (None, Some(u)) => {
                        let cur = match current.and_then(|c| {
                            c.average_utilization.map(|p| (p, c.average_value.as_ref()))
                        }) {
                            Some((p, Some(raw))) => format!("{p}% ({raw})"),
                            Some((p, None)) => format!("{p}%"),
                            None => unknown(),
                        };
                        rows.push((
                            format!("{on}  (as a percentage of request):"),
                            format!("{cur} / {u}%"),
                        ));
                    }
                    (None, None) => {}
                }
            }
            MetricSourceType::Pods => {
                let Some(s) = &spec.pods else { continue };
                let cur = q(st
                    .and_then(|x| x.pods.as_ref())
                    .and_then(|p| p.current.average_value.as_ref()))
                .unwrap_or_else(unknown);
                let tgt = q(s.target.average_value.as_ref()).unwrap_or_else(unknown);
                rows.push((
                    format!("\"{}\" on pods:", s.metric.name),
                    format!("{cur} / {tgt}"),
                ));
            }
            MetricSourceType::Object => {
                let Some(s) = &spec.object else { continue };
                let current = st.and_then(|x| x.object.as_ref()).map(|o| &o.current);
                let obj = &s.described_object;
                let (kind, values) = value_or_average(&s.target, current);
                rows.push((
                    format!(
                        "\"{}\" on {}/{} ({kind}):",
                        s.metric.name, obj.kind, obj.name
                    ),
                    values,
                ));
            }
            MetricSourceType::External => {
                let Some(s) = &spec.external else { continue };
                let current = st.and_then(|x| x.external.as_ref()).map(|o| &o.current);
                let (kind, values) = value_or_average(&s.target, current);
                rows.push((format!("\"{}\" ({kind}):", s.metric.name), values));
            }
        }
    }
    rows
}
