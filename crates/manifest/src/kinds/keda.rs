//! keda.sh/v1alpha1 ScaledObject: KEDA's validation webhook and scaler metadata rules, and the
//! reading of each supported trigger (cpu, memory, prometheus, cron) into the HPA metric KEDA
//! would generate for it.

use std::collections::{BTreeMap, BTreeSet};

use ebb_core::Quantity;
use ebb_core::hpa::spec::{
    Behavior, ContainerResourceMetricSource, ExternalMetricSource, LabelSelector, MetricIdentifier,
    MetricSourceType, MetricSpec, MetricTarget, MetricTargetType, ResourceMetricSource,
};
use ebb_core::units::QuantityFormat;
use serde::{Deserialize, Serialize};

use super::autoscaler::{CronSchedule, ExternalMetric, PrometheusQuery};
use super::meta::{Object, quoted};
use crate::diagnostic::{Issue, Issues};

/// keda.sh/v1alpha1 ScaledObject.
pub type ScaledObject = Object<ScaledObjectSpec>;

/// The trigger types ebb reads.
pub const SUPPORTED_TRIGGERS: &[&str] = &["cpu", "memory", "prometheus", "cron"];

/// KEDA's defaults.
pub(crate) const DEFAULT_POLLING_INTERVAL: i32 = 30;
pub(crate) const DEFAULT_COOLDOWN_PERIOD: i32 = 300;
pub(crate) const DEFAULT_MAX_REPLICAS: i32 = 100;

/// `spec` of a ScaledObject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    /// The workload to scale.
    pub scale_target_ref: ScaleTarget,
    /// Seconds between trigger checks (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling_interval: Option<i32>,
    /// Seconds after creation before scaling to zero is considered (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_cooldown_period: Option<i32>,
    /// Seconds after the last active trigger before scaling to zero (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_period: Option<i32>,
    /// Replicas while no trigger is active (must be below minReplicaCount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_replica_count: Option<i32>,
    /// Lowest replica count (default 0: scale to zero when idle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replica_count: Option<i32>,
    /// Highest replica count (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replica_count: Option<i32>,
    /// HPA behavior and naming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced: Option<AdvancedConfig>,
    /// What drives scaling.
    #[serde(default)]
    pub triggers: Vec<ScaleTrigger>,
    /// Replicas to hold when triggers keep failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
}

/// `scaleTargetRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTarget {
    /// Workload name.
    #[serde(default)]
    pub name: String,
    /// Default `apps/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Default `Deployment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Container whose environment triggers may read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_source_container_name: Option<String>,
}

/// `advanced`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedConfig {
    /// The generated HPA's behavior and name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizontal_pod_autoscaler_config: Option<HpaConfig>,
    /// Whether deleting the ScaledObject restores the original replica count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_to_original_replica_count: Option<bool>,
    /// A formula combining triggers (not supported by ebb yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_modifiers: Option<serde_json::Value>,
}

/// `advanced.horizontalPodAutoscalerConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaConfig {
    /// The HPA v2 behavior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<Behavior>,
    /// The HPA's name (default `keda-hpa-<name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One trigger.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTrigger {
    /// Scaler type: `cpu`, `memory`, `prometheus`, `cron`, ...
    #[serde(rename = "type", default)]
    pub trigger_type: String,
    /// Optional unique name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Serve the metric from KEDA's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_cached_metrics: Option<bool>,
    /// The scaler's settings, all strings.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Credentials (TriggerAuthentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_ref: Option<serde_json::Value>,
    /// `AverageValue` (default for external triggers), `Value` or `Utilization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_type: Option<MetricTargetType>,
}

/// `fallback`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fallback {
    /// Failed checks in a row before falling back.
    #[serde(default)]
    pub failure_threshold: i32,
    /// Replicas to hold.
    #[serde(default)]
    pub replicas: i32,
    /// `static` (default), `currentReplicas`, `currentReplicasIfHigher`, `currentReplicasIfLower`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<String>,
}

