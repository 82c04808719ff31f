//! The KPA reconciler (spec §8): from the decider's desired pods to replicas. It applies
//! min/max/initial scale, runs the scale-to-zero state machine with its timers, keeps the
//! `Active` condition, decides whether the request holder stays in the path and how many
//! holders are needed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::decider::DeciderStatus;
use super::spec::{KpaSpec, Reachability};
use crate::decision::{Condition, ConditionStatus, Step};
use crate::time::Instant;
use crate::units::format_duration;

/// At least this many request holders are kept in the path (Knative's `minActivators`).
pub const MIN_ACTIVATORS: i32 = 2;
/// Re-check after marking a revision inactive while the holder is already in the path.
const INACTIVE_RECHECK: Duration = Duration::from_secs(3);
/// Period of the asynchronous probe that waits for the holder to be in the path.
const PROBE_PERIOD: Duration = Duration::from_secs(1);

/// The `Active` condition of the PodAutoscaler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Activity {
    /// `Unknown`: pods are being provisioned (requests are held meanwhile).
    Activating,
    /// `True`: serving.
    Active,
    /// `False`: idle; on the way to zero or at zero.
    Inactive,
}

impl Activity {
    fn status(self) -> ConditionStatus {
        match self {
            Activity::Activating => ConditionStatus::Unknown,
            Activity::Active => ConditionStatus::True,
            Activity::Inactive => ConditionStatus::False,
        }
    }

    /// `activating`, `active` or `inactive`.
    pub fn name(self) -> &'static str {
        match self {
            Activity::Activating => "activating",
            Activity::Active => "active",
            Activity::Inactive => "inactive",
        }
    }
}

/// Where requests go: straight to the replicas, or through the request holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SksMode {
    /// Directly to the replicas.
    Serve,
    /// Through the request holder (it buffers while there is no capacity).
    Proxy,
}

impl SksMode {
    /// `serve` or `proxy`.
    pub fn name(self) -> &'static str {
        match self {
            SksMode::Serve => "serve",
            SksMode::Proxy => "proxy",
        }
    }
}

/// What the reconciler reads besides its own state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconcileInput {
    /// The time of this reconcile.
    pub now: Instant,
    /// Ready pods.
    pub ready: i32,
    /// Whether the revision is routed.
    pub reachability: Reachability,
    /// Whether a probe through the revision's service reaches the request holder.
    pub holder_reachable: bool,
    /// The decider's published answer.
    pub decider: DeciderStatus,
}

/// The PodAutoscaler's state, as the reconciler keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pa {
    /// The `Active` condition.
    pub activity: Activity,
    /// Its reason (`Queued`, `NoTraffic`, `TimedOut`, or empty).
    pub reason: String,
    /// When the condition last changed (status or reason).
    pub since: Instant,
    /// The target reached its initial scale once.
    pub scale_target_initialized: bool,
    /// `status.desiredScale` (−1: unknown).
    pub desired_scale: Option<i32>,
    /// `status.actualScale`: ready pods at the last reconcile.
    pub actual_scale: i32,
    /// Request path mode, once decided.
    pub sks_mode: Option<SksMode>,
    /// Since when the request holder is in the path (proxy mode), if it is.
    pub proxy_since: Option<Instant>,
    /// How many request holders the revision needs.
    pub activators: i32,
    /// The target's `spec.replicas` as last written.
    pub replicas: i32,
    /// Times the reconciler asked to run again.
    pub requeues: Vec<Instant>,
}

