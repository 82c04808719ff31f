//! ebb's own kind, `Autoscaler` (`ebb.dev/v1alpha1`): the one normalized form every other
//! autoscaling kind converts to. It is the HPA v2 spec plus a policy class (`hpa` or `kpa`), the
//! Knative settings under `spec.kpa`, KEDA's lifecycle settings under `spec.keda`, and for each
//! External metric ebb computes itself, where its value comes from (`spec.externalMetrics`).

use std::collections::BTreeSet;

use ebb_core::FieldError;
use ebb_core::hpa::spec::{
    Behavior, CrossVersionObjectReference, HpaSpec, MetricSourceType, MetricSpec,
};
use ebb_core::kpa::{KpaConfig, KpaSettings};
use serde::{Deserialize, Serialize};

use super::keda::Fallback;
use super::meta::{NameRule, Object, validate_name};
use crate::diagnostic::Issues;

/// `apiVersion` of the Autoscaler kind.
pub const API_VERSION: &str = "ebb.dev/v1alpha1";

/// ebb's normalized autoscaler.
pub type Autoscaler = Object<AutoscalerSpec>;

/// Which policy decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum AutoscalerClass {
    /// Kubernetes HPA semantics (also KEDA, which drives an HPA).
    Hpa,
    /// Knative Pod Autoscaler semantics (KServe serverless mode).
    Kpa,
}

/// `spec` of an Autoscaler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AutoscalerSpec {
    /// `hpa` or `kpa`.
    pub class: AutoscalerClass,
    /// The workload to scale.
    pub scale_target_ref: CrossVersionObjectReference,
    /// HPA lower bound (class hpa; defaults to 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// HPA upper bound (class hpa; required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<i32>,
    /// HPA metrics (class hpa).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricSpec>,
    /// HPA behavior (class hpa).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<Behavior>,
    /// Knative settings (class kpa): every `autoscaling.knative.dev/*` annotation, typed, and
    /// containerConcurrency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpa: Option<KpaSettings>,
    /// KEDA lifecycle settings, when the source was a ScaledObject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keda: Option<KedaSettings>,
    /// How ebb computes each External metric itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_metrics: Vec<ExternalMetric>,
}

/// What KEDA adds around the HPA it generates: scaling to and from zero, polling, fallback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct KedaSettings {
    /// Seconds between trigger checks.
    pub polling_interval: i32,
    /// Seconds without an active trigger before scaling to zero (or to idleReplicaCount).
    pub cooldown_period: i32,
    /// Seconds after creation before the cooldown applies.
    pub initial_cooldown_period: i32,
    /// The lowest replica count; 0 means scale to zero when no trigger is active.
    pub min_replica_count: i32,
    /// Replicas while idle, below the minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_replica_count: Option<i32>,
    /// Replicas to hold when triggers keep failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
    /// Whether deleting the autoscaler restores the workload's original replica count.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restore_to_original_replica_count: bool,
}

/// How to compute one External metric named in `spec.metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExternalMetric {
    /// The External metric's name in `spec.metrics`.
    pub name: String,
    /// A Prometheus query whose single value is the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusQuery>,
    /// A schedule: the metric is `desiredReplicas` inside the window and 1 outside, against a
    /// target average of 1, so the HPA asks for `desiredReplicas` during the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<CronSchedule>,
}

/// A Prometheus instant query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PrometheusQuery {
    /// e.g. `http://prometheus.monitoring:9090`.
    pub server_address: String,
    /// PromQL returning one value.
    pub query: String,
    /// The trigger is active (keeps the workload above zero) while the value exceeds this.
    pub activation_threshold: f64,
    /// Tenant namespace header, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Whether an empty result counts as 0 (true) or as an error (false).
    pub ignore_null_values: bool,
}

/// A cron window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CronSchedule {
    /// IANA time zone, e.g. `Europe/Kyiv`.
    pub timezone: String,
    /// Cron expression for the window's start.
    pub start: String,
    /// Cron expression for the window's end.
    pub end: String,
    /// Replicas during the window.
    pub desired_replicas: i32,
}

impl AutoscalerSpec {
    /// The HPA spec the HPA engine runs (class hpa with `maxReplicas` set).
    pub fn hpa_spec(&self) -> Option<HpaSpec> {
        (self.class == AutoscalerClass::Hpa).then_some(())?;
        Some(HpaSpec {
            scale_target_ref: self.scale_target_ref.clone(),
            min_replicas: self.min_replicas,
            max_replicas: self.max_replicas?,
            metrics: self.metrics.clone(),
            behavior: self.behavior.clone(),
        })
    }
}