/// What one trigger becomes: the HPA metric KEDA generates, and for external metrics how ebb
/// computes the value itself.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TriggerMetric {
    pub(crate) metric: MetricSpec,
    pub(crate) source: Option<ExternalMetric>,
}

impl ScaledObjectSpec {
    /// The HPA's minimum: KEDA scales 0↔1 itself and gives the HPA at least 1.
    pub fn hpa_min_replicas(&self) -> i32 {
        self.min_replica_count.filter(|m| *m > 0).unwrap_or(1)
    }

    /// The HPA's maximum.
    pub fn hpa_max_replicas(&self) -> i32 {
        self.max_replica_count.unwrap_or(DEFAULT_MAX_REPLICAS)
    }
}

impl ScaledObject {
    /// KEDA's webhook and scaler rules. Returns each trigger's metric, in order, for the
    /// triggers that could be read.
    pub(crate) fn validate(&self, issues: &mut Issues) -> Vec<TriggerMetric> {
        let spec = &self.spec;
        let name = &self.metadata.name;
        super::meta::validate_name(name, super::meta::NameRule::Subdomain)
            .into_iter()
            .for_each(|e| issues.field(e));
        if name.len() > 63 {
            issues.error(
                "metadata.name",
                format!(
                    "Invalid value: {}: must be no more than 63 characters because it is used as the \"scaledobject.keda.sh/name\" label value",
                    quoted(name)
                ),
            );
        }
        let hpa_name = spec
            .advanced
            .as_ref()
            .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref())
            .and_then(|h| h.name.clone())
            .unwrap_or_else(|| format!("keda-hpa-{name}"));
        if hpa_name.len() > 63 && name.len() <= 63 {
            issues.error(
                "metadata.name",
                format!(
                    "Invalid value: {}: the HPA name {} derived from it is longer than 63 characters; set spec.advanced.horizontalPodAutoscalerConfig.name to a shorter name",
                    quoted(name),
                    quoted(&hpa_name)
                ),
            );
        }
        if spec.scale_target_ref.name.is_empty() {
            issues.push(Issue::error("spec.scaleTargetRef.name", "Required value").at_key());
        }
        self.validate_counts(issues);
        if let Some(advanced) = &spec.advanced
            && advanced.scaling_modifiers.is_some()
        {
            issues.error(
                "spec.advanced.scalingModifiers",
                "not supported by ebb yet: remove it, or combine the triggers' metrics in one prometheus query",
            );
        }
        let metrics = self.validate_triggers(issues);
        self.validate_fallback(issues);
        metrics
    }

    fn validate_counts(&self, issues: &mut Issues) {
        let spec = &self.spec;
        for (field, value) in [
            ("pollingInterval", spec.polling_interval),
            ("cooldownPeriod", spec.cooldown_period),
            ("initialCooldownPeriod", spec.initial_cooldown_period),
            ("minReplicaCount", spec.min_replica_count),
            ("maxReplicaCount", spec.max_replica_count),
            ("idleReplicaCount", spec.idle_replica_count),
        ] {
            if let Some(v) = value
                && v < 0
            {
                issues.error(
                    format!("spec.{field}"),
                    format!("Invalid value: {v}: must be greater than or equal to 0"),
                );
            }
        }
        if spec.polling_interval == Some(0) {
            issues.error(
                "spec.pollingInterval",
                "Invalid value: 0: must be greater than 0 (seconds between trigger checks)",
            );
        }
        let min = spec.min_replica_count.map(|_| spec.hpa_min_replicas());
        let min = min.unwrap_or(0);
        let max = spec.hpa_max_replicas();
        if min > max {
            issues.error(
                "spec.minReplicaCount",
                format!("Invalid value: {min}: MinReplicaCount={min} must be less than MaxReplicaCount={max}"),
            );
        }
        if let Some(idle) = spec.idle_replica_count
            && idle >= min
        {
            issues.error(
                "spec.idleReplicaCount",
                format!("Invalid value: {idle}: IdleReplicaCount={idle} must be less than MinReplicaCount={min}"),
            );
        }
    }

    fn validate_triggers(&self, issues: &mut Issues) -> Vec<TriggerMetric> {
        let spec = &self.spec;
        if spec.triggers.is_empty() {
            issues.error(
                "spec.triggers",
                format!(
                    "Required value: a ScaledObject needs at least one trigger ({})",
                    SUPPORTED_TRIGGERS.join(", ")
                ),
            );
        }
        let mut names = BTreeSet::new();
        let mut metrics = Vec::new();
        for (i, trigger) in spec.triggers.iter().enumerate() {
            let path = format!("spec.triggers[{i}]");
            if let Some(name) = &trigger.name
                && !name.is_empty()
                && !names.insert(name.as_str())
            {
                issues.error(
                    format!("{path}.name"),
                    format!(
                        "Duplicate value: {}: triggerName is defined multiple times in the ScaledObject, but it must be unique",
                        quoted(name)
                    ),
                );
            }
            if trigger.use_cached_metrics == Some(true)
                && matches!(trigger.trigger_type.as_str(), "cpu" | "memory" | "cron")
            {
                issues.error(
                    format!("{path}.useCachedMetrics"),
                    format!(
                        "Forbidden: property \"useCachedMetrics\" is not supported for {:?} scaler",
                        trigger.trigger_type
                    ),
                );
            }
            if let Some(m) = trigger.read(i, &self.metadata.name, &path, issues) {
                metrics.push(m);
            }
        }
        let only_resources = !spec.triggers.is_empty()
            && spec
                .triggers
                .iter()
                .all(|t| matches!(t.trigger_type.as_str(), "cpu" | "memory"));
        if only_resources && spec.min_replica_count.unwrap_or(0) == 0 {
            issues.error(
                "spec.minReplicaCount",
                "Invalid value: 0: scaledobject has only cpu/memory triggers AND minReplica is 0 (scale to zero doesn't work in this case); set minReplicaCount to 1 or more, or add a prometheus or cron trigger",
            );
        }
        metrics
    }

    fn validate_fallback(&self, issues: &mut Issues) {
        let Some(fallback) = &self.spec.fallback else {
            return;
        };
        if fallback.failure_threshold < 0 || fallback.replicas < 0 {
            issues.error(
                "spec.fallback",
                format!(
                    "Invalid value: FailureThreshold={} & Replicas={} must both be greater than or equal to 0",
                    fallback.failure_threshold, fallback.replicas
                ),
            );
        }
        if let Some(b) = &fallback.behavior
            && !matches!(
                b.as_str(),
                "static" | "currentReplicas" | "currentReplicasIfHigher" | "currentReplicasIfLower"
            )
        {
            issues.error(
                "spec.fallback.behavior",
                format!(
                    "Unsupported value: {}: supported values: \"static\", \"currentReplicas\", \"currentReplicasIfHigher\", \"currentReplicasIfLower\"",
                    quoted(b)
                ),
            );
        }
        let average_value_trigger = self.spec.triggers.iter().any(|t| {
            !matches!(t.trigger_type.as_str(), "cpu" | "memory")
                && t.metric_type.unwrap_or(MetricTargetType::AverageValue)
                    == MetricTargetType::AverageValue
        });
        if !average_value_trigger {
            issues.error(
                "spec.fallback",
                "Forbidden: at least one trigger (that is not cpu or memory) has to have the `AverageValue` type for the fallback to be enabled",
            );
        }
    }
}

