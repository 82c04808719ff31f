//! Per-revision KPA settings: every `autoscaling.knative.dev/*` annotation plus the revision's
//! `containerConcurrency` (spec §3), with the webhook's validation.
//!
//! [`KpaSettings`] is plain data (it is `spec.kpa` of ebb's own `Autoscaler` kind). It can be
//! read from annotations as users write them ([`KpaSettings::from_annotations`]), legacy
//! camelCase keys included, or checked in its typed form ([`KpaSettings::validate`]). Both run
//! the same range rules, in the webhook's words.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::{HPA_CLASS, KPA_CLASS, KpaConfig, TARGET_MIN};
use super::parse::{self, NumError, SignedDuration};
use crate::units::KubeDuration;
use crate::validation::FieldError;

/// The annotation group every autoscaling annotation lives in.
pub const GROUP: &str = "autoscaling.knative.dev/";
/// The revision annotation the activation timeout is derived from.
pub const PROGRESS_DEADLINE_ANNOTATION: &str = "serving.knative.dev/progress-deadline";

/// A revision's autoscaling settings. `None` means "not set": the cluster default applies.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KpaSettings {
    /// `class`: `kpa.autoscaling.knative.dev` (default) or another autoscaler's class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// `metric`: `concurrency` (default) or `rps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// `target`: what one pod can carry at most for the metric (a total, see §4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    /// `target-utilization-percentage`: the share of `target` to aim for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_utilization_percentage: Option<f64>,
    /// `min-scale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_scale: Option<i32>,
    /// `max-scale` (0 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_scale: Option<i32>,
    /// `initial-scale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_scale: Option<i32>,
    /// `activation-scale`: the smallest non-zero scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_scale: Option<i32>,
    /// `window`: the stable window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<KubeDuration>,
    /// `panic-window-percentage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panic_window_percentage: Option<f64>,
    /// `panic-threshold-percentage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panic_threshold_percentage: Option<f64>,
    /// `target-burst-capacity` (−1: the request holder always stays in the path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_burst_capacity: Option<f64>,
    /// `scale-down-delay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay: Option<KubeDuration>,
    /// `scale-to-zero-pod-retention-period`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_to_zero_pod_retention_period: Option<KubeDuration>,
    /// `metric-aggregation-algorithm`: `linear` (default) or `weighted-exponential`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_aggregation_algorithm: Option<String>,
    /// The revision's `containerConcurrency` (0 or unset: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_concurrency: Option<i64>,
    /// `serving.knative.dev/progress-deadline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline: Option<KubeDuration>,
}

/// One setting: its annotation keys (kebab-case first, then the legacy alias) and typed name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Class,
    Metric,
    Target,
    TargetUtilization,
    MinScale,
    MaxScale,
    InitialScale,
    ActivationScale,
    Window,
    PanicWindow,
    PanicThreshold,
    TargetBurstCapacity,
    ScaleDownDelay,
    Retention,
    Algorithm,
}

impl Field {
    /// Kebab-case key and legacy alias (without the group).
    fn keys(self) -> (&'static str, Option<&'static str>) {
        match self {
            Field::Class => ("class", None),
            Field::Metric => ("metric", None),
            Field::Target => ("target", None),
            Field::TargetUtilization => (
                "target-utilization-percentage",
                Some("targetUtilizationPercentage"),
            ),
            Field::MinScale => ("min-scale", Some("minScale")),
            Field::MaxScale => ("max-scale", Some("maxScale")),
            Field::InitialScale => ("initial-scale", Some("initialScale")),
            Field::ActivationScale => ("activation-scale", None),
            Field::Window => ("window", None),
            Field::PanicWindow => ("panic-window-percentage", Some("panicWindowPercentage")),
            Field::PanicThreshold => (
                "panic-threshold-percentage",
                Some("panicThresholdPercentage"),
            ),
            Field::TargetBurstCapacity => ("target-burst-capacity", Some("targetBurstCapacity")),
            Field::ScaleDownDelay => ("scale-down-delay", Some("scaleDownDelay")),
            Field::Retention => (
                "scale-to-zero-pod-retention-period",
                Some("scaleToZeroPodRetentionPeriod"),
            ),
            Field::Algorithm => (
                "metric-aggregation-algorithm",
                Some("metricAggregationAlgorithm"),
            ),
        }
    }

    /// The field's name in the typed (camelCase) form.
    fn typed_name(self) -> &'static str {
        match self {
            Field::Class => "class",
            Field::Metric => "metric",
            Field::Target => "target",
            Field::TargetUtilization => "targetUtilizationPercentage",
            Field::MinScale => "minScale",
            Field::MaxScale => "maxScale",
            Field::InitialScale => "initialScale",
            Field::ActivationScale => "activationScale",
            Field::Window => "window",
            Field::PanicWindow => "panicWindowPercentage",
            Field::PanicThreshold => "panicThresholdPercentage",
            Field::TargetBurstCapacity => "targetBurstCapacity",
            Field::ScaleDownDelay => "scaleDownDelay",
            Field::Retention => "scaleToZeroPodRetentionPeriod",
            Field::Algorithm => "metricAggregationAlgorithm",
        }
    }
}