impl Autoscaler {
    /// Rules of the Autoscaler kind: the HPA rules for class hpa, and the consistency of the
    /// KEDA and external-metric parts.
    pub(crate) fn validate(&self, config: &KpaConfig, issues: &mut Issues) {
        issues.fields(validate_name(&self.metadata.name, NameRule::Subdomain));
        let spec = &self.spec;
        match spec.class {
            AutoscalerClass::Hpa => {
                match spec.hpa_spec() {
                    Some(hpa) => super::hpa::validate_spec(&hpa, "spec", issues, |e| e),
                    None => issues.field(FieldError::required(
                        "spec.maxReplicas",
                        "class hpa needs an upper bound",
                    )),
                }
                if spec.kpa.is_some() {
                    issues.field(FieldError::forbidden(
                        "spec.kpa",
                        "only for class kpa; class hpa takes the HPA fields",
                    ));
                }
            }
            AutoscalerClass::Kpa => {
                if let Some(kpa) = &spec.kpa {
                    issues.fields(kpa.validate(config, "spec.kpa"));
                }
                issues.fields(crate::timeouts::check_annotations(
                    &self.metadata.annotations,
                ));
                for (field, set) in [
                    ("minReplicas", spec.min_replicas.is_some()),
                    ("maxReplicas", spec.max_replicas.is_some()),
                    ("metrics", !spec.metrics.is_empty()),
                    ("behavior", spec.behavior.is_some()),
                    ("keda", spec.keda.is_some()),
                ] {
                    if set {
                        issues.field(FieldError::forbidden(
                            format!("spec.{field}"),
                            "only for class hpa; class kpa takes its settings from spec.kpa",
                        ));
                    }
                }
            }
        }
        if let Some(keda) = &spec.keda {
            keda.validate(issues);
        }
        self.validate_external_metrics(issues);
    }

    fn validate_external_metrics(&self, issues: &mut Issues) {
        let spec = &self.spec;
        let mut defined = BTreeSet::new();
        for (i, m) in spec.external_metrics.iter().enumerate() {
            let path = format!("spec.externalMetrics[{i}]");
            if m.name.is_empty() {
                issues.field(FieldError::required(format!("{path}.name"), ""));
            } else if !defined.insert(m.name.as_str()) {
                issues.error(
                    format!("{path}.name"),
                    format!("Duplicate value: {:?}", m.name),
                );
            }
            match (&m.prometheus, &m.cron) {
                (None, None) => issues.field(FieldError::required(
                    path.clone(),
                    "must set one of prometheus or cron",
                )),
                (Some(_), Some(_)) => issues.field(FieldError::forbidden(
                    format!("{path}.cron"),
                    "may not set both prometheus and cron",
                )),
                _ => {}
            }
            if let Some(c) = &m.cron
                && c.desired_replicas < 0
            {
                issues.field(FieldError::invalid(
                    format!("{path}.cron.desiredReplicas"),
                    c.desired_replicas,
                    "must be greater than or equal to 0",
                ));
            }
        }
        for (i, metric) in spec.metrics.iter().enumerate() {
            if metric.kind != MetricSourceType::External {
                continue;
            }
            if let Some(external) = &metric.external
                && !defined.contains(external.metric.name.as_str())
            {
                issues.warning(
                    format!("spec.metrics[{i}].external.metric.name"),
                    format!(
                        "no spec.externalMetrics entry named {:?}: ebb cannot compute this metric itself and needs it from an external metrics API",
                        external.metric.name.as_str()
                    ),
                );
            }
        }
    }
}

impl KedaSettings {
    fn validate(&self, issues: &mut Issues) {
        for (field, value) in [
            ("pollingInterval", self.polling_interval),
            ("cooldownPeriod", self.cooldown_period),
            ("initialCooldownPeriod", self.initial_cooldown_period),
            ("minReplicaCount", self.min_replica_count),
        ] {
            if value < 0 {
                issues.field(FieldError::invalid(
                    format!("spec.keda.{field}"),
                    value,
                    "must be greater than or equal to 0",
                ));
            }
        }
        if self.polling_interval == 0 {
            issues.field(FieldError::invalid(
                "spec.keda.pollingInterval",
                0,
                "must be greater than 0",
            ));
        }
        if let Some(idle) = self.idle_replica_count
            && idle >= self.min_replica_count
        {
            issues.field(FieldError::invalid(
                "spec.keda.idleReplicaCount",
                idle,
                "must be less than minReplicaCount",
            ));
        }
    }
}
