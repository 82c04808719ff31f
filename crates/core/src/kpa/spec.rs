//! The decider's spec: cluster defaults and revision settings resolved into the numbers the
//! engine works with (spec §4), plus the reconciler's bounds and timers (§8).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::KpaConfig;
use super::settings::KpaSettings;
use crate::units::KubeDuration;

/// The metric the KPA scales on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Requests in flight (the default).
    Concurrency,
    /// Requests per second.
    Rps,
}

impl Metric {
    /// `concurrency` or `rps`, as the annotation spells it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Concurrency => "concurrency",
            Metric::Rps => "rps",
        }
    }
}

/// How a window of per-second values is averaged (§5.5, §5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Plain average over the buckets since the first write (the default).
    Linear,
    /// Exponentially weighted, newest bucket first, not normalised.
    WeightedExponential,
}

/// Whether the revision receives traffic from a route (§3 "Other inputs").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Reachability {
    /// Routed.
    Reachable,
    /// Not routed (or infrastructure failure with 0 ready pods): min-scale and retention are
    /// ignored and scale-down is not rate limited.
    Unreachable,
    /// Not known: treated as reachable.
    #[default]
    Unknown,
}

impl Reachability {
    /// Everything but `Unreachable` counts as reachable.
    pub fn is_reachable(self) -> bool {
        self != Reachability::Unreachable
    }
}

/// Everything the decider and the reconciler need, resolved from config and settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KpaSpec {
    /// The metric scaled on.
    pub metric: Metric,
    /// What each pod should carry on average: `max(0.01, total × utilization)`.
    pub target_value: f64,
    /// What each pod can carry at most.
    pub total_value: f64,
    /// The utilization applied to the total (0.7 by default).
    pub target_utilization: f64,
    /// Panic when panic pods / ready ≥ this (2.0 by default).
    pub panic_threshold: f64,
    /// Headroom that must exist before the request holder may leave the path (−1: never).
    pub target_burst_capacity: f64,
    /// Scale-down decisions apply only after the lower value held this long.
    pub scale_down_delay: KubeDuration,
    /// The smallest non-zero want (applies only when > 1).
    pub activation_scale: i32,
    /// Replicas a new revision starts with.
    pub initial_scale: i32,
    /// Stable averaging window.
    pub stable_window: KubeDuration,
    /// Panic averaging window.
    pub panic_window: KubeDuration,
    /// `max-scale-up-rate`.
    pub max_scale_up_rate: f64,
    /// `max-scale-down-rate`.
    pub max_scale_down_rate: f64,
    /// Concurrent requests one request holder takes.
    pub activator_capacity: f64,
    /// Window averaging algorithm.
    pub algorithm: Algorithm,
    /// min-scale (before reachability is considered).
    pub min_scale: i32,
    /// max-scale (0 = none).
    pub max_scale: i32,
    /// If false, a want of 0 becomes 1.
    pub enable_scale_to_zero: bool,
    /// Longest wait, once inactive, for the request holder to be in the path.
    pub scale_to_zero_grace_period: KubeDuration,
    /// Shortest time the last pod stays after the revision went inactive.
    pub scale_to_zero_pod_retention_period: KubeDuration,
    /// Activating longer than this with a want of 0 gives up (progress deadline + 30 s).
    pub activation_timeout: KubeDuration,
    /// containerConcurrency (0 = unlimited).
    pub container_concurrency: i64,
}

/// Added to the progress deadline to get the activation timeout.
pub const ACTIVATION_TIMEOUT_BUFFER: Duration = Duration::from_secs(30);