const FIELDS: [Field; 15] = [
    Field::Class,
    Field::Metric,
    Field::Target,
    Field::TargetUtilization,
    Field::MinScale,
    Field::MaxScale,
    Field::InitialScale,
    Field::ActivationScale,
    Field::Window,
    Field::PanicWindow,
    Field::PanicThreshold,
    Field::TargetBurstCapacity,
    Field::ScaleDownDelay,
    Field::Retention,
    Field::Algorithm,
];

/// Whether `key` (group included) is an `autoscaling.knative.dev/*` annotation Knative reads.
/// Unknown keys are ignored upstream, so a typo silently does nothing; callers can warn.
pub fn is_known_annotation(key: &str) -> bool {
    let Some(name) = key.strip_prefix(GROUP) else {
        return false;
    };
    FIELDS.iter().any(|f| {
        let (kebab, alias) = f.keys();
        name == kebab || Some(name) == alias
    })
}

/// Where errors point: the annotations map and the containerConcurrency field of the object.
#[derive(Debug, Clone, Copy)]
pub struct AnnotationPaths<'a> {
    /// Path of the annotations map, e.g. `spec.template.metadata.annotations`.
    pub annotations: &'a str,
    /// Path of containerConcurrency, e.g. `spec.predictor.containerConcurrency`.
    pub container_concurrency: &'a str,
}

impl Default for AnnotationPaths<'_> {
    fn default() -> Self {
        AnnotationPaths {
            annotations: "metadata.annotations",
            container_concurrency: "spec.containerConcurrency",
        }
    }
}

/// The largest containerConcurrency Knative allows by default.
pub const MAX_CONTAINER_CONCURRENCY: i64 = 1000;

/// Runs the value rules shared by both forms, pushing errors at `path(field)`.
struct Checker<'a> {
    path: &'a dyn Fn(Field) -> String,
    errors: Vec<FieldError>,
}

impl Checker<'_> {
    fn push(&mut self, field: Field, value: impl std::fmt::Display, message: impl Into<String>) {
        self.errors
            .push(FieldError::invalid((self.path)(field), value, message));
    }

    fn bounds(&mut self, field: Field, text: &str, v: f64, lo: f64, hi: f64) {
        if v < lo || v > hi {
            let (lo, hi) = (parse::go_float(lo), parse::go_float(hi));
            self.push(field, text, format!("expected {lo} <= {text} <= {hi}"));
        }
    }

    fn target(&mut self, text: &str, v: f64) {
        if v < TARGET_MIN {
            self.push(
                Field::Target,
                text,
                format!(
                    "target {text} should be at least {}",
                    parse::go_float(TARGET_MIN)
                ),
            );
        }
    }

    fn tbc(&mut self, text: &str, v: f64) {
        if v < 0.0 && v != -1.0 {
            self.push(
                Field::TargetBurstCapacity,
                text,
                "must be at least 0, or exactly -1 to keep the request holder always in the path",
            );
        }
    }

    fn scale(&mut self, field: Field, v: i64) {
        if !(0..=i64::from(i32::MAX)).contains(&v) {
            self.push(field, v, format!("expected 0 <= {v} <= {}", i32::MAX));
        }
    }

    fn duration(&mut self, field: Field, d: SignedDuration) {
        let (lo, rule) = match field {
            Field::Window => (6, PrecisionRule::Truncate),
            Field::ScaleDownDelay => (0, PrecisionRule::Round),
            _ => (0, PrecisionRule::None),
        };
        let text = d.go_string();
        if d.0 < lo * 1_000_000_000 || d.0 > 3600 * 1_000_000_000 {
            self.push(
                field,
                &text,
                format!(
                    "expected {} <= {text} <= 1h0m0s",
                    SignedDuration(lo * 1_000_000_000).go_string()
                ),
            );
            return;
        }
        let precise = match rule {
            PrecisionRule::Truncate => d.is_whole_seconds(),
            PrecisionRule::Round => d.rounds_to_itself(),
            PrecisionRule::None => true,
        };
        if !precise {
            self.push(
                field,
                &text,
                "must be specified with at most second precision",
            );
        }
    }

    fn class(&mut self, class: &str) {
        if class.ends_with(".knative.dev") && class != KPA_CLASS && class != HPA_CLASS {
            self.push(
                Field::Class,
                format!("{class:?}"),
                format!("a knative.dev class must be {KPA_CLASS:?} or {HPA_CLASS:?}"),
            );
        }
    }

    fn metric(&mut self, class: Option<&str>, metric: &str) {
        let ok = match class.unwrap_or(KPA_CLASS) {
            KPA_CLASS => matches!(metric, "concurrency" | "rps"),
            HPA_CLASS => !metric.is_empty(),
            _ => true,
        };
        if !ok {
            let allowed = if class == Some(HPA_CLASS) {
                "the hpa class needs a metric name such as \"cpu\" or \"memory\""
            } else {
                "the kpa class supports \"concurrency\" or \"rps\""
            };
            self.push(Field::Metric, format!("{metric:?}"), allowed);
        }
    }

    fn algorithm(&mut self, class: Option<&str>, algorithm: &str) {
        // Only checked when the class is explicitly KPA: other autoscalers have their own values.
        if class == Some(KPA_CLASS)
            && !matches!(
                algorithm,
                "" | "linear" | "weighted-exponential" | "weightedExponential"
            )
        {
            self.push(
                Field::Algorithm,
                format!("{algorithm:?}"),
                "supported values: \"linear\", \"weighted-exponential\"",
            );
        }
    }

    fn initial_scale(&mut self, v: i64, config: &KpaConfig) {
        if v < 0 {
            self.push(Field::InitialScale, v, "must not be negative");
        } else if v == 0 && !config.allow_zero_initial_scale {
            self.push(
                Field::InitialScale,
                v,
                "initial-scale=0 not allowed by cluster: set allow-zero-initial-scale: \"true\" in config-autoscaler, or use 1 or more",
            );
        } else if v > i64::from(i32::MAX) {
            self.push(
                Field::InitialScale,
                v,
                format!("expected 0 <= {v} <= {}", i32::MAX),
            );
        }
    }

    /// min/max/activation-scale against each other and against `max-scale-limit`.
    fn scale_bounds(
        &mut self,
        min: i32,
        max: i32,
        max_set: bool,
        activation: Option<i32>,
        config: &KpaConfig,
    ) {
        if max != 0 && max < min {
            self.push(
                Field::MaxScale,
                max,
                format!("max-scale={max} is less than min-scale={min}"),
            );
        }
        let limit = config.max_scale_limit;
        if max_set && limit > 0 {
            if max > limit {
                self.push(
                    Field::MaxScale,
                    max,
                    format!("expected 1 <= {max} <= {limit}"),
                );
            }
            if max == 0 {
                self.push(
                    Field::MaxScale,
                    max,
                    format!("max-scale=0 (unlimited), must be less than {limit}"),
                );
            }
        }
        if let Some(nz) = activation {
            if min > nz {
                self.push(
                    Field::ActivationScale,
                    nz,
                    format!("min-scale={min} is greater than activation-scale={nz}"),
                );
            } else if max < nz && max != 0 {
                self.push(
                    Field::ActivationScale,
                    nz,
                    format!("max-scale={max} is less than activation-scale={nz}"),
                );
            } else if nz < 2 {
                self.push(
                    Field::ActivationScale,
                    nz,
                    format!("activation-scale={nz} must be greater than 1"),
                );
            }
        }
    }
}

