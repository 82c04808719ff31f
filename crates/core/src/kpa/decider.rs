//! The decider tick (spec §6): from window averages and ready pods to a desired pod count and
//! the excess burst capacity, with panic mode and the scale-down delay.

use serde::{Deserialize, Serialize};

use super::delay::DelayWindow;
use super::spec::KpaSpec;
use crate::decision::Step;
use crate::time::Instant;

/// The decider's published answer (what the reconciler reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeciderStatus {
    /// Desired pods; −1 until the first valid tick.
    pub desired_scale: i32,
    /// Excess burst capacity: negative keeps the request holder in the path.
    pub excess_burst_capacity: i32,
}

/// A tick's valid inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickInput {
    /// The time of the tick.
    pub now: Instant,
    /// Ready pods (the true count; 0 is allowed).
    pub ready: i32,
    /// Stable-window average of the metric (revision total).
    pub stable: f64,
    /// Panic-window average of the metric (revision total).
    pub panic: f64,
    /// Whether the revision is routed (unreachable: no scale-down limit, no delay window).
    pub reachable: bool,
}

/// One valid tick's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleResult {
    /// Desired pods after panic mode and the scale-down delay.
    pub desired: i32,
    /// Excess burst capacity.
    pub excess_burst_capacity: i32,
}

/// The decider's memory: panic state, the scale-down delay window and its last answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decider {
    /// When panic mode was last entered or extended; `None` when not panicking.
    pub panic_time: Option<Instant>,
    /// The most pods asked for during this panic (never decreases while panicking).
    pub max_panic_pods: i32,
    /// Present only if the decider was created with a scale-down delay.
    pub delay_window: Option<DelayWindow>,
    /// The last published answer.
    pub status: DeciderStatus,
}

impl Decider {
    /// A new decider. With more than one ready pod it starts in panic mode, so an autoscaler
    /// restart (which loses the metric history) cannot scale the revision down at once.
    pub fn new(spec: &KpaSpec, now: Instant, ready_at_creation: i32) -> Self {
        let ready = ready_at_creation.max(0);
        let tbc = spec.target_burst_capacity;
        let ebc = if tbc == -1.0 || tbc == 0.0 {
            tbc as i32
        } else {
            (f64::from(spec.initial_scale) * spec.total_value - tbc).trunc() as i32
        };
        let delay = spec.scale_down_delay.0;
        Decider {
            panic_time: (ready > 1).then_some(now),
            max_panic_pods: ready,
            delay_window: (!delay.is_zero()).then(|| DelayWindow::new(delay)),
            status: DeciderStatus {
                desired_scale: -1,
                excess_burst_capacity: ebc,
            },
        }
    }

    /// Whether the decider is in panic mode.
    pub fn is_panicking(&self) -> bool {
        self.panic_time.is_some()
    }

    /// One tick with valid inputs. Explains itself into `steps`.
    pub fn scale(
        &mut self,
        spec: &KpaSpec,
        input: TickInput,
        steps: &mut Vec<Step>,
    ) -> ScaleResult {
        let TickInput {
            now,
            ready,
            stable,
            panic,
            reachable,
        } = input;
        // Never divide by, or scale from, zero pods.
        let r = f64::from(ready.max(1));
        let max_up = (spec.max_scale_up_rate * r).ceil();
        let max_down = if reachable {
            (r / spec.max_scale_down_rate).floor()
        } else {
            0.0
        };
        let dspc = (stable / spec.target_value).ceil();
        let dppc = (panic / spec.target_value).ceil();
        let clamp = |x: f64| x.max(max_down).min(max_up) as i32;
        let (mut stable_pods, mut panic_pods) = (clamp(dspc), clamp(dppc));
        steps.push(Step::Wanted {
            stable_pods: dspc as i32,
            panic_pods: dppc as i32,
            max_up: max_up as i32,
            max_down: max_down as i32,
            stable_clamped: stable_pods,
            panic_clamped: panic_pods,
        });

        // Activation scale applies after the rate limits, so it may exceed max_up.
        let activation = spec.activation_scale;
        if activation > 1 {
            for (window, unclamped, pods) in [
                ("stable", dspc, &mut stable_pods),
                ("panic", dppc, &mut panic_pods),
            ] {
                if unclamped > 0.0 && *pods < activation {
                    steps.push(Step::ActivationScale {
                        window: window.into(),
                        from: *pods,
                        to: activation,
                    });
                    *pods = activation;
                }
            }
        }

        // The panic check uses the unclamped panic count, and ≥.
        let ratio = dppc / r;
        let over = ratio >= spec.panic_threshold;
        let state = match self.panic_time {
            None if over => {
                self.panic_time = Some(now);
                "entered"
            }
            Some(_) if over => {
                self.panic_time = Some(now);
                "extended"
            }
            Some(t) if (t + spec.stable_window.0).is_before(now) => {
                self.panic_time = None;
                self.max_panic_pods = 0;
                "exited"
            }
            Some(_) => "held",
            None => "off",
        };
        let mut desired = stable_pods;
        if self.is_panicking() {
            desired = desired.max(panic_pods);
            self.max_panic_pods = self.max_panic_pods.max(desired);
            desired = self.max_panic_pods;
        }
        steps.push(Step::Panic {
            state: state.into(),
            ratio,
            threshold: spec.panic_threshold,
            desired: self.is_panicking().then_some(desired),
        });

        if reachable && let Some(window) = &mut self.delay_window {
            window.record(now.floor_secs(), desired);
            let delayed = window.current();
            steps.push(Step::ScaleDownDelay {
                delay_seconds: spec.scale_down_delay.0.as_secs_f64(),
                from: desired,
                to: delayed,
            });
            desired = delayed;
        }

        let tbc = spec.target_burst_capacity;
        let excess = if tbc == 0.0 {
            0.0
        } else if tbc > 0.0 {
            (f64::from(ready.max(0)) * spec.total_value - tbc - panic).floor()
        } else {
            -1.0
        };
        let excess = excess as i32;
        steps.push(Step::BurstCapacity {
            excess,
            target_burst_capacity: tbc,
            activator_in_path: excess < 0,
        });
        ScaleResult {
            desired,
            excess_burst_capacity: excess,
        }
    }

