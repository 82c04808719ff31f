//! `config-autoscaler`: the cluster-wide defaults of the Knative Pod Autoscaler (spec §2).
//!
//! [`KpaConfig::default`] holds the upstream defaults; [`KpaConfig::from_map`] reads the
//! ConfigMap's `data` the way Knative does (unknown keys ignored, percentages above 1 divided by
//! 100) and applies the same validation, reporting every problem at once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::parse::{self, NumError, SignedDuration};
use crate::units::KubeDuration;
use crate::validation::FieldError;

/// Class name of the Knative Pod Autoscaler.
pub const KPA_CLASS: &str = "kpa.autoscaling.knative.dev";
/// Class name of Knative's HPA-backed autoscaler.
pub const HPA_CLASS: &str = "hpa.autoscaling.knative.dev";

/// The smallest per-pod target Knative accepts (`TargetMin`).
pub const TARGET_MIN: f64 = 0.01;
/// Shortest stable window (`WindowMin`).
pub const WINDOW_MIN: Duration = Duration::from_secs(6);
/// Longest stable window, scale-down delay and retention (`WindowMax`).
pub const WINDOW_MAX: Duration = Duration::from_secs(3600);

/// The `config-autoscaler` ConfigMap, parsed, with upstream defaults.
///
/// Besides the ConfigMap keys this carries `targetUtilization` (fixed at 0.7 upstream, used by
/// the `rps` metric) and the Deployment progress deadline (from `config-deployment`), which the
/// activation timeout is derived from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KpaConfig {
    /// `enable-scale-to-zero`: if false a want of 0 becomes 1.
    pub enable_scale_to_zero: bool,
    /// `container-concurrency-target-percentage` as a fraction (0.7).
    pub container_concurrency_target_fraction: f64,
    /// `container-concurrency-target-default`: per-pod capacity when containerConcurrency is 0.
    pub container_concurrency_target_default: f64,
    /// Target utilization for the `rps` metric (not in the ConfigMap; 0.7).
    pub target_utilization: f64,
    /// `requests-per-second-target-default`.
    pub rps_target_default: f64,
    /// `max-scale-up-rate`.
    pub max_scale_up_rate: f64,
    /// `max-scale-down-rate`.
    pub max_scale_down_rate: f64,
    /// `target-burst-capacity`: ≥ 0, or −1 for "request holder always in the path".
    pub target_burst_capacity: f64,
    /// `panic-window-percentage`.
    pub panic_window_percentage: f64,
    /// `activator-capacity`: concurrent requests one request holder takes.
    pub activator_capacity: f64,
    /// `panic-threshold-percentage`.
    pub panic_threshold_percentage: f64,
    /// `stable-window`.
    pub stable_window: KubeDuration,
    /// `scale-to-zero-grace-period`.
    pub scale_to_zero_grace_period: KubeDuration,
    /// `scale-to-zero-pod-retention-period`.
    pub scale_to_zero_pod_retention_period: KubeDuration,
    /// `scale-down-delay`.
    pub scale_down_delay: KubeDuration,
    /// `pod-autoscaler-class`.
    pub pod_autoscaler_class: String,
    /// `allow-zero-initial-scale`.
    pub allow_zero_initial_scale: bool,
    /// `initial-scale`.
    pub initial_scale: i32,
    /// `min-scale`.
    pub min_scale: i32,
    /// `max-scale` (0 = unlimited).
    pub max_scale: i32,
    /// `max-scale-limit` (0 = none).
    pub max_scale_limit: i32,
    /// `progress-deadline` of `config-deployment` (600 s); activation times out 30 s after it.
    pub progress_deadline: KubeDuration,
}