#[derive(Clone, Copy)]
enum PrecisionRule {
    Truncate,
    Round,
    None,
}

fn duration_nanos(d: KubeDuration) -> SignedDuration {
    SignedDuration(i64::try_from(d.0.as_nanos()).unwrap_or(i64::MAX))
}

impl KpaSettings {
    /// Reads and validates the `autoscaling.knative.dev/*` annotations of `metadata.annotations`
    /// and a `spec.containerConcurrency`, as the Knative webhook would.
    pub fn from_annotations(
        annotations: &BTreeMap<String, String>,
        container_concurrency: Option<i64>,
        config: &KpaConfig,
    ) -> Result<KpaSettings, Vec<FieldError>> {
        Self::from_annotations_at(
            AnnotationPaths::default(),
            annotations,
            container_concurrency,
            config,
        )
    }

    /// [`KpaSettings::from_annotations`] with errors pointing at `paths`.
    pub fn from_annotations_at(
        paths: AnnotationPaths<'_>,
        annotations: &BTreeMap<String, String>,
        container_concurrency: Option<i64>,
        config: &KpaConfig,
    ) -> Result<KpaSettings, Vec<FieldError>> {
        // The key the user wrote (kebab-case wins over the alias) and its value.
        let lookup = |field: Field| -> Option<(String, &String)> {
            let (kebab, alias) = field.keys();
            let full = format!("{GROUP}{kebab}");
            if let Some(v) = annotations.get(&full) {
                return Some((full, v));
            }
            let full = format!("{GROUP}{}", alias?);
            annotations.get(&full).map(|v| (full, v))
        };
        let path = |field: Field| {
            let key = lookup(field)
                .map(|(k, _)| k)
                .unwrap_or_else(|| format!("{GROUP}{}", field.keys().0));
            format!("{}[{key}]", paths.annotations)
        };
        let mut c = Checker {
            path: &path,
            errors: Vec::new(),
        };
        let mut s = KpaSettings::default();
        let text = |field: Field| lookup(field).map(|(_, v)| v.as_str());

        if let Some(v) = text(Field::Class) {
            c.class(v);
            s.class = Some(v.to_string());
        }
        let class = s.class.clone();
        if let Some(v) = text(Field::Metric) {
            c.metric(class.as_deref(), v);
            s.metric = Some(v.to_string());
        }
        if let Some(v) = text(Field::Algorithm) {
            c.algorithm(class.as_deref(), v);
            s.metric_aggregation_algorithm = Some(v.to_string());
        }
        let float = |c: &mut Checker<'_>, field: Field| -> Option<(f64, String)> {
            let raw = text(field)?;
            match parse::float(raw) {
                Ok(v) => Some((v, raw.to_string())),
                Err(_) => {
                    c.push(
                        field,
                        format!("{raw:?}"),
                        "must be a number, like \"10\" or \"0.5\"",
                    );
                    None
                }
            }
        };
        if let Some((v, raw)) = float(&mut c, Field::PanicWindow) {
            c.bounds(Field::PanicWindow, &raw, v, 1.0, 100.0);
            s.panic_window_percentage = Some(v);
        }
        if let Some((v, raw)) = float(&mut c, Field::PanicThreshold) {
            c.bounds(Field::PanicThreshold, &raw, v, 110.0, 1000.0);
            s.panic_threshold_percentage = Some(v);
        }
        if let Some((v, raw)) = float(&mut c, Field::Target) {
            c.target(&raw, v);
            s.target = Some(v);
        }
        if let Some((v, raw)) = float(&mut c, Field::TargetUtilization) {
            c.bounds(Field::TargetUtilization, &raw, v, 1.0, 100.0);
            s.target_utilization_percentage = Some(v);
        }
        if let Some((v, raw)) = float(&mut c, Field::TargetBurstCapacity) {
            c.tbc(&raw, v);
            s.target_burst_capacity = Some(v);
        }