    /// Publishes a valid result. Returns whether the reconciler must hear about it: the desired
    /// scale changed or the excess burst capacity changed sign (0 counts as non-negative).
    pub fn publish(&mut self, result: ScaleResult) -> bool {
        let old = self.status;
        self.status = DeciderStatus {
            desired_scale: result.desired,
            excess_burst_capacity: result.excess_burst_capacity,
        };
        old.desired_scale != result.desired
            || (old.excess_burst_capacity < 0) != (result.excess_burst_capacity < 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpa::{KpaConfig, KpaSettings};
    use crate::units::KubeDuration;

    fn spec(settings: KpaSettings) -> KpaSpec {
        KpaSpec::resolve(&KpaConfig::default(), &settings)
    }

    fn t(s: i64) -> Instant {
        Instant::from_secs(s)
    }

    fn input(now: i64, ready: i32, stable: f64, panic: f64, reachable: bool) -> TickInput {
        TickInput {
            now: t(now),
            ready,
            stable,
            panic,
            reachable,
        }
    }

    fn run(d: &mut Decider, spec: &KpaSpec, now: i64, ready: i32, s: f64, p: f64) -> ScaleResult {
        d.scale(spec, input(now, ready, s, p, true), &mut Vec::new())
    }

    #[test]
    fn s6_worked_numbers_stable_350_with_3_ready_wants_5() {
        let spec = spec(KpaSettings::default());
        let mut d = Decider::new(&spec, t(0), 0);
        let mut steps = Vec::new();
        let r = d.scale(&spec, input(0, 3, 350.0, 350.0, true), &mut steps);
        assert_eq!(r.desired, 5);
        assert_eq!(
            steps[0],
            Step::Wanted {
                stable_pods: 5,
                panic_pods: 5,
                max_up: 3000,
                max_down: 1,
                stable_clamped: 5,
                panic_clamped: 5
            }
        );
        assert!(!d.is_panicking());
    }

    #[test]
    fn s6_worked_numbers_panic_700_with_3_ready_panics_to_10() {
        let spec = spec(KpaSettings::default());
        let mut d = Decider::new(&spec, t(0), 0);
        let r = run(&mut d, &spec, 0, 3, 350.0, 700.0);
        assert!(d.is_panicking());
        assert_eq!(r.desired, 10);
    }

    #[test]
    fn s6_panic_check_uses_unclamped_count_and_greater_or_equal() {
        // Threshold 2: dppc / ready = 2 exactly → panic.
        let spec = spec(KpaSettings::default());
        let mut d = Decider::new(&spec, t(0), 0);
        run(&mut d, &spec, 0, 2, 0.0, 4.0 * 70.0);
        assert!(d.is_panicking());
        // Just under: no panic.
        let mut d = Decider::new(&spec, t(0), 0);
        run(&mut d, &spec, 0, 2, 0.0, 3.0 * 70.0);
        assert!(!d.is_panicking());
        // The rate limit clamps the panic count (max up 1.5 × 2 = 3) but not the check.
        let config = KpaConfig {
            max_scale_up_rate: 1.5,
            ..KpaConfig::default()
        };
        let slow = KpaSpec::resolve(&config, &KpaSettings::default());
        let mut d = Decider::new(&slow, t(0), 0);
        let r = run(&mut d, &slow, 0, 2, 0.0, 10.0 * 70.0);
        assert!(d.is_panicking());
        assert_eq!(r.desired, 3);
    }

    #[test]
    fn s6_rate_limits_round_up_for_up_and_down_for_down() {
        let spec = spec(KpaSettings::default());
        // 3 ready, rate 2: floor(3/2) = 1, so 3 pods may go to 1.
        let mut d = Decider::new(&spec, t(0), 0);
        assert_eq!(run(&mut d, &spec, 0, 3, 0.0, 0.0).desired, 1);
        // 0 ready counts as 1: floor(1/2) = 0.
        let mut d = Decider::new(&spec, t(0), 0);
        assert_eq!(run(&mut d, &spec, 0, 0, 0.0, 0.0).desired, 0);
        // ceil(1.1 × 2) = 3 allows at least one more pod.
        let config = KpaConfig {
            max_scale_up_rate: 1.1,
            ..KpaConfig::default()
        };
        let slow = KpaSpec::resolve(&config, &KpaSettings::default());
        let mut d = Decider::new(&slow, t(0), 0);
        assert_eq!(run(&mut d, &slow, 0, 2, 700.0, 0.0).desired, 3);
    }

    #[test]
    fn s6_unreachable_revisions_have_no_scale_down_limit() {
        let spec = spec(KpaSettings::default());
        let mut d = Decider::new(&spec, t(0), 0);
        let r = d.scale(&spec, input(0, 10, 0.0, 0.0, false), &mut Vec::new());
        assert_eq!(r.desired, 0);
        let r = d.scale(&spec, input(2, 10, 0.0, 0.0, true), &mut Vec::new());
        assert_eq!(r.desired, 5);
    }

    #[test]
    fn s6_activation_scale_applies_after_the_rate_limit_and_only_to_non_zero_wants() {
        let config = KpaConfig {
            max_scale_up_rate: 2.0,
            ..KpaConfig::default()
        };
        let spec = KpaSpec::resolve(
            &config,
            &KpaSettings {
                activation_scale: Some(5),
                ..KpaSettings::default()
            },
        );
        let mut d = Decider::new(&spec, t(0), 0);
        // Wants 1 pod; max up is 2 from 1 ready; activation scale lifts it to 5 anyway.
        assert_eq!(run(&mut d, &spec, 0, 1, 1.0, 1.0).desired, 5);
        let mut d = Decider::new(&spec, t(0), 0);
        assert_eq!(run(&mut d, &spec, 0, 1, 0.0, 0.0).desired, 0);
    }

    #[test]
    fn s6_panic_holds_the_maximum_and_exits_strictly_after_a_stable_window() {
        let spec = spec(KpaSettings::default());
        let mut d = Decider::new(&spec, t(0), 0);
        assert_eq!(run(&mut d, &spec, 0, 1, 0.0, 700.0).desired, 10);
        // Still over the threshold at t=2 (with 1 ready): panic extended, time refreshed.
        assert_eq!(run(&mut d, &spec, 2, 1, 0.0, 280.0).desired, 10);
        assert_eq!(d.panic_time, Some(t(2)));
        // Under the threshold: held, never decreasing.
        assert_eq!(run(&mut d, &spec, 4, 10, 70.0, 70.0).desired, 10);
        assert_eq!(run(&mut d, &spec, 62, 10, 70.0, 70.0).desired, 10);
        // panic_time + 60 s < now is strict: at 62 still panicking, at 63 out.
        assert!(d.is_panicking());
        assert_eq!(run(&mut d, &spec, 63, 10, 70.0, 70.0).desired, 5);
        assert!(!d.is_panicking());
        assert_eq!(d.max_panic_pods, 0);
    }

    #[test]
    fn s6_in_panic_the_desired_count_is_the_larger_of_stable_and_panic() {
        let spec = spec(KpaSettings::default());
        let mut d = Decider::new(&spec, t(0), 0);
        run(&mut d, &spec, 0, 1, 0.0, 700.0);
        assert_eq!(run(&mut d, &spec, 2, 10, 1400.0, 70.0).desired, 20);
    }

    #[test]
    fn s6_slow_growth_under_the_threshold_does_not_extend_panic() {
        let spec = spec(KpaSettings::default());
        let mut d = Decider::new(&spec, t(0), 0);
        run(&mut d, &spec, 0, 1, 0.0, 700.0);
        run(&mut d, &spec, 30, 10, 700.0, 1330.0); // 19 / 10 < 2
        assert_eq!(d.panic_time, Some(t(0)));
    }

    #[test]
    fn s6_starts_in_panic_with_more_than_one_ready_pod() {
        let spec = spec(KpaSettings::default());
        let d = Decider::new(&spec, t(7), 4);
        assert_eq!(d.panic_time, Some(t(7)));
        assert_eq!(d.max_panic_pods, 4);
        let mut d = d;
        // No traffic: the restarted decider keeps the 4 pods while panicking.
        assert_eq!(run(&mut d, &spec, 9, 4, 0.0, 0.0).desired, 4);
        let d = Decider::new(&spec, t(7), 1);
        assert!(!d.is_panicking());
        assert_eq!(d.max_panic_pods, 1);
    }

    #[test]
    fn s6_excess_burst_capacity_uses_ready_total_value_and_panic() {
        let spec = spec(KpaSettings::default());
        let mut d = Decider::new(&spec, t(0), 0);
        // floor(3 × 100 − 211 − 50.5) = 38
        assert_eq!(
            run(&mut d, &spec, 0, 3, 50.0, 50.5).excess_burst_capacity,
            38
        );
        // 0 ready pods ⇒ −TBC − P.
        assert_eq!(
            run(&mut d, &spec, 2, 0, 0.0, 1.0).excess_burst_capacity,
            -212
        );
        let zero = self::spec(KpaSettings {
            target_burst_capacity: Some(0.0),
            ..KpaSettings::default()
        });
        assert_eq!(run(&mut d, &zero, 4, 0, 0.0, 1.0).excess_burst_capacity, 0);
        let always = self::spec(KpaSettings {
            target_burst_capacity: Some(-1.0),
            ..KpaSettings::default()
        });
        assert_eq!(
            run(&mut d, &always, 6, 9, 0.0, 1.0).excess_burst_capacity,
            -1
        );
    }

    #[test]
    fn s6_initial_status_is_unknown_with_the_initial_burst_capacity() {
        let spec = spec(KpaSettings::default());
        let d = Decider::new(&spec, t(0), 0);
        assert_eq!(
            d.status,
            DeciderStatus {
                desired_scale: -1,
                excess_burst_capacity: -111
            }
        );
        for (tbc, ebc) in [(-1.0, -1), (0.0, 0)] {
            let s = self::spec(KpaSettings {
                target_burst_capacity: Some(tbc),
                ..KpaSettings::default()
            });
            assert_eq!(Decider::new(&s, t(0), 0).status.excess_burst_capacity, ebc);
        }
    }

    #[test]
    fn s6_results_propagate_on_a_new_scale_or_a_burst_capacity_sign_flip() {
        let spec = spec(KpaSettings::default());
        let mut d = Decider::new(&spec, t(0), 0);
        let r = |desired, excess_burst_capacity| ScaleResult {
            desired,
            excess_burst_capacity,
        };
        assert!(d.publish(r(1, -111)));
        assert!(!d.publish(r(1, -50)));
        assert!(d.publish(r(1, 0)));
        assert!(!d.publish(r(1, 30)));
        assert!(d.publish(r(2, 30)));
        assert_eq!(d.status.excess_burst_capacity, 30);
    }

    #[test]
    fn s7_decider_records_the_post_panic_value_and_returns_the_window_max() {
        let spec = spec(KpaSettings {
            scale_down_delay: Some(KubeDuration::from_secs(300)),
            ..KpaSettings::default()
        });
        let mut d = Decider::new(&spec, t(0), 0);
        assert_eq!(run(&mut d, &spec, 2, 1, 280.0, 280.0).desired, 4);
        assert_eq!(run(&mut d, &spec, 300, 4, 0.0, 0.0).desired, 4);
        assert_eq!(run(&mut d, &spec, 302, 4, 0.0, 0.0).desired, 2);
        // Unreachable: no record, no max.
        let r = d.scale(&spec, input(304, 4, 0.0, 0.0, false), &mut Vec::new());
        assert_eq!(r.desired, 0);
    }

    #[test]
    fn s7_no_delay_window_without_a_delay_at_creation() {
        let spec = spec(KpaSettings::default());
        let mut d = Decider::new(&spec, t(0), 0);
        assert!(d.delay_window.is_none());
        assert_eq!(run(&mut d, &spec, 0, 3, 280.0, 280.0).desired, 4);
        assert_eq!(run(&mut d, &spec, 1, 4, 0.0, 0.0).desired, 2);
    }
}