impl KpaSpec {
    /// Resolves cluster defaults and revision settings (§4).
    pub fn resolve(config: &KpaConfig, settings: &KpaSettings) -> KpaSpec {
        let cc = settings.container_concurrency.unwrap_or(0).max(0);
        let metric = match settings.metric.as_deref() {
            Some("rps") => Metric::Rps,
            _ => Metric::Concurrency,
        };
        let (mut total, mut tu) = match metric {
            Metric::Rps => (config.rps_target_default, config.target_utilization),
            Metric::Concurrency => (
                if cc != 0 {
                    cc as f64
                } else {
                    config.container_concurrency_target_default
                },
                config.container_concurrency_target_fraction,
            ),
        };
        if let Some(a) = settings.target {
            total = a;
            if metric == Metric::Concurrency && cc != 0 {
                total = total.min(cc as f64);
            }
        }
        if let Some(p) = settings.target_utilization_percentage {
            tu = p / 100.0;
        }
        let stable_window = settings.window.unwrap_or(config.stable_window);
        let panic_pct = settings
            .panic_window_percentage
            .unwrap_or(config.panic_window_percentage);
        let initial_scale = match settings.initial_scale {
            Some(v) if v != 0 || config.allow_zero_initial_scale => v,
            _ => config.initial_scale,
        };
        let algorithm = match settings.metric_aggregation_algorithm.as_deref() {
            Some("weighted-exponential" | "weightedExponential") => Algorithm::WeightedExponential,
            _ => Algorithm::Linear,
        };
        let progress_deadline = settings
            .progress_deadline
            .unwrap_or(config.progress_deadline);
        KpaSpec {
            metric,
            target_value: (total * tu).max(super::config::TARGET_MIN),
            total_value: total,
            target_utilization: tu,
            panic_threshold: settings
                .panic_threshold_percentage
                .unwrap_or(config.panic_threshold_percentage)
                / 100.0,
            target_burst_capacity: settings
                .target_burst_capacity
                .unwrap_or(config.target_burst_capacity),
            scale_down_delay: settings.scale_down_delay.unwrap_or(config.scale_down_delay),
            activation_scale: settings.activation_scale.unwrap_or(0),
            initial_scale,
            stable_window,
            panic_window: KubeDuration(panic_window(stable_window.0, panic_pct)),
            max_scale_up_rate: config.max_scale_up_rate,
            max_scale_down_rate: config.max_scale_down_rate,
            activator_capacity: config.activator_capacity,
            algorithm,
            min_scale: settings.min_scale.unwrap_or(config.min_scale),
            max_scale: settings.max_scale.unwrap_or(config.max_scale),
            enable_scale_to_zero: config.enable_scale_to_zero,
            scale_to_zero_grace_period: config.scale_to_zero_grace_period,
            scale_to_zero_pod_retention_period: settings
                .scale_to_zero_pod_retention_period
                .unwrap_or(config.scale_to_zero_pod_retention_period),
            activation_timeout: KubeDuration(progress_deadline.0 + ACTIVATION_TIMEOUT_BUFFER),
            container_concurrency: cc,
        }
    }

    /// Whole seconds of the stable window (validation guarantees whole seconds).
    pub fn stable_window_secs(&self) -> i64 {
        whole_secs(self.stable_window.0)
    }

    /// Whole seconds of the panic window.
    pub fn panic_window_secs(&self) -> i64 {
        whole_secs(self.panic_window.0)
    }

    /// Whether the collector has a scrape target: without one (TBC = −1) an empty window reads
    /// as 0 instead of "no data" (§5.4).
    pub fn has_scrape_target(&self) -> bool {
        self.target_burst_capacity != -1.0
    }
}

fn whole_secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX).max(1)
}