impl Default for KpaConfig {
    fn default() -> Self {
        KpaConfig {
            enable_scale_to_zero: true,
            container_concurrency_target_fraction: 0.7,
            container_concurrency_target_default: 100.0,
            target_utilization: 0.7,
            rps_target_default: 200.0,
            max_scale_up_rate: 1000.0,
            max_scale_down_rate: 2.0,
            target_burst_capacity: 211.0,
            panic_window_percentage: 10.0,
            activator_capacity: 100.0,
            panic_threshold_percentage: 200.0,
            stable_window: KubeDuration::from_secs(60),
            scale_to_zero_grace_period: KubeDuration::from_secs(30),
            scale_to_zero_pod_retention_period: KubeDuration::from_secs(0),
            scale_down_delay: KubeDuration::from_secs(0),
            pod_autoscaler_class: KPA_CLASS.to_string(),
            allow_zero_initial_scale: false,
            initial_scale: 1,
            min_scale: 0,
            max_scale: 0,
            max_scale_limit: 0,
            progress_deadline: KubeDuration::from_secs(600),
        }
    }
}

/// Reads the values of a Knative ConfigMap's `data` with the Go parsers Knative uses, and
/// collects a parse error for every bad key (at `prefix[key]`) instead of stopping at the first.
pub struct Reader<'a> {
    data: &'a BTreeMap<String, String>,
    prefix: &'a str,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    /// A reader of `data`, reporting paths as `prefix[key]`.
    pub fn new(data: &'a BTreeMap<String, String>, prefix: &'a str) -> Self {
        Reader {
            data,
            prefix,
            errors: Vec::new(),
        }
    }

    /// The parse errors found so far.
    pub fn finish(self) -> Vec<FieldError> {
        self.errors
    }

    fn path(&self, key: &str) -> String {
        format!("{}[{key}]", self.prefix)
    }

    fn float(&mut self, key: &str, into: &mut f64) {
        if let Some(raw) = self.data.get(key) {
            match parse::float(raw) {
                Ok(v) => *into = v,
                Err(_) => self.errors.push(FieldError::invalid(
                    self.path(key),
                    format!("{raw:?}"),
                    "must be a number, like \"100\" or \"0.7\"",
                )),
            }
        }
    }

    /// `key` as Go's `strconv.ParseInt(s, 10, 64)` reads it, into `into` when present.
    pub fn int64(&mut self, key: &str, into: &mut i64) {
        if let Some(raw) = self.data.get(key) {
            match parse::int64(raw) {
                Ok(v) => *into = v,
                Err(e) => self.errors.push(FieldError::invalid(
                    self.path(key),
                    format!("{raw:?}"),
                    match e {
                        NumError::Range => "must fit in 64 bits",
                        NumError::Syntax => "must be a whole number, like \"1\"",
                    },
                )),
            }
        }
    }

    fn int32(&mut self, key: &str, into: &mut i32) {
        if let Some(raw) = self.data.get(key) {
            match parse::int32(raw) {
                Ok(v) => *into = v,
                Err(e) => self.errors.push(FieldError::invalid(
                    self.path(key),
                    format!("{raw:?}"),
                    match e {
                        NumError::Range => "must fit in 32 bits (at most 2147483647)",
                        NumError::Syntax => "must be a whole number, like \"1\"",
                    },
                )),
            }
        }
    }

    /// `key` as Go's `strconv.ParseBool` reads it, into `into` when present.
    pub fn boolean(&mut self, key: &str, into: &mut bool) {
        if let Some(raw) = self.data.get(key) {
            match parse::boolean(raw) {
                Some(v) => *into = v,
                None => self.errors.push(FieldError::invalid(
                    self.path(key),
                    format!("{raw:?}"),
                    "must be \"true\" or \"false\"",
                )),
            }
        }
    }

    fn duration(&mut self, key: &str) -> Option<SignedDuration> {
        let raw = self.data.get(key)?;
        let parsed = parse::signed_duration(raw);
        if parsed.is_none() {
            self.errors.push(FieldError::invalid(
                self.path(key),
                format!("{raw:?}"),
                "must be a duration, like \"30s\", \"5m\" or \"1h\"",
            ));
        }
        parsed
    }
}