/// The reconciler's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// What the PA wants (−1: unknown).
    pub want: i32,
    /// `Some(n)`: write `n` to the target's replicas.
    pub patch: Option<i32>,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl Pa {
    /// A new PodAutoscaler: activating, its target created with `initial-scale` replicas.
    pub fn new(spec: &KpaSpec, now: Instant) -> Self {
        Pa {
            activity: Activity::Activating,
            reason: String::new(),
            since: now,
            scale_target_initialized: false,
            desired_scale: None,
            actual_scale: 0,
            sks_mode: None,
            proxy_since: None,
            activators: MIN_ACTIVATORS,
            replicas: spec.initial_scale,
            requeues: Vec::new(),
        }
    }

    /// The earliest pending re-check.
    pub fn next_requeue(&self) -> Option<Instant> {
        self.requeues.iter().copied().min()
    }

    fn requeue(&mut self, at: Instant) {
        if !self.requeues.contains(&at) {
            self.requeues.push(at);
        }
    }

    /// One reconcile: scale, request path, status and the `Active` condition.
    pub fn reconcile(
        &mut self,
        spec: &KpaSpec,
        input: &ReconcileInput,
        steps: &mut Vec<Step>,
        conditions: &mut Vec<Condition>,
    ) -> Reconciled {
        let now = input.now;
        self.requeues.retain(|t| t.is_after(now));
        let result = self.scale(spec, input, steps);
        if let Some(n) = result.patch {
            steps.push(Step::Rescale {
                from: self.replicas,
                to: n,
                reason: rescale_reason(self.replicas, n),
            });
            self.replicas = n;
        }

        // The request holder stays in front at zero, without enough headroom, or when nothing
        // is known about a revision that was already idle.
        let want = result.want;
        let ebc = input.decider.excess_burst_capacity;
        let inactive = self.activity == Activity::Inactive;
        let (mode, why) = if want == 0 {
            (SksMode::Proxy, "the revision wants 0 pods")
        } else if ebc < 0 {
            (SksMode::Proxy, "excess burst capacity is negative")
        } else if want == -1 && inactive {
            (
                SksMode::Proxy,
                "nothing known yet and the revision was idle",
            )
        } else {
            (SksMode::Serve, "enough burst capacity")
        };
        if self.sks_mode != Some(mode) {
            // A changed request path updates its status, which triggers the next reconcile
            // right away (its creation does not need one).
            if self.sks_mode.is_some() {
                self.requeue(now);
            }
            self.sks_mode = Some(mode);
            self.proxy_since = (mode == SksMode::Proxy).then_some(now);
        }
        self.activators = activators_needed(spec, input.ready);
        steps.push(Step::RequestPath {
            mode: mode.name().into(),
            reason: why.into(),
            holders: self.activators,
        });

        self.actual_scale = input.ready;
        // An unknown want never overwrites a known desired scale.
        if !(want == -1 && self.desired_scale.is_some_and(|d| d >= 0)) {
            self.desired_scale = Some(want);
        }
        self.compute_active(spec, input, want);
        conditions.push(self.condition());
        result
    }

    /// §8.1: bounds, then the scale-to-zero state machine, then the patch.
    fn scale(
        &mut self,
        spec: &KpaSpec,
        input: &ReconcileInput,
        steps: &mut Vec<Step>,
    ) -> Reconciled {
        let desired = input.decider.desired_scale;
        if desired < 0 && self.activity != Activity::Activating {
            steps.push(Step::DesiredUnknown);
            return Reconciled {
                want: desired,
                patch: None,
            };
        }
        let reachable = input.reachability.is_reachable();
        let mut min = if reachable { spec.min_scale } else { 0 };
        let max = spec.max_scale;
        let mut initial_scale = None;
        if spec.initial_scale > 1 && !self.scale_target_initialized && reachable {
            if spec.initial_scale > min {
                initial_scale = Some(spec.initial_scale);
            }
            min = min.max(spec.initial_scale);
        }
        let bounded = apply_bounds(min, max, desired);
        steps.push(Step::Bounds {
            min,
            max,
            from: desired,
            to: bounded,
            initial_scale,
        });
        let (want, apply) = self.handle_scale_to_zero(spec, input, bounded, steps);
        let patch = (apply && want != self.replicas).then_some(want);
        Reconciled { want, patch }
    }

    /// §8.2: only when the bounded want is 0. Returns the want and whether to apply it.
    fn handle_scale_to_zero(
        &mut self,
        spec: &KpaSpec,
        input: &ReconcileInput,
        desired: i32,
        steps: &mut Vec<Step>,
    ) -> (i32, bool) {
        if desired != 0 {
            return (desired, true);
        }
        let now = input.now;
        let mut explain = |state: Activity, action: String, wait: Option<Duration>| {
            steps.push(Step::ScaleToZero {
                state: state.name().into(),
                action,
                wait_seconds: wait.map(secs),
            });
        };
        if !spec.enable_scale_to_zero {
            explain(
                self.activity,
                "enable-scale-to-zero is false: keep 1 pod".into(),
                None,
            );
            return (1, true);
        }
        let in_state = now.since(self.since);
        match self.activity {
            Activity::Activating => {
                let timeout = spec.activation_timeout.0;
                if in_state > timeout {
                    explain(
                        self.activity,
                        format!(
                            "activating for {} > activation timeout {}: give up and scale to 0",
                            format_duration(in_state),
                            format_duration(timeout)
                        ),
                        None,
                    );
                    return (0, true);
                }
                // Upstream re-checks a whole timeout later, not when it expires.
                self.requeue(now + timeout);
                let why = if input.decider.desired_scale < 0 {
                    "no metrics yet"
                } else {
                    "wants 0"
                };
                explain(
                    self.activity,
                    format!(
                        "{why} while activating for {}: no change unless still activating after {}",
                        format_duration(in_state),
                        format_duration(timeout)
                    ),
                    Some(timeout),
                );
                (-1, false)
            }
            Activity::Active => {
                let window = spec.stable_window.0;
                if in_state >= window {
                    let mut wait = None;
                    if self.sks_mode == Some(SksMode::Proxy) {
                        // Nothing else will change to trigger the next step.
                        self.requeue(now + INACTIVE_RECHECK);
                        wait = Some(INACTIVE_RECHECK);
                    }
                    explain(
                        self.activity,
                        format!(
                            "active for {} ≥ stable window {}: mark inactive, request holder into the path",
                            format_duration(in_state),
                            format_duration(window)
                        ),
                        wait,
                    );
                    return (0, false);
                }
                let left = window - in_state;
                self.requeue(now + left);
                explain(
                    self.activity,
                    format!(
                        "wants 0 but active for only {} of the {} stable window: keep 1 pod",
                        format_duration(in_state),
                        format_duration(window)
                    ),
                    Some(left),
                );
                (1, true)
            }
            Activity::Inactive => {
                let in_path = spec.target_burst_capacity == -1.0 || input.holder_reachable;
                if !in_path {
                    self.requeue(now + PROBE_PERIOD);
                    explain(
                        self.activity,
                        "request holder not reachable through the revision yet: probing".into(),
                        Some(PROBE_PERIOD),
                    );
                    return (0, false);
                }
                let grace = spec.scale_to_zero_grace_period.0;
                let retention = if input.reachability.is_reachable() {
                    spec.scale_to_zero_pod_retention_period.0
                } else {
                    Duration::ZERO
                };
                if in_state >= grace.max(retention) {
                    explain(
                        self.activity,
                        format!(
                            "inactive for {} ≥ max(grace {}, retention {}): scale to 0",
                            format_duration(in_state),
                            format_duration(grace),
                            format_duration(retention)
                        ),
                        None,
                    );
                    return (0, true);
                }
                if !retention.is_zero() && in_state < retention {
                    let left = retention - in_state;
                    self.requeue(now + left);
                    explain(
                        self.activity,
                        format!(
                            "retention {}: the last pod stays {} more",
                            format_duration(retention),
                            format_duration(left)
                        ),
                        Some(left),
                    );
                    return (0, false);
                }
                let proxy_for = self.proxy_since.map_or(Duration::ZERO, |t| now.since(t));
                if proxy_for >= grace {
                    explain(
                        self.activity,
                        format!(
                            "request holder in the path for {} ≥ grace {}: scale to 0",
                            format_duration(proxy_for),
                            format_duration(grace)
                        ),
                        None,
                    );
                    return (0, true);
                }
                let left = grace - proxy_for;
                self.requeue(now + left);
                explain(
                    self.activity,
                    format!(
                        "request holder in the path for {}: wait for the {} grace period",
                        format_duration(proxy_for),
                        format_duration(grace)
                    ),
                    Some(left),
                );
                (0, false)
            }
        }
    }

    /// §8.3: the `Active` condition from the want and the ready pods.
    fn compute_active(&mut self, spec: &KpaSpec, input: &ReconcileInput, want: i32) {
        let min = if input.reachability.is_reachable() {
            spec.min_scale
        } else {
            0
        };
        let min_ready = if self.scale_target_initialized {
            min.max(1)
        } else {
            min.max(spec.initial_scale)
        };
        let ready = input.ready;
        if ready >= min_ready {
            self.scale_target_initialized = true;
        }
        let idle = self.activity == Activity::Inactive;
        if want == 0 || min_ready == 0 {
            if self.activity == Activity::Activating && min_ready > 0 {
                self.set(Activity::Inactive, "TimedOut", input.now);
            } else {
                self.set(Activity::Inactive, "NoTraffic", input.now);
            }
        } else if ready < min_ready {
            if want > 0 || !idle {
                self.set(Activity::Activating, "Queued", input.now);
            } else {
                self.set(Activity::Inactive, "NoTraffic", input.now);
            }
        } else if want > 0 || !idle {
            self.set(Activity::Active, "", input.now);
        }
    }

    fn set(&mut self, activity: Activity, reason: &str, now: Instant) {
        if self.activity != activity || self.reason != reason {
            self.activity = activity;
            self.reason = reason.to_string();
            self.since = now;
        }
    }

    /// The `Active` condition with upstream reasons and messages.
    pub fn condition(&self) -> Condition {
        let message = match self.reason.as_str() {
            "Queued" => "Requests to the target are being buffered as resources are provisioned.",
            "NoTraffic" => "The target is not receiving traffic.",
            "TimedOut" => "The target could not be activated.",
            _ => "",
        };
        Condition {
            kind: "Active".into(),
            status: self.activity.status(),
            reason: self.reason.clone(),
            message: message.into(),
        }
    }
}