        // min/max parse as non-negative int32 ("getIntGE0"); a bad value counts as 0 below.
        let scale = |c: &mut Checker<'_>, field: Field| -> Option<i32> {
            let raw = text(field)?;
            match parse::int32(raw) {
                Ok(v) if v >= 0 => Some(v),
                Ok(v) => {
                    c.scale(field, i64::from(v));
                    None
                }
                Err(NumError::Range) => {
                    c.push(field, raw, format!("expected 0 <= {raw} <= {}", i32::MAX));
                    None
                }
                Err(NumError::Syntax) => {
                    c.push(
                        field,
                        format!("{raw:?}"),
                        "must be a whole number, like \"1\"",
                    );
                    None
                }
            }
        };
        s.min_scale = scale(&mut c, Field::MinScale);
        s.max_scale = scale(&mut c, Field::MaxScale);
        let activation = match text(Field::ActivationScale) {
            None => None,
            Some(raw) => match parse::int32(raw) {
                Ok(v) => Some(v),
                Err(_) => {
                    c.push(
                        Field::ActivationScale,
                        format!("{raw:?}"),
                        "must be a whole number of at least 2, like \"2\"",
                    );
                    None
                }
            },
        };
        c.scale_bounds(
            s.min_scale.unwrap_or(0),
            s.max_scale.unwrap_or(0),
            text(Field::MaxScale).is_some(),
            activation,
            config,
        );
        s.activation_scale = activation;

        let duration = |c: &mut Checker<'_>, field: Field| -> Option<KubeDuration> {
            let raw = text(field)?;
            match parse::signed_duration(raw) {
                Some(d) => {
                    let before = c.errors.len();
                    c.duration(field, d);
                    (c.errors.len() == before).then(|| KubeDuration(d.to_duration()))
                }
                None => {
                    c.push(
                        field,
                        format!("{raw:?}"),
                        "must be a duration, like \"30s\", \"5m\" or \"1h\"",
                    );
                    None
                }
            }
        };
        s.window = duration(&mut c, Field::Window);
        s.scale_to_zero_pod_retention_period = duration(&mut c, Field::Retention);
        s.scale_down_delay = duration(&mut c, Field::ScaleDownDelay);

        if let Some(raw) = text(Field::InitialScale) {
            match parse::int64(raw) {
                Ok(v) => {
                    let before = c.errors.len();
                    c.initial_scale(v, config);
                    if c.errors.len() == before {
                        s.initial_scale = i32::try_from(v).ok();
                    }
                }
                Err(_) => c.push(
                    Field::InitialScale,
                    format!("{raw:?}"),
                    "must be a whole number, like \"1\"",
                ),
            }
        }
        let mut errors = c.errors;

        if let Some(raw) = annotations.get(PROGRESS_DEADLINE_ANNOTATION) {
            let path = format!("{}[{PROGRESS_DEADLINE_ANNOTATION}]", paths.annotations);
            match parse::signed_duration(raw) {
                Some(d) if d.0 > 0 => s.progress_deadline = Some(KubeDuration(d.to_duration())),
                _ => errors.push(FieldError::invalid(
                    path,
                    format!("{raw:?}"),
                    "must be a positive duration, like \"600s\"",
                )),
            }
        }
        if let Some(cc) = container_concurrency {
            check_container_concurrency(cc, paths.container_concurrency, &mut errors);
            s.container_concurrency = Some(cc);
        }
        if errors.is_empty() {
            Ok(s)
        } else {
            Err(errors)
        }
    }

    /// Checks the typed form (e.g. `spec.kpa` of an ebb `Autoscaler`) with the same rules,
    /// reporting paths as `prefix.minScale`, `prefix.window`, ...
    pub fn validate(&self, config: &KpaConfig, prefix: &str) -> Vec<FieldError> {
        let path = |field: Field| format!("{prefix}.{}", field.typed_name());
        let mut c = Checker {
            path: &path,
            errors: Vec::new(),
        };
        if let Some(class) = &self.class {
            c.class(class);
        }
        let class = self.class.as_deref();
        if let Some(metric) = &self.metric {
            c.metric(class, metric);
        }
        if let Some(a) = &self.metric_aggregation_algorithm {
            c.algorithm(class, a);
        }
        if let Some(v) = self.panic_window_percentage {
            c.bounds(Field::PanicWindow, &parse::go_float(v), v, 1.0, 100.0);
        }
        if let Some(v) = self.panic_threshold_percentage {
            c.bounds(Field::PanicThreshold, &parse::go_float(v), v, 110.0, 1000.0);
        }
        if let Some(v) = self.target {
            c.target(&parse::go_float(v), v);
        }
        if let Some(v) = self.target_utilization_percentage {
            c.bounds(Field::TargetUtilization, &parse::go_float(v), v, 1.0, 100.0);
        }
        if let Some(v) = self.target_burst_capacity {
            c.tbc(&parse::go_float(v), v);
        }
        for (field, v) in [
            (Field::MinScale, self.min_scale),
            (Field::MaxScale, self.max_scale),
        ] {
            if let Some(v) = v {
                c.scale(field, i64::from(v));
            }
        }
        c.scale_bounds(
            self.min_scale.unwrap_or(0).max(0),
            self.max_scale.unwrap_or(0).max(0),
            self.max_scale.is_some(),
            self.activation_scale,
            config,
        );
        for (field, d) in [
            (Field::Window, self.window),
            (Field::Retention, self.scale_to_zero_pod_retention_period),
            (Field::ScaleDownDelay, self.scale_down_delay),
        ] {
            if let Some(d) = d {
                c.duration(field, duration_nanos(d));
            }
        }
        if let Some(v) = self.initial_scale {
            c.initial_scale(i64::from(v), config);
        }
        let mut errors = c.errors;
        if let Some(cc) = self.container_concurrency {
            check_container_concurrency(cc, &format!("{prefix}.containerConcurrency"), &mut errors);
        }
        if let Some(d) = self.progress_deadline
            && d.0.is_zero()
        {
            errors.push(FieldError::invalid(
                format!("{prefix}.progressDeadline"),
                d,
                "must be a positive duration, like \"600s\"",
            ));
        }
        errors
    }
}

