//! keda.sh/v1alpha1 ScaledObject: KEDA's validation webhook and scaler metadata rules, and the
//! reading of each supported trigger (cpu, memory, prometheus, cron) into the HPA metric KEDA
//! would generate for it.

mod triggers;

use std::collections::{BTreeMap, BTreeSet};

use ebb_core::hpa::spec::{Behavior, MetricSpec, MetricTargetType};
use serde::{Deserialize, Serialize};

use super::autoscaler::ExternalMetric;
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