/// `min ≤ x ≤ max`, where max 0 means no upper bound.
fn apply_bounds(min: i32, max: i32, x: i32) -> i32 {
    if x < min {
        min
    } else if max != 0 && x > max {
        max
    } else {
        x
    }
}

/// How many request holders the revision needs (§8 step 3).
pub fn activators_needed(spec: &KpaSpec, ready: i32) -> i32 {
    let tbc = spec.target_burst_capacity;
    if tbc == 0.0 {
        return MIN_ACTIVATORS;
    }
    let capacity = f64::from(ready.max(0)) * spec.total_value + tbc.max(0.0);
    ((capacity / spec.activator_capacity).ceil() as i32).max(MIN_ACTIVATORS)
}

fn rescale_reason(from: i32, to: i32) -> String {
    match (from, to) {
        (_, 0) => "scale to zero".into(),
        (0, _) => "activate from zero".into(),
        (f, t) if t > f => "scale up".into(),
        _ => "scale down".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpa::{KpaConfig, KpaSettings};
    use crate::units::KubeDuration;

    fn t(s: i64) -> Instant {
        Instant::from_secs(s)
    }

    fn spec_with(config: KpaConfig, settings: KpaSettings) -> KpaSpec {
        KpaSpec::resolve(&config, &settings)
    }

    fn defaults() -> KpaSpec {
        spec_with(KpaConfig::default(), KpaSettings::default())
    }

    fn input(now: i64, ready: i32, desired: i32, ebc: i32) -> ReconcileInput {
        ReconcileInput {
            now: t(now),
            ready,
            reachability: Reachability::Reachable,
            holder_reachable: true,
            decider: DeciderStatus {
                desired_scale: desired,
                excess_burst_capacity: ebc,
            },
        }
    }

    fn go(pa: &mut Pa, spec: &KpaSpec, i: ReconcileInput) -> (Reconciled, Vec<Step>) {
        let mut steps = Vec::new();
        let r = pa.reconcile(spec, &i, &mut steps, &mut Vec::new());
        (r, steps)
    }

    /// A PA that is active since `since` with `ready` pods and `replicas` written.
    fn active(spec: &KpaSpec, since: i64, ready: i32) -> Pa {
        let mut pa = Pa::new(spec, t(since));
        go(&mut pa, spec, input(since, ready, ready, -100));
        assert_eq!(pa.activity, Activity::Active);
        pa
    }

    #[test]
    fn s8_1_unknown_desired_does_nothing_unless_activating() {
        let spec = defaults();
        let mut pa = active(&spec, 0, 1);
        let (r, steps) = go(&mut pa, &spec, input(2, 1, -1, -100));
        assert_eq!(
            r,
            Reconciled {
                want: -1,
                patch: None
            }
        );
        assert!(steps.contains(&Step::DesiredUnknown));
        // The known desired scale is not overwritten by −1.
        assert_eq!(pa.desired_scale, Some(1));
    }

    #[test]
    fn s8_1_min_and_max_scale_bound_the_want_and_changes_are_patched() {
        let spec = spec_with(
            KpaConfig::default(),
            KpaSettings {
                min_scale: Some(2),
                max_scale: Some(5),
                ..KpaSettings::default()
            },
        );
        let mut pa = Pa::new(&spec, t(0));
        assert_eq!(pa.replicas, 1);
        let (r, _) = go(&mut pa, &spec, input(0, 1, 9, -100));
        assert_eq!(
            r,
            Reconciled {
                want: 5,
                patch: Some(5)
            }
        );
        let (r, _) = go(&mut pa, &spec, input(2, 5, 0, -100));
        assert_eq!(
            r,
            Reconciled {
                want: 2,
                patch: Some(2)
            }
        );
        let (r, _) = go(&mut pa, &spec, input(4, 2, 2, -100));
        assert_eq!(
            r,
            Reconciled {
                want: 2,
                patch: None
            }
        );
    }

    #[test]
    fn s8_1_min_scale_is_ignored_when_unreachable() {
        let spec = spec_with(
            KpaConfig::default(),
            KpaSettings {
                min_scale: Some(3),
                ..KpaSettings::default()
            },
        );
        let mut pa = active(&spec, 0, 3);
        let mut i = input(2, 3, 1, -100);
        i.reachability = Reachability::Unreachable;
        assert_eq!(go(&mut pa, &spec, i).0.want, 1);
    }

    #[test]
    fn s8_1_initial_scale_raises_min_until_the_target_is_initialized() {
        let spec = spec_with(
            KpaConfig::default(),
            KpaSettings {
                initial_scale: Some(3),
                ..KpaSettings::default()
            },
        );
        let mut pa = Pa::new(&spec, t(0));
        assert_eq!(pa.replicas, 3);
        // Activating with no metrics yet: the want is bounded up to 3.
        let (r, _) = go(&mut pa, &spec, input(0, 0, 1, -100));
        assert_eq!(r.want, 3);
        assert_eq!(pa.activity, Activity::Activating);
        go(&mut pa, &spec, input(2, 3, 1, -100));
        assert!(pa.scale_target_initialized);
        assert_eq!(pa.activity, Activity::Active);
        // Once initialized, initial-scale no longer applies.
        assert_eq!(go(&mut pa, &spec, input(4, 3, 1, -100)).0.want, 1);
        // Nor for an unreachable revision.
        let mut pa = Pa::new(&spec, t(0));
        let mut i = input(0, 0, 1, -100);
        i.reachability = Reachability::Unreachable;
        assert_eq!(go(&mut pa, &spec, i).0.want, 1);
    }

    #[test]
    fn s8_2_active_revision_shrinks_to_one_until_active_for_a_stable_window() {
        let spec = defaults();
        let mut pa = active(&spec, 0, 3);
        let (r, steps) = go(&mut pa, &spec, input(20, 3, 0, -100));
        assert_eq!(
            r,
            Reconciled {
                want: 1,
                patch: Some(1)
            }
        );
        assert!(steps.iter().any(|s| matches!(s,
            Step::ScaleToZero { wait_seconds: Some(w), .. } if *w == 40.0)));
        assert_eq!(pa.next_requeue(), Some(t(60)));
        assert_eq!(pa.activity, Activity::Active);
        // At 60 s: not applied, but the PA goes inactive and the holder enters the path.
        let (r, _) = go(&mut pa, &spec, input(60, 1, 0, -100));
        assert_eq!(
            r,
            Reconciled {
                want: 0,
                patch: None
            }
        );
        assert_eq!(pa.activity, Activity::Inactive);
        assert_eq!(pa.reason, "NoTraffic");
        assert_eq!(pa.sks_mode, Some(SksMode::Proxy));
    }

    #[test]
    fn s8_2_already_proxied_revision_rechecks_3s_after_deactivating() {
        let spec = defaults();
        let mut pa = active(&spec, 0, 1);
        assert_eq!(pa.sks_mode, Some(SksMode::Proxy)); // negative EBC
        go(&mut pa, &spec, input(60, 1, 0, -100));
        assert_eq!(pa.next_requeue(), Some(t(63)));
        // Fast path: the holder has been in the path since t=0, longer than the grace period.
        let (r, steps) = go(&mut pa, &spec, input(63, 1, 0, -100));
        assert_eq!(
            r,
            Reconciled {
                want: 0,
                patch: Some(0)
            }
        );
        assert!(
            steps
                .iter()
                .any(|s| matches!(s, Step::ScaleToZero { action, .. }
            if action.contains("≥ grace")))
        );
    }

    #[test]
    fn s8_2_grace_period_waits_for_the_holder_to_be_in_the_path() {
        let spec = defaults();
        let mut pa = active(&spec, 0, 3);
        // Enough capacity: the holder left the path (serve mode).
        go(&mut pa, &spec, input(1, 3, 3, 50));
        assert_eq!(pa.sks_mode, Some(SksMode::Serve));
        go(&mut pa, &spec, input(70, 1, 0, 50)); // inactive at 70, proxy since 70
        assert_eq!(pa.activity, Activity::Inactive);
        let (r, _) = go(&mut pa, &spec, input(80, 1, 0, 50));
        assert_eq!(r.patch, None);
        assert_eq!(pa.next_requeue(), Some(t(100)));
        let (r, _) = go(&mut pa, &spec, input(100, 1, 0, 50));
        assert_eq!(r.patch, Some(0));
    }

    #[test]
    fn s8_2_retention_is_a_lower_bound_on_the_last_pod() {
        let spec = spec_with(
            KpaConfig::default(),
            KpaSettings {
                scale_to_zero_pod_retention_period: Some(KubeDuration::from_secs(300)),
                ..KpaSettings::default()
            },
        );
        let mut pa = active(&spec, 0, 1);
        go(&mut pa, &spec, input(60, 1, 0, -100)); // inactive at 60
        let (r, steps) = go(&mut pa, &spec, input(63, 1, 0, -100));
        assert_eq!(r.patch, None);
        assert!(steps.iter().any(|s| matches!(s,
            Step::ScaleToZero { wait_seconds: Some(w), .. } if *w == 297.0)));
        assert_eq!(pa.next_requeue(), Some(t(360)));
        assert_eq!(go(&mut pa, &spec, input(359, 1, 0, -100)).0.patch, None);
        assert_eq!(go(&mut pa, &spec, input(360, 1, 0, -100)).0.patch, Some(0));
        // Unreachable revisions ignore retention.
        let mut pa = active(&spec, 0, 1);
        let mut i = input(60, 1, 0, -100);
        i.reachability = Reachability::Unreachable;
        go(&mut pa, &spec, i);
        i.now = t(63);
        assert_eq!(go(&mut pa, &spec, i).0.patch, Some(0));
    }

    #[test]
    fn s8_2_holder_must_answer_a_probe_unless_tbc_is_minus_one() {
        let spec = defaults();
        let mut pa = active(&spec, 0, 1);
        go(&mut pa, &spec, input(60, 1, 0, -100));
        let mut i = input(100, 1, 0, -100);
        i.holder_reachable = false;
        assert_eq!(go(&mut pa, &spec, i).0.patch, None);
        assert_eq!(pa.next_requeue(), Some(t(101)));
        let always = spec_with(
            KpaConfig::default(),
            KpaSettings {
                target_burst_capacity: Some(-1.0),
                ..KpaSettings::default()
            },
        );
        let mut pa = active(&always, 0, 1);
        let mut i = input(60, 1, 0, -1);
        i.holder_reachable = false;
        go(&mut pa, &always, i);
        i.now = t(100);
        assert_eq!(go(&mut pa, &always, i).0.patch, Some(0));
    }

    #[test]
    fn s8_2_scale_to_zero_disabled_keeps_one_pod() {
        let spec = spec_with(
            KpaConfig {
                enable_scale_to_zero: false,
                ..KpaConfig::default()
            },
            KpaSettings::default(),
        );
        let mut pa = active(&spec, 0, 3);
        assert_eq!(go(&mut pa, &spec, input(500, 3, 0, -100)).0.want, 1);
        assert_eq!(pa.activity, Activity::Active);
    }

    #[test]
    fn s8_2_activation_times_out_after_progress_deadline_plus_30s() {
        let spec = defaults();
        let mut pa = Pa::new(&spec, t(0));
        // Activating (no ready pods), the decider wants 0: no change, re-checked later.
        let (r, _) = go(&mut pa, &spec, input(0, 0, 0, -100));
        assert_eq!(r.want, -1);
        assert_eq!(pa.activity, Activity::Activating);
        assert_eq!(pa.next_requeue(), Some(t(630)));
        assert_eq!(go(&mut pa, &spec, input(630, 0, 0, -100)).0.want, -1);
        let (r, _) = go(&mut pa, &spec, input(631, 0, 0, -100));
        assert_eq!(
            r,
            Reconciled {
                want: 0,
                patch: Some(0)
            }
        );
        assert_eq!(pa.activity, Activity::Inactive);
        assert_eq!(pa.reason, "TimedOut");
    }

    #[test]
    fn s8_3_active_condition_table() {
        let spec = defaults();
        // want > 0, not enough ready: Activating/Queued.
        let mut pa = Pa::new(&spec, t(0));
        go(&mut pa, &spec, input(0, 0, 2, -100));
        assert_eq!(
            (pa.activity, pa.reason.as_str()),
            (Activity::Activating, "Queued")
        );
        // Enough ready: Active.
        go(&mut pa, &spec, input(5, 1, 2, -100));
        assert_eq!(pa.activity, Activity::Active);
        assert_eq!(pa.since, t(5));
        // Staying active keeps the transition time.
        go(&mut pa, &spec, input(9, 2, 2, -100));
        assert_eq!(pa.since, t(5));
        // Inactive with want −1 stays inactive whatever the ready count.
        let mut pa = active(&spec, 0, 1);
        go(&mut pa, &spec, input(60, 1, 0, -100));
        assert_eq!(pa.activity, Activity::Inactive);
        go(&mut pa, &spec, input(62, 1, -1, -100));
        assert_eq!(pa.activity, Activity::Inactive);
        go(&mut pa, &spec, input(64, 0, -1, -100));
        assert_eq!(pa.activity, Activity::Inactive);
        // A request wakes it: want 1 with 0 ready → Activating.
        go(&mut pa, &spec, input(66, 0, 1, -100));
        assert_eq!(
            (pa.activity, pa.reason.as_str()),
            (Activity::Activating, "Queued")
        );
    }

    #[test]
    fn s8_3_zero_initial_scale_is_inactive_from_the_start() {
        let spec = spec_with(
            KpaConfig {
                allow_zero_initial_scale: true,
                ..KpaConfig::default()
            },
            KpaSettings {
                initial_scale: Some(0),
                ..KpaSettings::default()
            },
        );
        let mut pa = Pa::new(&spec, t(0));
        assert_eq!(pa.replicas, 0);
        go(&mut pa, &spec, input(0, 0, -1, -100));
        assert_eq!(
            (pa.activity, pa.reason.as_str()),
            (Activity::Inactive, "NoTraffic")
        );
    }

    #[test]
    fn s8_request_path_mode() {
        let spec = defaults();
        let mut pa = active(&spec, 0, 3);
        go(&mut pa, &spec, input(1, 3, 3, 0));
        assert_eq!(pa.sks_mode, Some(SksMode::Serve)); // EBC 0 is enough
        // The changed request path triggers another reconcile at once.
        assert_eq!(pa.next_requeue(), Some(t(1)));
        go(&mut pa, &spec, input(2, 3, 3, -1));
        assert_eq!(pa.sks_mode, Some(SksMode::Proxy));
        assert_eq!(pa.proxy_since, Some(t(2)));
        go(&mut pa, &spec, input(3, 3, 3, -5));
        assert_eq!(pa.proxy_since, Some(t(2)));
        // want −1 on an active PA with headroom: serve.
        go(&mut pa, &spec, input(4, 3, -1, 10));
        assert_eq!(pa.sks_mode, Some(SksMode::Serve));
        assert_eq!(pa.proxy_since, None);
    }

    #[test]
    fn s8_activator_count() {
        let spec = defaults();
        // (5 × 100 + 211) / 100 → 8.
        assert_eq!(activators_needed(&spec, 5), 8);
        assert_eq!(activators_needed(&spec, 0), 3);
        let always = spec_with(
            KpaConfig::default(),
            KpaSettings {
                target_burst_capacity: Some(-1.0),
                ..KpaSettings::default()
            },
        );
        assert_eq!(activators_needed(&always, 5), 5);
        assert_eq!(activators_needed(&always, 1), 2);
        let zero = spec_with(
            KpaConfig::default(),
            KpaSettings {
                target_burst_capacity: Some(0.0),
                ..KpaSettings::default()
            },
        );
        assert_eq!(activators_needed(&zero, 50), 2);
    }
}