fn check_container_concurrency(cc: i64, path: &str, errors: &mut Vec<FieldError>) {
    if !(0..=MAX_CONTAINER_CONCURRENCY).contains(&cc) {
        errors.push(FieldError::invalid(
            path,
            cc,
            format!("expected 0 <= {cc} <= {MAX_CONTAINER_CONCURRENCY}"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (format!("{GROUP}{k}"), v.to_string()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<KpaSettings, Vec<String>> {
        parse_with(pairs, &KpaConfig::default())
    }

    fn parse_with(pairs: &[(&str, &str)], config: &KpaConfig) -> Result<KpaSettings, Vec<String>> {
        KpaSettings::from_annotations(&ann(pairs), None, config)
            .map_err(|errs| errs.iter().map(ToString::to_string).collect())
    }

    fn one_error(pairs: &[(&str, &str)]) -> String {
        let errs = parse(pairs).unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs[0].clone()
    }

    #[test]
    fn s3_every_annotation_is_read() {
        let s = parse(&[
            ("class", KPA_CLASS),
            ("metric", "rps"),
            ("target", "300"),
            ("target-utilization-percentage", "80"),
            ("min-scale", "1"),
            ("max-scale", "10"),
            ("initial-scale", "3"),
            ("activation-scale", "2"),
            ("window", "2m"),
            ("panic-window-percentage", "20"),
            ("panic-threshold-percentage", "150"),
            ("target-burst-capacity", "-1"),
            ("scale-down-delay", "30s"),
            ("scale-to-zero-pod-retention-period", "5m"),
            ("metric-aggregation-algorithm", "weighted-exponential"),
        ])
        .unwrap();
        assert_eq!(
            s,
            KpaSettings {
                class: Some(KPA_CLASS.into()),
                metric: Some("rps".into()),
                target: Some(300.0),
                target_utilization_percentage: Some(80.0),
                min_scale: Some(1),
                max_scale: Some(10),
                initial_scale: Some(3),
                activation_scale: Some(2),
                window: Some(KubeDuration::from_secs(120)),
                panic_window_percentage: Some(20.0),
                panic_threshold_percentage: Some(150.0),
                target_burst_capacity: Some(-1.0),
                scale_down_delay: Some(KubeDuration::from_secs(30)),
                scale_to_zero_pod_retention_period: Some(KubeDuration::from_secs(300)),
                metric_aggregation_algorithm: Some("weighted-exponential".into()),
                container_concurrency: None,
                progress_deadline: None,
            }
        );
    }

    #[test]
    fn s3_legacy_aliases_are_read_and_kebab_case_wins() {
        let s = parse(&[
            ("minScale", "2"),
            ("maxScale", "9"),
            ("initialScale", "4"),
            ("targetUtilizationPercentage", "50"),
            ("panicWindowPercentage", "30"),
            ("panicThresholdPercentage", "300"),
            ("targetBurstCapacity", "0"),
            ("scaleDownDelay", "1m"),
            ("scaleToZeroPodRetentionPeriod", "10s"),
            ("metricAggregationAlgorithm", "linear"),
        ])
        .unwrap();
        assert_eq!(s.min_scale, Some(2));
        assert_eq!(s.max_scale, Some(9));
        assert_eq!(s.initial_scale, Some(4));
        assert_eq!(s.target_utilization_percentage, Some(50.0));
        assert_eq!(s.panic_window_percentage, Some(30.0));
        assert_eq!(s.panic_threshold_percentage, Some(300.0));
        assert_eq!(s.target_burst_capacity, Some(0.0));
        assert_eq!(s.scale_down_delay, Some(KubeDuration::from_secs(60)));
        assert_eq!(
            s.scale_to_zero_pod_retention_period,
            Some(KubeDuration::from_secs(10))
        );
        let s = parse(&[("min-scale", "3"), ("minScale", "1")]).unwrap();
        assert_eq!(s.min_scale, Some(3));
        // Errors name the key as the user wrote it.
        assert_eq!(
            one_error(&[("minScale", "-1")]),
            "metadata.annotations[autoscaling.knative.dev/minScale]: Invalid value: -1: expected 0 <= -1 <= 2147483647"
        );
    }

    #[test]
    fn s3_known_annotation_keys() {
        assert!(is_known_annotation("autoscaling.knative.dev/window"));
        assert!(is_known_annotation("autoscaling.knative.dev/minScale"));
        assert!(is_known_annotation(
            "autoscaling.knative.dev/activation-scale"
        ));
        assert!(!is_known_annotation("autoscaling.knative.dev/windw"));
        assert!(!is_known_annotation(
            "autoscaling.knative.dev/activationScale"
        ));
        assert!(!is_known_annotation("window"));
    }

    #[test]
    fn s3_class_must_be_kpa_or_hpa_within_knative_dev() {
        assert!(parse(&[("class", HPA_CLASS)]).is_ok());
        assert!(parse(&[("class", "keda.sh/http")]).is_ok());
        assert_eq!(
            one_error(&[("class", "foo.autoscaling.knative.dev")]),
            "metadata.annotations[autoscaling.knative.dev/class]: Invalid value: \"foo.autoscaling.knative.dev\": a knative.dev class must be \"kpa.autoscaling.knative.dev\" or \"hpa.autoscaling.knative.dev\""
        );
    }

    #[test]
    fn s3_metric_depends_on_the_class() {
        assert!(parse(&[("metric", "concurrency")]).is_ok());
        assert!(parse(&[("metric", "rps")]).is_ok());
        assert!(parse(&[("class", HPA_CLASS), ("metric", "cpu")]).is_ok());
        assert!(parse(&[("class", "custom.example.com"), ("metric", "")]).is_ok());
        assert_eq!(
            one_error(&[("metric", "cpu")]),
            "metadata.annotations[autoscaling.knative.dev/metric]: Invalid value: \"cpu\": the kpa class supports \"concurrency\" or \"rps\""
        );
        assert_eq!(
            one_error(&[("class", HPA_CLASS), ("metric", "")]),
            "metadata.annotations[autoscaling.knative.dev/metric]: Invalid value: \"\": the hpa class needs a metric name such as \"cpu\" or \"memory\""
        );
    }

    #[test]
    fn s3_float_ranges() {
        let cases = [
            (
                ("target", "0.001"),
                "metadata.annotations[autoscaling.knative.dev/target]: Invalid value: 0.001: target 0.001 should be at least 0.01",
            ),
            (
                ("target", "ten"),
                "metadata.annotations[autoscaling.knative.dev/target]: Invalid value: \"ten\": must be a number, like \"10\" or \"0.5\"",
            ),
            (
                ("target-utilization-percentage", "0.5"),
                "metadata.annotations[autoscaling.knative.dev/target-utilization-percentage]: Invalid value: 0.5: expected 1 <= 0.5 <= 100",
            ),
            (
                ("target-utilization-percentage", "101"),
                "metadata.annotations[autoscaling.knative.dev/target-utilization-percentage]: Invalid value: 101: expected 1 <= 101 <= 100",
            ),
            (
                ("panic-window-percentage", "0"),
                "metadata.annotations[autoscaling.knative.dev/panic-window-percentage]: Invalid value: 0: expected 1 <= 0 <= 100",
            ),
            (
                ("panic-threshold-percentage", "100"),
                "metadata.annotations[autoscaling.knative.dev/panic-threshold-percentage]: Invalid value: 100: expected 110 <= 100 <= 1000",
            ),
            (
                ("panic-threshold-percentage", "1001"),
                "metadata.annotations[autoscaling.knative.dev/panic-threshold-percentage]: Invalid value: 1001: expected 110 <= 1001 <= 1000",
            ),
            (
                ("target-burst-capacity", "-2"),
                "metadata.annotations[autoscaling.knative.dev/target-burst-capacity]: Invalid value: -2: must be at least 0, or exactly -1 to keep the request holder always in the path",
            ),
        ];
        for ((k, v), want) in cases {
            assert_eq!(one_error(&[(k, v)]), want);
        }
        for (k, v) in [
            ("target", "0.01"),
            ("target-utilization-percentage", "1"),
            ("target-utilization-percentage", "100"),
            ("panic-window-percentage", "1"),
            ("panic-window-percentage", "100"),
            ("panic-threshold-percentage", "110"),
            ("panic-threshold-percentage", "1000"),
            ("target-burst-capacity", "0"),
            ("target-burst-capacity", "-1"),
        ] {
            assert!(parse(&[(k, v)]).is_ok(), "{k}={v}");
        }
    }

    #[test]
    fn s3_min_and_max_scale() {
        assert_eq!(
            one_error(&[("min-scale", "1.5")]),
            "metadata.annotations[autoscaling.knative.dev/min-scale]: Invalid value: \"1.5\": must be a whole number, like \"1\""
        );
        assert_eq!(
            one_error(&[("max-scale", "2147483648")]),
            "metadata.annotations[autoscaling.knative.dev/max-scale]: Invalid value: 2147483648: expected 0 <= 2147483648 <= 2147483647"
        );
        assert_eq!(
            one_error(&[("min-scale", "5"), ("max-scale", "3")]),
            "metadata.annotations[autoscaling.knative.dev/max-scale]: Invalid value: 3: max-scale=3 is less than min-scale=5"
        );
        // max 0 means unlimited: no conflict with min.
        assert!(parse(&[("min-scale", "5"), ("max-scale", "0")]).is_ok());
    }

    #[test]
    fn s3_max_scale_limit() {
        let config = KpaConfig {
            max_scale_limit: 10,
            max_scale: 5,
            ..KpaConfig::default()
        };
        let err = |pairs: &[(&str, &str)]| parse_with(pairs, &config).unwrap_err();
        assert_eq!(
            err(&[("max-scale", "11")]),
            vec![
                "metadata.annotations[autoscaling.knative.dev/max-scale]: Invalid value: 11: expected 1 <= 11 <= 10"
            ]
        );
        assert_eq!(
            err(&[("max-scale", "0")]),
            vec![
                "metadata.annotations[autoscaling.knative.dev/max-scale]: Invalid value: 0: max-scale=0 (unlimited), must be less than 10"
            ]
        );
        assert!(parse_with(&[("max-scale", "10")], &config).is_ok());
        // Without the annotation the limit is the ConfigMap's business.
        assert!(parse_with(&[], &config).is_ok());
    }

    #[test]
    fn s3_activation_scale() {
        assert!(parse(&[("activation-scale", "2")]).is_ok());
        assert_eq!(
            one_error(&[("activation-scale", "1")]),
            "metadata.annotations[autoscaling.knative.dev/activation-scale]: Invalid value: 1: activation-scale=1 must be greater than 1"
        );
        assert_eq!(
            one_error(&[("activation-scale", "3"), ("min-scale", "4")]),
            "metadata.annotations[autoscaling.knative.dev/activation-scale]: Invalid value: 3: min-scale=4 is greater than activation-scale=3"
        );
        assert_eq!(
            one_error(&[("activation-scale", "5"), ("max-scale", "4")]),
            "metadata.annotations[autoscaling.knative.dev/activation-scale]: Invalid value: 5: max-scale=4 is less than activation-scale=5"
        );
        assert_eq!(
            one_error(&[("activation-scale", "two")]),
            "metadata.annotations[autoscaling.knative.dev/activation-scale]: Invalid value: \"two\": must be a whole number of at least 2, like \"2\""
        );
    }

    #[test]
    fn s3_window_uses_a_truncation_check() {
        assert!(parse(&[("window", "6s")]).is_ok());
        assert!(parse(&[("window", "1h")]).is_ok());
        assert_eq!(
            one_error(&[("window", "5s")]),
            "metadata.annotations[autoscaling.knative.dev/window]: Invalid value: 5s: expected 6s <= 5s <= 1h0m0s"
        );
        assert_eq!(
            one_error(&[("window", "6.5s")]),
            "metadata.annotations[autoscaling.knative.dev/window]: Invalid value: 6.5s: must be specified with at most second precision"
        );
        assert_eq!(
            one_error(&[("window", "sixty")]),
            "metadata.annotations[autoscaling.knative.dev/window]: Invalid value: \"sixty\": must be a duration, like \"30s\", \"5m\" or \"1h\""
        );
    }

    #[test]
    fn s3_scale_down_delay_and_retention_ranges() {
        assert!(parse(&[("scale-down-delay", "0s")]).is_ok());
        assert!(parse(&[("scale-down-delay", "1h")]).is_ok());
        assert_eq!(
            one_error(&[("scale-down-delay", "-1s")]),
            "metadata.annotations[autoscaling.knative.dev/scale-down-delay]: Invalid value: -1s: expected 0s <= -1s <= 1h0m0s"
        );
        assert_eq!(
            one_error(&[("scale-down-delay", "61m")]),
            "metadata.annotations[autoscaling.knative.dev/scale-down-delay]: Invalid value: 1h1m0s: expected 0s <= 1h1m0s <= 1h0m0s"
        );
        assert_eq!(
            one_error(&[("scale-down-delay", "1.5s")]),
            "metadata.annotations[autoscaling.knative.dev/scale-down-delay]: Invalid value: 1.5s: must be specified with at most second precision"
        );
        // Retention has no precision rule, but the same 1 h cap.
        assert!(parse(&[("scale-to-zero-pod-retention-period", "1.5s")]).is_ok());
        assert_eq!(
            one_error(&[("scale-to-zero-pod-retention-period", "2h")]),
            "metadata.annotations[autoscaling.knative.dev/scale-to-zero-pod-retention-period]: Invalid value: 2h0m0s: expected 0s <= 2h0m0s <= 1h0m0s"
        );
    }

    #[test]
    fn s3_algorithm_is_checked_only_for_an_explicit_kpa_class() {
        assert!(parse(&[("metric-aggregation-algorithm", "bogus")]).is_ok());
        assert!(
            parse(&[
                ("class", KPA_CLASS),
                ("metric-aggregation-algorithm", "weightedExponential")
            ])
            .is_ok()
        );
        assert_eq!(
            one_error(&[
                ("class", KPA_CLASS),
                ("metric-aggregation-algorithm", "bogus")
            ]),
            "metadata.annotations[autoscaling.knative.dev/metric-aggregation-algorithm]: Invalid value: \"bogus\": supported values: \"linear\", \"weighted-exponential\""
        );
    }

    #[test]
    fn s3_initial_scale_zero_needs_the_cluster_switch() {
        assert_eq!(
            one_error(&[("initial-scale", "0")]),
            "metadata.annotations[autoscaling.knative.dev/initial-scale]: Invalid value: 0: initial-scale=0 not allowed by cluster: set allow-zero-initial-scale: \"true\" in config-autoscaler, or use 1 or more"
        );
        let allow = KpaConfig {
            allow_zero_initial_scale: true,
            ..KpaConfig::default()
        };
        assert_eq!(
            parse_with(&[("initial-scale", "0")], &allow)
                .unwrap()
                .initial_scale,
            Some(0)
        );
        assert_eq!(
            one_error(&[("initial-scale", "-2")]),
            "metadata.annotations[autoscaling.knative.dev/initial-scale]: Invalid value: -2: must not be negative"
        );
    }

    #[test]
    fn s3_container_concurrency_and_progress_deadline() {
        let mut a = ann(&[]);
        a.insert(PROGRESS_DEADLINE_ANNOTATION.into(), "2m".into());
        let s = KpaSettings::from_annotations(&a, Some(10), &KpaConfig::default()).unwrap();
        assert_eq!(s.container_concurrency, Some(10));
        assert_eq!(s.progress_deadline, Some(KubeDuration::from_secs(120)));
        let paths = AnnotationPaths {
            annotations: "spec.template.metadata.annotations",
            container_concurrency: "spec.template.spec.containerConcurrency",
        };
        let errs = KpaSettings::from_annotations_at(paths, &a, Some(1001), &KpaConfig::default())
            .unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "spec.template.spec.containerConcurrency: Invalid value: 1001: expected 0 <= 1001 <= 1000"
        );
    }

    #[test]
    fn s3_all_errors_are_reported_together() {
        let errs = parse(&[("target", "0"), ("window", "1s"), ("min-scale", "x")]).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
    }

    #[test]
    fn typed_form_is_checked_with_the_same_rules() {
        let s = KpaSettings {
            target: Some(0.001),
            window: Some(KubeDuration::from_secs(5)),
            min_scale: Some(4),
            max_scale: Some(2),
            activation_scale: Some(1),
            container_concurrency: Some(-1),
            ..KpaSettings::default()
        };
        let errs: Vec<String> = s
            .validate(&KpaConfig::default(), "spec.kpa")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.kpa.target: Invalid value: 0.001: target 0.001 should be at least 0.01",
                "spec.kpa.maxScale: Invalid value: 2: max-scale=2 is less than min-scale=4",
                "spec.kpa.activationScale: Invalid value: 1: min-scale=4 is greater than activation-scale=1",
                "spec.kpa.window: Invalid value: 5s: expected 6s <= 5s <= 1h0m0s",
                "spec.kpa.containerConcurrency: Invalid value: -1: expected 0 <= -1 <= 1000",
            ]
        );
        assert!(
            KpaSettings::default()
                .validate(&KpaConfig::default(), "spec.kpa")
                .is_empty()
        );
    }

    #[test]
    fn settings_serialize_in_camel_case_without_unset_fields() {
        let s = parse(&[
            ("min-scale", "0"),
            ("scale-to-zero-pod-retention-period", "5m"),
        ])
        .unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"minScale":0,"scaleToZeroPodRetentionPeriod":"5m0s"}"#
        );
        let back: KpaSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