/// `stable × pct / 100`, rounded half away from zero to whole seconds, at least 1 s (§4).
pub fn panic_window(stable: Duration, pct: f64) -> Duration {
    // Go converts the float product to whole nanoseconds (truncating), then rounds.
    let nanos = (stable.as_nanos() as f64 * pct / 100.0) as u64;
    let secs = (nanos + 500_000_000) / 1_000_000_000;
    Duration::from_secs(secs.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(settings: KpaSettings) -> KpaSpec {
        KpaSpec::resolve(&KpaConfig::default(), &settings)
    }

    #[test]
    fn s4_defaults_give_70_of_100_for_concurrency_and_140_of_200_for_rps() {
        let s = spec(KpaSettings::default());
        assert_eq!(
            (s.metric, s.target_value, s.total_value),
            (Metric::Concurrency, 70.0, 100.0)
        );
        let s = spec(KpaSettings {
            metric: Some("rps".into()),
            ..KpaSettings::default()
        });
        assert_eq!(
            (s.metric, s.target_value, s.total_value),
            (Metric::Rps, 140.0, 200.0)
        );
    }

    #[test]
    fn s4_container_concurrency_is_the_total_and_utilization_scales_it() {
        let s = spec(KpaSettings {
            container_concurrency: Some(10),
            target_utilization_percentage: Some(80.0),
            ..KpaSettings::default()
        });
        assert_eq!((s.target_value, s.total_value), (8.0, 10.0));
    }

    #[test]
    fn s4_target_annotation_is_capped_by_container_concurrency() {
        let s = spec(KpaSettings {
            container_concurrency: Some(1),
            target: Some(10.0),
            target_utilization_percentage: Some(100.0),
            ..KpaSettings::default()
        });
        assert_eq!((s.target_value, s.total_value), (1.0, 1.0));
    }

    #[test]
    fn s4_target_annotation_is_a_total_still_multiplied_by_utilization() {
        let s = spec(KpaSettings {
            metric: Some("rps".into()),
            target: Some(300.0),
            ..KpaSettings::default()
        });
        assert!((s.target_value - 210.0).abs() < 1e-9, "{}", s.target_value);
        assert_eq!(s.total_value, 300.0);
        // The seed's KServe example: target 10 concurrency → 7 per pod.
        let s = spec(KpaSettings {
            target: Some(10.0),
            ..KpaSettings::default()
        });
        assert!((s.target_value - 7.0).abs() < 1e-9);
        // For rps, containerConcurrency does not cap the target.
        let s = spec(KpaSettings {
            metric: Some("rps".into()),
            target: Some(300.0),
            container_concurrency: Some(5),
            ..KpaSettings::default()
        });
        assert_eq!(s.total_value, 300.0);
    }

    #[test]
    fn s4_target_value_is_at_least_0_01() {
        let s = spec(KpaSettings {
            target: Some(0.01),
            target_utilization_percentage: Some(1.0),
            ..KpaSettings::default()
        });
        assert_eq!(s.target_value, 0.01);
    }

    #[test]
    fn s4_panic_window_rounds_half_away_from_zero_to_whole_seconds() {
        assert_eq!(
            panic_window(Duration::from_secs(60), 10.0),
            Duration::from_secs(6)
        );
        assert_eq!(
            panic_window(Duration::from_secs(60), 51.0),
            Duration::from_secs(31)
        );
        assert_eq!(
            panic_window(Duration::from_secs(10), 10.0),
            Duration::from_secs(1)
        );
        assert_eq!(
            panic_window(Duration::from_secs(6), 1.0),
            Duration::from_secs(1)
        );
        assert_eq!(
            panic_window(Duration::from_secs(25), 10.0),
            Duration::from_secs(3)
        );
        let s = spec(KpaSettings {
            window: Some(KubeDuration::from_secs(120)),
            panic_window_percentage: Some(25.0),
            ..KpaSettings::default()
        });
        assert_eq!((s.stable_window_secs(), s.panic_window_secs()), (120, 30));
    }

    #[test]
    fn s4_other_decider_fields() {
        let s = spec(KpaSettings::default());
        assert_eq!(s.panic_threshold, 2.0);
        assert_eq!(s.target_burst_capacity, 211.0);
        assert_eq!(s.activation_scale, 0);
        assert_eq!(s.initial_scale, 1);
        assert_eq!(s.activation_timeout, KubeDuration::from_secs(630));
        assert_eq!(s.algorithm, Algorithm::Linear);
        assert!(s.has_scrape_target());
        let s = spec(KpaSettings {
            panic_threshold_percentage: Some(150.0),
            target_burst_capacity: Some(-1.0),
            activation_scale: Some(3),
            scale_down_delay: Some(KubeDuration::from_secs(30)),
            metric_aggregation_algorithm: Some("weightedExponential".into()),
            progress_deadline: Some(KubeDuration::from_secs(60)),
            ..KpaSettings::default()
        });
        assert_eq!(s.panic_threshold, 1.5);
        assert!(!s.has_scrape_target());
        assert_eq!(s.activation_scale, 3);
        assert_eq!(s.scale_down_delay, KubeDuration::from_secs(30));
        assert_eq!(s.algorithm, Algorithm::WeightedExponential);
        assert_eq!(s.activation_timeout, KubeDuration::from_secs(90));
    }

    #[test]
    fn s4_initial_scale_zero_only_when_allowed() {
        let zero = KpaSettings {
            initial_scale: Some(0),
            ..KpaSettings::default()
        };
        assert_eq!(
            KpaSpec::resolve(&KpaConfig::default(), &zero).initial_scale,
            1
        );
        let allow = KpaConfig {
            allow_zero_initial_scale: true,
            ..KpaConfig::default()
        };
        assert_eq!(KpaSpec::resolve(&allow, &zero).initial_scale, 0);
        let three = KpaSettings {
            initial_scale: Some(3),
            ..KpaSettings::default()
        };
        assert_eq!(
            KpaSpec::resolve(&KpaConfig::default(), &three).initial_scale,
            3
        );
    }

    #[test]
    fn s4_annotations_override_the_config_map() {
        let config = KpaConfig {
            min_scale: 1,
            max_scale: 20,
            scale_to_zero_pod_retention_period: KubeDuration::from_secs(10),
            ..KpaConfig::default()
        };
        let s = KpaSpec::resolve(&config, &KpaSettings::default());
        assert_eq!((s.min_scale, s.max_scale), (1, 20));
        assert_eq!(
            s.scale_to_zero_pod_retention_period,
            KubeDuration::from_secs(10)
        );
        let s = KpaSpec::resolve(
            &config,
            &KpaSettings {
                min_scale: Some(0),
                max_scale: Some(5),
                scale_to_zero_pod_retention_period: Some(KubeDuration::from_secs(300)),
                ..KpaSettings::default()
            },
        );
        assert_eq!((s.min_scale, s.max_scale), (0, 5));
        assert_eq!(
            s.scale_to_zero_pod_retention_period,
            KubeDuration::from_secs(300)
        );
    }
}