impl KpaConfig {
    /// Reads a `config-autoscaler` ConfigMap's `data`, reporting paths as `data[key]`.
    pub fn from_map(data: &BTreeMap<String, String>) -> Result<KpaConfig, Vec<FieldError>> {
        Self::from_map_at(data, "data")
    }

    /// Reads `config-autoscaler` keys found at `prefix` (paths are `prefix[key]`).
    pub fn from_map_at(
        data: &BTreeMap<String, String>,
        prefix: &str,
    ) -> Result<KpaConfig, Vec<FieldError>> {
        let mut c = KpaConfig::default();
        let mut r = Reader::new(data, prefix);
        if let Some(v) = data.get("pod-autoscaler-class") {
            c.pod_autoscaler_class = v.clone();
        }
        r.boolean("enable-scale-to-zero", &mut c.enable_scale_to_zero);
        r.boolean("allow-zero-initial-scale", &mut c.allow_zero_initial_scale);
        r.float("max-scale-up-rate", &mut c.max_scale_up_rate);
        r.float("max-scale-down-rate", &mut c.max_scale_down_rate);
        r.float(
            "container-concurrency-target-percentage",
            &mut c.container_concurrency_target_fraction,
        );
        r.float(
            "container-concurrency-target-default",
            &mut c.container_concurrency_target_default,
        );
        r.float(
            "requests-per-second-target-default",
            &mut c.rps_target_default,
        );
        r.float("target-burst-capacity", &mut c.target_burst_capacity);
        r.float("panic-window-percentage", &mut c.panic_window_percentage);
        r.float("activator-capacity", &mut c.activator_capacity);
        r.float(
            "panic-threshold-percentage",
            &mut c.panic_threshold_percentage,
        );
        r.int32("initial-scale", &mut c.initial_scale);
        r.int32("min-scale", &mut c.min_scale);
        r.int32("max-scale", &mut c.max_scale);
        r.int32("max-scale-limit", &mut c.max_scale_limit);
        let stable_window = r.duration("stable-window");
        let scale_down_delay = r.duration("scale-down-delay");
        let grace = r.duration("scale-to-zero-grace-period");
        let retention = r.duration("scale-to-zero-pod-retention-period");
        let progress_deadline = r.duration("progress-deadline");
        let mut errors = r.finish();
        if !errors.is_empty() {
            // Upstream stops at the first malformed value; range checks on defaults would only
            // add noise.
            return Err(errors);
        }

        // Legacy: values in (0, 1] are fractions, larger values are percentages.
        if c.container_concurrency_target_fraction > 1.0 {
            c.container_concurrency_target_fraction /= 100.0;
        }
        let path = |key: &str| format!("{prefix}[{key}]");
        let mut bad = |key: &str, value: String, message: String| {
            errors.push(FieldError::invalid(path(key), value, message));
        };

        let grace = grace.unwrap_or(SignedDuration(30_000_000_000));
        if grace.0 <= 0 {
            bad(
                "scale-to-zero-grace-period",
                grace.go_string(),
                "must be positive, like \"30s\"".into(),
            );
        }
        let delay = scale_down_delay.unwrap_or(SignedDuration(0));
        if delay.is_negative() {
            bad(
                "scale-down-delay",
                delay.go_string(),
                "cannot be negative".into(),
            );
        } else if !delay.rounds_to_itself() {
            bad(
                "scale-down-delay",
                delay.go_string(),
                "must be specified with at most second precision".into(),
            );
        }
        let retention = retention.unwrap_or(SignedDuration(0));
        if retention.is_negative() {
            bad(
                "scale-to-zero-pod-retention-period",
                retention.go_string(),
                "cannot be negative".into(),
            );
        }
        let deadline = progress_deadline.unwrap_or(SignedDuration(600_000_000_000));
        if deadline.0 <= 0 {
            bad(
                "progress-deadline",
                deadline.go_string(),
                "must be positive, like \"600s\"".into(),
            );
        }
        let tbc = c.target_burst_capacity;
        if tbc < 0.0 && tbc != -1.0 {
            bad(
                "target-burst-capacity",
                parse::go_float_f(tbc),
                "must be either non-negative or -1 (for unlimited)".into(),
            );
        }
        let fraction = c.container_concurrency_target_fraction;
        if fraction <= 0.0 || fraction > 1.0 {
            bad(
                "container-concurrency-target-percentage",
                parse::go_float_f(fraction),
                "is outside of valid range of (0, 100]".into(),
            );
        } else if fraction * c.container_concurrency_target_default < TARGET_MIN {
            let x = fraction * c.container_concurrency_target_default;
            bad(
                "container-concurrency-target-default",
                parse::go_float(c.container_concurrency_target_default),
                format!(
                    "container-concurrency-target-percentage and container-concurrency-target-default yield target concurrency of {}, can't be less than {}",
                    parse::go_float(x),
                    parse::go_float(TARGET_MIN)
                ),
            );
        }
        if c.rps_target_default < TARGET_MIN {
            bad(
                "requests-per-second-target-default",
                parse::go_float(c.rps_target_default),
                format!("must be at least {}", parse::go_float(TARGET_MIN)),
            );
        }
        if c.activator_capacity < 1.0 {
            bad(
                "activator-capacity",
                parse::go_float(c.activator_capacity),
                "must be at least 1".into(),
            );
        }
        if c.max_scale_up_rate <= 1.0 {
            bad(
                "max-scale-up-rate",
                parse::go_float(c.max_scale_up_rate),
                "must be greater than 1.0".into(),
            );
        }
        if c.max_scale_down_rate <= 1.0 {
            bad(
                "max-scale-down-rate",
                parse::go_float(c.max_scale_down_rate),
                "must be greater than 1.0".into(),
            );
        }
        let window = stable_window.unwrap_or(SignedDuration(60_000_000_000));
        let window_range = SignedDuration(WINDOW_MIN.as_nanos() as i64)
            ..=SignedDuration(WINDOW_MAX.as_nanos() as i64);
        if !window_range.contains(&window) {
            bad(
                "stable-window",
                window.go_string(),
                "must be in [6s; 1h0m0s] range".into(),
            );
        } else if !window.rounds_to_itself() {
            bad(
                "stable-window",
                window.go_string(),
                "must be specified with at most second precision".into(),
            );
        }
        let pwp = c.panic_window_percentage;
        if !(1.0..=100.0).contains(&pwp) {
            bad(
                "panic-window-percentage",
                parse::go_float(pwp),
                "must be in [1, 100] interval".into(),
            );
        }
        if c.initial_scale < 0 || (c.initial_scale == 0 && !c.allow_zero_initial_scale) {
            bad(
                "initial-scale",
                c.initial_scale.to_string(),
                "must be at least 0 (or at least 1 when allow-zero-initial-scale is false)".into(),
            );
        }
        let min_max_scale = i32::from(c.max_scale_limit > 0);
        if c.max_scale < min_max_scale || (c.max_scale_limit > 0 && c.max_scale > c.max_scale_limit)
        {
            bad(
                "max-scale",
                c.max_scale.to_string(),
                format!(
                    "must be in [{min_max_scale}, max-scale-limit({})] range",
                    c.max_scale_limit
                ),
            );
        }
        if c.max_scale_limit < 0 {
            bad(
                "max-scale-limit",
                c.max_scale_limit.to_string(),
                "must be at least 0".into(),
            );
        }
        if c.min_scale < 0 || (c.max_scale > 0 && c.min_scale > c.max_scale) {
            bad(
                "min-scale",
                c.min_scale.to_string(),
                format!("must be in [0, max-scale({})] range", c.max_scale),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        c.stable_window = KubeDuration(window.to_duration());
        c.scale_down_delay = KubeDuration(delay.to_duration());
        c.scale_to_zero_grace_period = KubeDuration(grace.to_duration());
        c.scale_to_zero_pod_retention_period = KubeDuration(retention.to_duration());
        c.progress_deadline = KubeDuration(deadline.to_duration());
        Ok(c)
    }

    /// The per-pod concurrency target the ConfigMap alone yields (70 with defaults).
    pub fn concurrency_target(&self) -> f64 {
        self.container_concurrency_target_fraction * self.container_concurrency_target_default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn messages(pairs: &[(&str, &str)]) -> Vec<String> {
        KpaConfig::from_map(&map(pairs))
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn s2_defaults_match_upstream() {
        let c = KpaConfig::from_map(&BTreeMap::new()).unwrap();
        assert_eq!(c, KpaConfig::default());
        assert_eq!(c.container_concurrency_target_fraction, 0.7);
        assert_eq!(c.container_concurrency_target_default, 100.0);
        assert_eq!(c.rps_target_default, 200.0);
        assert_eq!(c.target_burst_capacity, 211.0);
        assert_eq!(c.stable_window, KubeDuration::from_secs(60));
        assert_eq!(c.panic_window_percentage, 10.0);
        assert_eq!(c.panic_threshold_percentage, 200.0);
        assert_eq!(c.max_scale_up_rate, 1000.0);
        assert_eq!(c.max_scale_down_rate, 2.0);
        assert!(c.enable_scale_to_zero);
        assert_eq!(c.scale_to_zero_grace_period, KubeDuration::from_secs(30));
        assert_eq!(
            c.scale_to_zero_pod_retention_period,
            KubeDuration::from_secs(0)
        );
        assert_eq!(c.scale_down_delay, KubeDuration::from_secs(0));
        assert_eq!(c.activator_capacity, 100.0);
        assert_eq!(c.pod_autoscaler_class, KPA_CLASS);
        assert_eq!(c.initial_scale, 1);
        assert!(!c.allow_zero_initial_scale);
        assert_eq!((c.min_scale, c.max_scale, c.max_scale_limit), (0, 0, 0));
        assert_eq!(c.target_utilization, 0.7);
        assert_eq!(c.concurrency_target(), 70.0);
    }

    #[test]
    fn s2_unknown_keys_are_ignored() {
        let c = KpaConfig::from_map(&map(&[("tick-interval", "2s"), ("panic-window", "6s")]));
        assert_eq!(c, Ok(KpaConfig::default()));
    }

    #[test]
    fn s2_target_percentage_above_one_is_divided_by_100() {
        let c = KpaConfig::from_map(&map(&[("container-concurrency-target-percentage", "70")]));
        assert_eq!(c.unwrap().container_concurrency_target_fraction, 0.7);
        let c = KpaConfig::from_map(&map(&[("container-concurrency-target-percentage", "1")]));
        assert_eq!(c.unwrap().container_concurrency_target_fraction, 1.0);
        let c = KpaConfig::from_map(&map(&[("container-concurrency-target-percentage", "0.5")]));
        assert_eq!(c.unwrap().container_concurrency_target_fraction, 0.5);
    }

    #[test]
    fn s2_every_key_is_read() {
        let c = KpaConfig::from_map(&map(&[
            ("enable-scale-to-zero", "false"),
            ("allow-zero-initial-scale", "true"),
            ("max-scale-up-rate", "10"),
            ("max-scale-down-rate", "4"),
            ("container-concurrency-target-default", "10"),
            ("requests-per-second-target-default", "50"),
            ("target-burst-capacity", "-1"),
            ("panic-window-percentage", "20"),
            ("activator-capacity", "50"),
            ("panic-threshold-percentage", "300"),
            ("initial-scale", "0"),
            ("min-scale", "1"),
            ("max-scale", "5"),
            ("max-scale-limit", "8"),
            ("stable-window", "2m"),
            ("scale-down-delay", "30s"),
            ("scale-to-zero-grace-period", "45s"),
            ("scale-to-zero-pod-retention-period", "5m"),
            ("pod-autoscaler-class", "custom.example.com"),
            ("progress-deadline", "120s"),
        ]))
        .unwrap();
        assert!(!c.enable_scale_to_zero);
        assert!(c.allow_zero_initial_scale);
        assert_eq!(c.max_scale_up_rate, 10.0);
        assert_eq!(c.max_scale_down_rate, 4.0);
        assert_eq!(c.container_concurrency_target_default, 10.0);
        assert_eq!(c.rps_target_default, 50.0);
        assert_eq!(c.target_burst_capacity, -1.0);
        assert_eq!(c.panic_window_percentage, 20.0);
        assert_eq!(c.activator_capacity, 50.0);
        assert_eq!(c.panic_threshold_percentage, 300.0);
        assert_eq!(c.initial_scale, 0);
        assert_eq!((c.min_scale, c.max_scale, c.max_scale_limit), (1, 5, 8));
        assert_eq!(c.stable_window, KubeDuration::from_secs(120));
        assert_eq!(c.scale_down_delay, KubeDuration::from_secs(30));
        assert_eq!(c.scale_to_zero_grace_period, KubeDuration::from_secs(45));
        assert_eq!(
            c.scale_to_zero_pod_retention_period,
            KubeDuration::from_secs(300)
        );
        assert_eq!(c.pod_autoscaler_class, "custom.example.com");
        assert_eq!(c.progress_deadline, KubeDuration::from_secs(120));
    }

    #[test]
    fn s2_malformed_values_fail_the_whole_config_and_all_are_reported() {
        let m = messages(&[
            ("max-scale-up-rate", "fast"),
            ("enable-scale-to-zero", "yes"),
            ("initial-scale", "1.5"),
            ("stable-window", "60"),
        ]);
        assert_eq!(
            m,
            vec![
                "data[enable-scale-to-zero]: Invalid value: \"yes\": must be \"true\" or \"false\"",
                "data[max-scale-up-rate]: Invalid value: \"fast\": must be a number, like \"100\" or \"0.7\"",
                "data[initial-scale]: Invalid value: \"1.5\": must be a whole number, like \"1\"",
                "data[stable-window]: Invalid value: \"60\": must be a duration, like \"30s\", \"5m\" or \"1h\"",
            ]
        );
    }

    #[test]
    fn s2_range_checks_use_upstream_messages() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("scale-to-zero-grace-period", "0s")],
                "data[scale-to-zero-grace-period]: Invalid value: 0s: must be positive, like \"30s\"",
            ),
            (
                &[("scale-down-delay", "-1s")],
                "data[scale-down-delay]: Invalid value: -1s: cannot be negative",
            ),
            (
                &[("scale-down-delay", "1500ms")],
                "data[scale-down-delay]: Invalid value: 1.5s: must be specified with at most second precision",
            ),
            (
                &[("scale-to-zero-pod-retention-period", "-5m")],
                "data[scale-to-zero-pod-retention-period]: Invalid value: -5m0s: cannot be negative",
            ),
            (
                &[("target-burst-capacity", "-2")],
                "data[target-burst-capacity]: Invalid value: -2.000000: must be either non-negative or -1 (for unlimited)",
            ),
            (
                &[("container-concurrency-target-percentage", "0")],
                "data[container-concurrency-target-percentage]: Invalid value: 0.000000: is outside of valid range of (0, 100]",
            ),
            (
                &[("container-concurrency-target-percentage", "200")],
                "data[container-concurrency-target-percentage]: Invalid value: 2.000000: is outside of valid range of (0, 100]",
            ),
            (
                &[("container-concurrency-target-default", "0.01")],
                "data[container-concurrency-target-default]: Invalid value: 0.01: container-concurrency-target-percentage and container-concurrency-target-default yield target concurrency of 0.006999999999999999, can't be less than 0.01",
            ),
            (
                &[("requests-per-second-target-default", "0")],
                "data[requests-per-second-target-default]: Invalid value: 0: must be at least 0.01",
            ),
            (
                &[("activator-capacity", "0.5")],
                "data[activator-capacity]: Invalid value: 0.5: must be at least 1",
            ),
            (
                &[("max-scale-up-rate", "1")],
                "data[max-scale-up-rate]: Invalid value: 1: must be greater than 1.0",
            ),
            (
                &[("max-scale-down-rate", "0.5")],
                "data[max-scale-down-rate]: Invalid value: 0.5: must be greater than 1.0",
            ),
            (
                &[("stable-window", "5s")],
                "data[stable-window]: Invalid value: 5s: must be in [6s; 1h0m0s] range",
            ),
            (
                &[("stable-window", "61m")],
                "data[stable-window]: Invalid value: 1h1m0s: must be in [6s; 1h0m0s] range",
            ),
            (
                &[("stable-window", "6500ms")],
                "data[stable-window]: Invalid value: 6.5s: must be specified with at most second precision",
            ),
            (
                &[("panic-window-percentage", "0.5")],
                "data[panic-window-percentage]: Invalid value: 0.5: must be in [1, 100] interval",
            ),
            (
                &[("panic-window-percentage", "101")],
                "data[panic-window-percentage]: Invalid value: 101: must be in [1, 100] interval",
            ),
            (
                &[("initial-scale", "0")],
                "data[initial-scale]: Invalid value: 0: must be at least 0 (or at least 1 when allow-zero-initial-scale is false)",
            ),
            (
                &[
                    ("initial-scale", "-1"),
                    ("allow-zero-initial-scale", "true"),
                ],
                "data[initial-scale]: Invalid value: -1: must be at least 0 (or at least 1 when allow-zero-initial-scale is false)",
            ),
            (
                &[("max-scale-limit", "5")],
                "data[max-scale]: Invalid value: 0: must be in [1, max-scale-limit(5)] range",
            ),
            (
                &[("max-scale-limit", "5"), ("max-scale", "6")],
                "data[max-scale]: Invalid value: 6: must be in [1, max-scale-limit(5)] range",
            ),
            (
                &[("max-scale-limit", "-1")],
                "data[max-scale-limit]: Invalid value: -1: must be at least 0",
            ),
            (
                &[("min-scale", "3"), ("max-scale", "2")],
                "data[min-scale]: Invalid value: 3: must be in [0, max-scale(2)] range",
            ),
            (
                &[("min-scale", "-1")],
                "data[min-scale]: Invalid value: -1: must be in [0, max-scale(0)] range",
            ),
            (
                &[("progress-deadline", "0s")],
                "data[progress-deadline]: Invalid value: 0s: must be positive, like \"600s\"",
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(messages(pairs), vec![want.to_string()], "{pairs:?}");
        }
    }

    #[test]
    fn s2_boundaries_are_accepted() {
        let ok = |pairs: &[(&str, &str)]| KpaConfig::from_map(&map(pairs)).is_ok();
        assert!(ok(&[("stable-window", "6s")]));
        assert!(ok(&[("stable-window", "1h")]));
        assert!(ok(&[("target-burst-capacity", "0")]));
        assert!(ok(&[("panic-window-percentage", "1")]));
        assert!(ok(&[("panic-window-percentage", "100")]));
        assert!(ok(&[("activator-capacity", "1")]));
        assert!(ok(&[
            ("initial-scale", "0"),
            ("allow-zero-initial-scale", "true")
        ]));
        assert!(ok(&[("max-scale-limit", "5"), ("max-scale", "5")]));
        assert!(ok(&[("min-scale", "2"), ("max-scale", "2")]));
        // No check on the threshold in the ConfigMap (only the annotation is range-checked).
        assert!(ok(&[("panic-threshold-percentage", "50")]));
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = KpaConfig::from_map(&map(&[("stable-window", "2m")])).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"stableWindow\":\"2m0s\""), "{json}");
        let back: KpaConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }
}
