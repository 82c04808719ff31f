//! Reading each trigger the way its KEDA scaler does: metadata rules, and the HPA metric KEDA
//! registers for it (cpu and memory as Resource metrics, prometheus and cron as External
//! metrics with how ebb computes them).

use ebb_core::Quantity;
use ebb_core::hpa::spec::{
    ContainerResourceMetricSource, ExternalMetricSource, LabelSelector, MetricIdentifier,
    MetricSourceType, MetricSpec, MetricTarget, MetricTargetType, ResourceMetricSource,
};
use ebb_core::units::QuantityFormat;

use super::{SUPPORTED_TRIGGERS, ScaleTrigger, TriggerMetric};
use crate::diagnostic::Issues;
use crate::kinds::autoscaler::{CronSchedule, ExternalMetric, PrometheusQuery};
use crate::kinds::meta::quoted;

impl ScaleTrigger {
    /// Reads the trigger's metadata the way its KEDA scaler does.
    pub(super) fn read(
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
        let threshold = self
            .require("threshold", path, issues)
            .and_then(|t| number(t, "threshold", path, issues));
        let activation = match self.meta("activationThreshold") {
            None => Some(0.0),
            Some(a) => number(a, "activationThreshold", path, issues),
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

/// A finite number in `metadata.{key}`; an error naming the field otherwise.
fn number(value: &str, key: &str, path: &str, issues: &mut Issues) -> Option<f64> {
    let parsed = value.parse::<f64>().ok().filter(|v| v.is_finite());
    if parsed.is_none() {
        issues.error(
            format!("{path}.metadata.{key}"),
            format!("Invalid value: {}: must be a number", quoted(value)),
        );
    }
    parsed
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