impl ScaleTrigger {
    /// Reads the trigger's metadata the way its KEDA scaler does.
    fn read(
        &self,
        index: usize,
        object: &str,
        path: &str,
        issues: &mut Issues,
    ) -> Option<TriggerMetric> {
        match self.trigger_type.as_str() {
            "cpu" | "memory" => self.read_resource(path, issues),
            "prometheus" => self.read_prometheus(index, object, path, issues),
            "cron" => self.read_cron(index, object, path, issues),
            "" => {
                issues.error(format!("{path}.type"), "Required value");
                None
            }
            other => {
                issues.error(
                    format!("{path}.type"),
                    format!(
                        "Unsupported value: {}: not supported by ebb yet; supported trigger types: {}",
                        quoted(other),
                        SUPPORTED_TRIGGERS.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn require(&self, key: &str, path: &str, issues: &mut Issues) -> Option<&str> {
        let value = self.meta(key);
        if value.is_none() {
            issues.error(
                format!("{path}.metadata.{key}"),
                format!(
                    "Required value: the {} trigger needs metadata.{key}",
                    self.trigger_type
                ),
            );
        }
        value
    }

    fn read_resource(&self, path: &str, issues: &mut Issues) -> Option<TriggerMetric> {
        let resource = self.trigger_type.clone();
        let deprecated = self.meta("type");
        let metric_type = match (deprecated, self.metric_type) {
            (Some(_), Some(_)) => {
                issues.error(
                    format!("{path}.metadata.type"),
                    "Forbidden: only one of trigger.metadata.type or trigger.metricType should be defined",
                );
                return None;
            }
            (Some(t), None) => {
                issues.warning(
                    format!("{path}.metadata.type"),
                    "deprecated in KEDA in favor of trigger.metricType",
                );
                match t {
                    "Utilization" => MetricTargetType::Utilization,
                    "AverageValue" => MetricTargetType::AverageValue,
                    other => {
                        issues.error(
                            format!("{path}.metadata.type"),
                            format!(
                                "Unsupported value: {}: supported values: \"Utilization\", \"AverageValue\"",
                                quoted(other)
                            ),
                        );
                        return None;
                    }
                }
            }
            (None, Some(t)) => t,
            (None, None) => {
                issues.error(
                    format!("{path}.metricType"),
                    "Required value: no type given in neither trigger.metadata.type or trigger.metricType; use Utilization (percent of the request) or AverageValue",
                );
                return None;
            }
        };
        let value = self.require("value", path, issues)?;
        let value_path = format!("{path}.metadata.value");
        let target = match metric_type {
            MetricTargetType::Utilization => match value.parse::<i32>() {
                Ok(percent) if percent > 0 => MetricTarget::utilization(percent),
                _ => {
                    issues.error(
                        value_path,
                        format!(
                            "Invalid value: {}: a Utilization target must be a whole percent greater than 0",
                            quoted(value)
                        ),
                    );
                    return None;
                }
            },
            MetricTargetType::AverageValue => match value.parse::<Quantity>() {
                Ok(q) if q.is_positive() => MetricTarget {
                    kind: MetricTargetType::AverageValue,
                    value: None,
                    average_value: Some(q),
                    average_utilization: None,
                },
                _ => {
                    issues.error(
                        value_path,
                        format!(
                            "Invalid value: {}: an AverageValue target must be a positive quantity such as 500m or 256Mi",
                            quoted(value)
                        ),
                    );
                    return None;
                }
            },
            MetricTargetType::Value => {
                issues.error(
                    format!("{path}.metricType"),
                    "Unsupported value: \"Value\": unsupported metric type, allowed values are 'Utilization' or 'AverageValue'",
                );
                return None;
            }
        };
        let metric = match self.meta("containerName") {
            Some(container) => MetricSpec {
                kind: MetricSourceType::ContainerResource,
                container_resource: Some(ContainerResourceMetricSource {
                    name: resource,
                    container: container.to_string(),
                    target,
                }),
                ..empty_metric(MetricSourceType::ContainerResource)
            },
            None => MetricSpec {
                kind: MetricSourceType::Resource,
                resource: Some(ResourceMetricSource {
                    name: resource,
                    target,
                }),
                ..empty_metric(MetricSourceType::Resource)
            },
        };
        Some(TriggerMetric {
            metric,
            source: None,
        })
    }

    /// `AverageValue` (default) or `Value`; external metrics cannot be utilizations.
    fn external_target(
        &self,
        value: Quantity,
        path: &str,
        issues: &mut Issues,
    ) -> Option<MetricTarget> {
        match self.metric_type.unwrap_or(MetricTargetType::AverageValue) {
            MetricTargetType::AverageValue => Some(MetricTarget {
                kind: MetricTargetType::AverageValue,
                value: None,
                average_value: Some(value),
                average_utilization: None,
            }),
            MetricTargetType::Value => Some(MetricTarget {
                kind: MetricTargetType::Value,
                value: Some(value),
                average_value: None,
                average_utilization: None,
            }),
            MetricTargetType::Utilization => {
                issues.error(
                    format!("{path}.metricType"),
                    "Unsupported value: \"Utilization\": 'Utilization' metric type is unsupported for external metrics, allowed values are 'Value' or 'AverageValue'",
                );
                None
            }
        }
    }

    fn read_prometheus(
        &self,
        index: usize,
        object: &str,
        path: &str,
        issues: &mut Issues,
    ) -> Option<TriggerMetric> {
        let server = self.require("serverAddress", path, issues);
        let query = self.require("query", path, issues);
        let threshold = self.require("threshold", path, issues);
        let threshold = threshold.and_then(|t| {
            let parsed = t.parse::<f64>().ok().filter(|v| v.is_finite());
            if parsed.is_none() {
                issues.error(
                    format!("{path}.metadata.threshold"),
                    format!("Invalid value: {}: must be a number", quoted(t)),
                );
            }
            parsed
        });
        let activation = match self.meta("activationThreshold") {
            None => Some(0.0),
            Some(a) => {
                let parsed = a.parse::<f64>().ok().filter(|v| v.is_finite());
                if parsed.is_none() {
                    issues.error(
                        format!("{path}.metadata.activationThreshold"),
                        format!("Invalid value: {}: must be a number", quoted(a)),
                    );
                }
                parsed
            }
        };
        if let Some(s) = server
            && !(s.starts_with("http://") || s.starts_with("https://"))
        {
            issues.error(
                format!("{path}.metadata.serverAddress"),
                format!(
                    "Invalid value: {}: must be an http:// or https:// URL of the Prometheus server",
                    quoted(s)
                ),
            );
            return None;
        }
        let (server, query, threshold, activation) = (server?, query?, threshold?, activation?);
        let target_value =
            milli_quantity(threshold, &format!("{path}.metadata.threshold"), issues)?;
        let target = self.external_target(target_value, path, issues)?;
        let name = format!("s{index}-prometheus");
        Some(TriggerMetric {
            metric: external_metric(&name, object, target),
            source: Some(ExternalMetric {
                name,
                prometheus: Some(PrometheusQuery {
                    server_address: server.to_string(),
                    query: query.to_string(),
                    activation_threshold: activation,
                    namespace: self.meta("namespace").map(str::to_string),
                    ignore_null_values: self.meta("ignoreNullValues") != Some("false"),
                }),
                cron: None,
            }),
        })
    }

    fn read_cron(
        &self,
        index: usize,
        object: &str,
        path: &str,
        issues: &mut Issues,
    ) -> Option<TriggerMetric> {
        let timezone = self.require("timezone", path, issues);
        let start = self.require("start", path, issues);
        let end = self.require("end", path, issues);
        let desired = self.require("desiredReplicas", path, issues);
        for (key, value) in [("start", start), ("end", end)] {
            if let Some(spec) = value
                && let Err(why) = check_cron(spec)
            {
                issues.error(
                    format!("{path}.metadata.{key}"),
                    format!("Invalid value: {}: {why}", quoted(spec)),
                );
                return None;
            }
        }
        if let (Some(s), Some(e)) = (start, end)
            && s == e
        {
            issues.error(
                format!("{path}.metadata.end"),
                format!(
                    "Invalid value: {}: start and end should not be same",
                    quoted(e)
                ),
            );
            return None;
        }
        let desired = desired.and_then(|d| match d.parse::<i32>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                issues.error(
                    format!("{path}.metadata.desiredReplicas"),
                    format!(
                        "Invalid value: {}: must be a whole number of replicas, 0 or more",
                        quoted(d)
                    ),
                );
                None
            }
        });
        let (timezone, start, end, desired) = (timezone?, start?, end?, desired?);
        let name = format!(
            "s{index}-cron-{}-{}-{}",
            normalize_metric_part(timezone),
            cron_name_part(start),
            cron_name_part(end)
        );
        let target = self.external_target(
            Quantity::from_units(1, QuantityFormat::DecimalSI),
            path,
            issues,
        )?;
        Some(TriggerMetric {
            metric: external_metric(&name, object, target),
            source: Some(ExternalMetric {
                name,
                prometheus: None,
                cron: Some(CronSchedule {
                    timezone: timezone.to_string(),
                    start: start.to_string(),
                    end: end.to_string(),
                    desired_replicas: desired,
                }),
            }),
        })
    }
}

fn empty_metric(kind: MetricSourceType) -> MetricSpec {
    MetricSpec {
        kind,
        resource: None,
        container_resource: None,
        pods: None,
        object: None,
        external: None,
    }
}

/// The External metric KEDA registers for a trigger: its name plus the ScaledObject selector.
fn external_metric(name: &str, object: &str, target: MetricTarget) -> MetricSpec {
    MetricSpec {
        external: Some(ExternalMetricSource {
            metric: MetricIdentifier {
                name: name.to_string(),
                selector: Some(LabelSelector {
                    match_labels: [("scaledobject.keda.sh/name".to_string(), object.to_string())]
                        .into(),
                    match_expressions: Vec::new(),
                }),
            },
            target,
        }),
        ..empty_metric(MetricSourceType::External)
    }
}

/// A threshold as KEDA turns it into a quantity (milli-units).
fn milli_quantity(value: f64, path: &str, issues: &mut Issues) -> Option<Quantity> {
    let milli = (value * 1000.0).round();
    if value <= 0.0 || milli > i64::MAX as f64 {
        issues.error(
            path,
            format!("Invalid value: \"{value}\": must be greater than 0"),
        );
        return None;
    }
    Some(Quantity::from_milli(
        milli as i64,
        QuantityFormat::DecimalSI,
    ))
}

/// A five-field cron expression (minute hour day-of-month month day-of-week), as KEDA's cron
/// library reads it; `@hourly`-style descriptors are accepted too.
fn check_cron(spec: &str) -> Result<(), String> {
    if spec.starts_with('@') {
        return match spec {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight"
            | "@hourly" => Ok(()),
            _ if spec.starts_with("@every ") => Ok(()),
            _ => Err("unknown descriptor; use five fields like \"0 8 * * *\" or @hourly, @daily, @weekly, @monthly, @yearly".into()),
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields (minute hour day-of-month month day-of-week), found {}",
            fields.len()
        ));
    }
    let ok = |f: &str| {
        f.chars()
            .all(|c| c.is_ascii_alphanumeric() || "*/,-?".contains(c))
    };
    match fields.iter().find(|f| !ok(f)) {
        Some(bad) => Err(format!("field {bad:?} has characters cron does not allow")),
        None => Ok(()),
    }
}

/// KEDA's metric-name normalization (`/`, `.`, `:` and similar become `-`).
fn normalize_metric_part(s: &str) -> String {
    s.chars()
        .map(|c| if "/.:%()\" <>$'".contains(c) { '-' } else { c })
        .collect()
}

/// How KEDA spells a cron schedule inside a metric name.
fn cron_name_part(spec: &str) -> String {
    spec.replace(' ', "")
        .replace('*', "x")
        .replace('/', "Sl")
        .replace('?', "Qm")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_expressions_need_five_fields() {
        assert!(check_cron("0 8 * * 1-5").is_ok());
        assert!(check_cron("*/15 * * * *").is_ok());
        assert!(check_cron("@daily").is_ok());
        assert!(check_cron("0 8 * *").is_err());
        assert!(check_cron("0 8 * * * *").is_err());
        assert!(check_cron("0 8 * * $").is_err());
    }

    #[test]
    fn metric_names_follow_keda() {
        assert_eq!(normalize_metric_part("Europe/Kyiv"), "Europe-Kyiv");
        assert_eq!(cron_name_part("*/15 8 * * ?"), "xSl158xxQm");
    }
}
