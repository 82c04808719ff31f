//! The answer every policy gives: how many replicas, whether to write them, and why.
//!
//! A [`Decision`] holds an ordered list of [`Step`]s, each with its numbers. `ebb decide
//! --explain`, `ebb describe`, the simulator's event log and the Kubernetes status message are
//! all renderings of that one list, so they cannot drift apart.

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

/// Which decision procedure produced a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyClass {
    /// Kubernetes Horizontal Pod Autoscaler semantics.
    Hpa,
    /// Knative Pod Autoscaler semantics.
    Kpa,
}

/// `True` / `False` / `Unknown`, as Kubernetes writes condition statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// Not known.
    Unknown,
}

impl fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        })
    }
}

/// A status condition with the upstream type, reason and message strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// `AbleToScale`, `ScalingActive`, `ScalingLimited` (HPA); `Active` (KPA).
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether it holds.
    pub status: ConditionStatus,
    /// Upstream CamelCase reason, e.g. `ScaleDownStabilized`.
    pub reason: String,
    /// Upstream message.
    pub message: String,
}

/// `Normal` or `Warning`, as Kubernetes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    /// Informational.
    Normal,
    /// Something went wrong.
    Warning,
}

/// An event a controller would record (`kubectl describe` shows these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Normal or Warning.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Upstream reason, e.g. `SuccessfulRescale`.
    pub reason: String,
    /// Upstream message, e.g. `New size: 4; reason: cpu resource utilization (percentage of request) above target`.
    pub message: String,
}

/// Direction of a replica change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// More replicas.
    Up,
    /// Fewer replicas.
    Down,
}

/// One step of a decision, with its numbers, in the order the engine took it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "step",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Step {
    // === HPA ===
    /// The target's scale was read.
    ScaleRead {
        /// `scale.spec.replicas`: what the HPA calls the current count.
        spec_replicas: i32,
        /// `scale.status.replicas`.
        status_replicas: i32,
    },
    /// Reading the target's scale failed; nothing else happens this sync.
    ScaleReadFailed {
        /// The error.
        error: String,
    },
    /// The target is at zero and minReplicas > 0: autoscaling is paused.
    ScalingDisabled,
    /// The current count is outside [min, max]: jump to the bound, skipping metrics and limits.
    OutOfRange {
        /// Current replicas.
        current: i32,
        /// The bound jumped to.
        to: i32,
        /// Upstream rescale reason.
        reason: String,
    },
    /// One metric's proposal.
    Metric {
        /// Upstream metric description, e.g. `cpu resource utilization (percentage of request)`.
        metric: String,
        /// Current value as kubectl prints it (`86%`, `310m`, `20`).
        current: String,
        /// Target as kubectl prints it.
        target: String,
        /// current/target as the engine computed it (after integer truncation where upstream truncates).
        ratio: f64,
        /// Replicas this metric proposes.
        replicas: i32,
        /// Why the proposal is what it is: tolerance, readiness, the second pass.
        notes: Vec<String>,
    },
    /// One metric could not be computed.
    MetricFailed {
        /// Upstream metric description.
        metric: String,
        /// Upstream condition reason, e.g. `FailedGetResourceMetric`.
        reason: String,
        /// The error.
        error: String,
    },
    /// The proposals were combined: the largest wins.
    Combined {
        /// The winning proposal.
        replicas: i32,
        /// The metric that proposed it.
        metric: String,
        /// How many metrics failed.
        invalid: usize,
        /// How many metrics there are.
        total: usize,
    },
    /// Some metrics failed and the rest would scale down (or all failed): no change.
    MetricsInvalid {
        /// How many metrics failed.
        invalid: usize,
        /// How many metrics there are.
        total: usize,
        /// The first error.
        error: String,
    },
    /// A stabilization window held the proposal back.
    Stabilized {
        /// Which window.
        direction: Direction,
        /// Window length in seconds.
        window_seconds: u64,
        /// The proposal.
        from: i32,
        /// The stabilized recommendation.
        to: i32,
    },
    /// A rate limit or a bound changed the recommendation.
    Limited {
        /// Upstream reason: `ScaleUpLimit`, `ScaleDownLimit`, `TooManyReplicas`, `TooFewReplicas`.
        reason: String,
        /// Which rule set the limit, e.g. `Pods=4/60s` or `max(2×3, 4)`.
        rule: String,
        /// Before.
        from: i32,
        /// After.
        to: i32,
    },
    /// The scale subresource was (or would be) written.
    Rescale {
        /// Replicas before.
        from: i32,
        /// Replicas after.
        to: i32,
        /// Upstream reason text.
        reason: String,
    },
    /// Writing the scale subresource failed.
    RescaleFailed {
        /// The count that could not be written.
        to: i32,
        /// The error.
        error: String,
    },

    // === KPA ===
    /// Window averages the KPA decider saw.
    Observed {
        /// `concurrency` or `rps`.
        metric: String,
        /// Stable-window average (revision total).
        stable: f64,
        /// Panic-window average (revision total).
        panic: f64,
        /// Stable window in seconds.
        stable_window_seconds: f64,
        /// Panic window in seconds.
        panic_window_seconds: f64,
        /// Per-pod target the averages are divided by.
        target: f64,
        /// Ready pods.
        ready: i32,
    },
    /// No usable observation: the decider keeps its last answer.
    NoData {
        /// Why.
        error: String,
    },
    /// Pods wanted by each window, unclamped and after the rate limits.
    Wanted {
        /// ceil(stable / target).
        stable_pods: i32,
        /// ceil(panic / target).
        panic_pods: i32,
        /// Upper rate bound ceil(maxScaleUpRate × ready).
        max_up: i32,
        /// Lower rate bound floor(ready / maxScaleDownRate).
        max_down: i32,
        /// Stable count after the rate bounds.
        stable_clamped: i32,
        /// Panic count after the rate bounds.
        panic_clamped: i32,
    },
    /// Activation scale raised a non-zero want.
    ActivationScale {
        /// `stable` or `panic`.
        window: String,
        /// Before.
        from: i32,
        /// After.
        to: i32,
    },
    /// Panic mode state this tick.
    Panic {
        /// `entered`, `extended` (still over the threshold), `held` (panicking, under it),
        /// `exited` or `off`.
        state: String,
        /// panic pods / ready, compared with the threshold.
        ratio: f64,
        /// The panic threshold (2.0 by default).
        threshold: f64,
        /// Desired while panicking (never decreases), if panicking.
        desired: Option<i32>,
    },
    /// The scale-down delay window: the maximum recent desired count.
    ScaleDownDelay {
        /// Delay in seconds.
        delay_seconds: f64,
        /// Before.
        from: i32,
        /// After (max over the delay window).
        to: i32,
    },
    /// Excess burst capacity and whether the request holder must stay in front.
    BurstCapacity {
        /// floor(ready × total − TBC − panic), 0 (TBC 0) or −1 (TBC −1).
        excess: i32,
        /// The target burst capacity.
        target_burst_capacity: f64,
        /// True when the request holder (Knative's activator, ebb's gateway hold path) must
        /// stay in the request path.
        activator_in_path: bool,
    },
    /// The decider published its answer.
    DeciderResult {
        /// Desired pods.
        desired: i32,
        /// Excess burst capacity.
        excess_burst_capacity: i32,
        /// Whether the reconciler is told (the answer changed, or the capacity changed sign).
        reconcile: bool,
    },
    /// The desired scale is not known yet (no metrics since the autoscaler started).
    DesiredUnknown,
    /// min-scale / max-scale / initial-scale applied by the reconciler.
    Bounds {
        /// Lower bound.
        min: i32,
        /// Upper bound (0 = none).
        max: i32,
        /// Before.
        from: i32,
        /// After.
        to: i32,
        /// Set when initial-scale raised the lower bound (the target never reached it yet).
        initial_scale: Option<i32>,
    },
    /// The scale-to-zero state machine.
    ScaleToZero {
        /// `active`, `inactive` or `activating`.
        state: String,
        /// What it did.
        action: String,
        /// Seconds until the reconciler looks again, if it set a timer.
        wait_seconds: Option<f64>,
    },
    /// Where requests go, and how many request holders are needed.
    RequestPath {
        /// `serve` (straight to the replicas) or `proxy` (through the request holder).
        mode: String,
        /// Why.
        reason: String,
        /// Request holders needed (Knative: activators in the revision's subset).
        holders: i32,
    },
}

/// A policy's answer for one tick.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// Which policy decided.
    pub policy: PolicyClass,
    /// Replicas when the tick started (HPA: the scale's spec.replicas).
    pub current_replicas: i32,
    /// What the target should converge to.
    pub desired_replicas: i32,
    /// `Some(n)` when the driver should write `n` to the scale subresource.
    pub scale_to: Option<i32>,
    /// The reason text that goes with a rescale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The explanation, in order.
    pub steps: Vec<Step>,
    /// Conditions after this tick.
    pub conditions: Vec<Condition>,
    /// Events a controller records for this tick.
    pub events: Vec<Event>,
    /// The reconcile error, if the tick ended with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Decision {
    /// An empty decision that keeps `current`.
    pub fn new(policy: PolicyClass, current: i32) -> Self {
        Decision {
            policy,
            current_replicas: current,
            desired_replicas: current,
            scale_to: None,
            reason: None,
            steps: Vec::new(),
            conditions: Vec::new(),
            events: Vec::new(),
            error: None,
        }
    }

    /// One line for a person: what happened and the main reason.
    ///
    /// e.g. `cpu 86%/50% → 6; held at 4 by ScaleUpLimit (Pods=4/60s); scale 2 → 4`.
    pub fn summary(&self) -> String {
        if self.policy == PolicyClass::Kpa {
            return crate::kpa::explain::summary(self);
        }
        let mut parts: Vec<String> = Vec::new();
        for step in &self.steps {
            match step {
                Step::ScaleReadFailed { error } => {
                    parts.push(format!("cannot read scale: {error}"))
                }
                Step::ScalingDisabled => {
                    parts.push("scaling disabled (target at 0, minReplicas > 0)".into())
                }
                Step::OutOfRange { current, to, .. } => {
                    parts.push(format!("{current} is outside [min, max] → {to}"))
                }
                Step::Metric {
                    metric,
                    current,
                    target,
                    replicas,
                    ..
                } => parts.push(format!(
                    "{} {current}/{target} → {replicas}",
                    short_metric(metric)
                )),
                Step::MetricFailed { metric, .. } => {
                    parts.push(format!("{} <unknown>", short_metric(metric)))
                }
                Step::MetricsInvalid { invalid, total, .. } => parts.push(format!(
                    "{invalid} of {total} metrics failed: no scale-down"
                )),
                Step::Stabilized {
                    direction,
                    window_seconds,
                    to,
                    ..
                } => parts.push(format!(
                    "held at {to} by the {window_seconds}s scale-{} stabilization window",
                    direction_word(*direction)
                )),
                Step::Limited {
                    reason, rule, to, ..
                } => parts.push(format!("held at {to} by {reason} ({rule})")),
                _ => {}
            }
        }
        match (self.scale_to, &self.error) {
            (Some(to), _) => parts.push(format!("scale {} → {to}", self.current_replicas)),
            (None, Some(_)) => parts.push(format!("stays at {}", self.current_replicas)),
            (None, None) => parts.push(format!("stays at {}", self.desired_replicas)),
        }
        parts.join("; ")
    }

    /// The full explanation for a person: the summary, then every step on its own line.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.summary());
        for (i, step) in self.steps.iter().enumerate() {
            let _ = writeln!(out, "  {}. {step}", i + 1);
        }
        if !self.conditions.is_empty() {
            let _ = writeln!(out, "  conditions:");
            for c in &self.conditions {
                let _ = writeln!(
                    out,
                    "    {} {} {}: {}",
                    c.kind, c.status, c.reason, c.message
                );
            }
        }
        for e in &self.events {
            let _ = writeln!(out, "  event {:?} {}: {}", e.kind, e.reason, e.message);
        }
        out
    }
}

fn direction_word(d: Direction) -> &'static str {
    match d {
        Direction::Up => "up",
        Direction::Down => "down",
    }
}

fn max_text(max: i32) -> String {
    if max == 0 {
        "∞".to_string()
    } else {
        max.to_string()
    }
}

/// `cpu resource utilization (percentage of request)` → `cpu`; `pods metric qps` → `qps`.
fn short_metric(metric: &str) -> &str {
    for prefix in ["pods metric ", "external metric "] {
        if let Some(rest) = metric.strip_prefix(prefix) {
            return rest.split('(').next().unwrap_or(rest);
        }
    }
    if let Some((kind_metric, _)) = metric.split_once(" resource") {
        return kind_metric;
    }
    if let Some(rest) = metric.split_once(" metric ") {
        return rest.1;
    }
    metric
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::ScaleRead { spec_replicas, status_replicas } => write!(
                f,
                "target scale: {spec_replicas} replicas in spec, {status_replicas} in status"
            ),
            Step::ScaleReadFailed { error } => write!(f, "could not read the target's scale: {error}"),
            Step::ScalingDisabled => f.write_str(
                "the target is at 0 replicas and minReplicas > 0: autoscaling is disabled until someone scales it up",
            ),
            Step::OutOfRange { current, to, reason } => {
                write!(f, "{reason}: {current} → {to} (metrics and limits are skipped)")
            }
            Step::Metric { metric, current, target, ratio, replicas, notes } => {
                let word = if *replicas == 1 { "replica" } else { "replicas" };
                write!(f, "{metric}: {current} / {target} (ratio {ratio:.3}) → {replicas} {word}")?;
                for note in notes {
                    write!(f, "; {note}")?;
                }
                Ok(())
            }
            Step::MetricFailed { metric, reason, error } => {
                write!(f, "{metric}: {reason}: {error}")
            }
            Step::Combined { replicas, metric, invalid, total } => {
                let valid = total - invalid;
                let noun = if valid == 1 { "metric" } else { "metrics" };
                write!(f, "largest proposal of {valid} valid {noun}: {replicas} from {metric}")?;
                if *invalid > 0 {
                    write!(f, " ({invalid} of {total} failed; scaling up or staying is still allowed)")?;
                }
                Ok(())
            }
            Step::MetricsInvalid { invalid, total, error } => write!(
                f,
                "invalid metrics ({invalid} invalid out of {total}), first error is: {error}; the HPA never scales down on partial data"
            ),
            Step::Stabilized { direction, window_seconds, from, to } => match direction {
                Direction::Down => write!(
                    f,
                    "scale-down stabilization ({window_seconds}s): the highest recommendation in the window is {to}, so {from} → {to}"
                ),
                Direction::Up => write!(
                    f,
                    "scale-up stabilization ({window_seconds}s): the lowest recommendation in the window is {to}, so {from} → {to}"
                ),
            },
            Step::Limited { reason, rule, from, to } => {
                write!(f, "{reason} ({rule}): {from} → {to}")
            }
            Step::Rescale { from, to, reason } => write!(f, "rescale {from} → {to}: {reason}"),
            Step::RescaleFailed { to, error } => write!(f, "writing {to} to the scale failed: {error}"),
            Step::Observed { metric, stable, panic, stable_window_seconds, panic_window_seconds, target, ready } => write!(
                f,
                "{metric}: stable {stable:.3} over {stable_window_seconds}s, panic {panic:.3} over {panic_window_seconds}s; target {}/pod; {ready} ready",
                crate::kpa::explain::num(*target)
            ),
            Step::NoData { error } => write!(f, "no data ({error}): keep the previous decision"),
            Step::Wanted { stable_pods, panic_pods, max_up, max_down, stable_clamped, panic_clamped } => write!(
                f,
                "stable wants {stable_pods} pods, panic wants {panic_pods}; rate bounds [{max_down}, {max_up}] → stable {stable_clamped}, panic {panic_clamped}"
            ),
            Step::ActivationScale { window, from, to } => {
                write!(f, "activation-scale raises the {window} want {from} → {to}")
            }
            Step::Panic { state, ratio, threshold, desired } => {
                write!(f, "panic {state}: panic pods / ready = {ratio:.2} (threshold {threshold})")?;
                if let Some(d) = desired {
                    write!(f, "; panicking, desired {d} (never decreases while panicking)")?;
                }
                Ok(())
            }
            Step::ScaleDownDelay { delay_seconds, from, to } => {
                write!(f, "scale-down-delay {delay_seconds}s: max over the window {from} → {to}")
            }
            Step::BurstCapacity { excess, target_burst_capacity, activator_in_path } => write!(
                f,
                "excess burst capacity {excess} (target burst capacity {target_burst_capacity}): request holder {}",
                if *activator_in_path { "stays in the path" } else { "may leave the path" }
            ),
            Step::DeciderResult { desired, excess_burst_capacity, reconcile } => write!(
                f,
                "decider: {desired} pods, excess burst capacity {excess_burst_capacity}; {}",
                if *reconcile { "the reconciler is told" } else { "unchanged, the reconciler is not told" }
            ),
            Step::DesiredUnknown => f.write_str(
                "desired scale unknown (no metrics yet): the reconciler changes nothing",
            ),
            Step::Bounds { min, max, from, to, initial_scale } => {
                write!(f, "bounds [{min}, {}]: {from} → {to}", max_text(*max))?;
                if let Some(i) = initial_scale {
                    write!(f, " (initial-scale {i} until the target first reaches it)")?;
                }
                Ok(())
            }
            Step::ScaleToZero { state, action, wait_seconds } => {
                write!(f, "scale to zero ({state}): {action}")?;
                if let Some(w) = wait_seconds {
                    write!(f, " (looks again in {})", crate::kpa::explain::seconds(*w))?;
                }
                Ok(())
            }
            Step::RequestPath { mode, reason, holders } => {
                write!(f, "request path: {mode} ({reason}); {holders} request holders")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_like_a_sentence() {
        let mut d = Decision::new(PolicyClass::Hpa, 2);
        d.steps.push(Step::Metric {
            metric: "cpu resource utilization (percentage of request)".into(),
            current: "86%".into(),
            target: "50%".into(),
            ratio: 1.72,
            replicas: 6,
            notes: vec![],
        });
        d.steps.push(Step::Limited {
            reason: "ScaleUpLimit".into(),
            rule: "Pods=4/60s".into(),
            from: 6,
            to: 4,
        });
        d.scale_to = Some(4);
        d.desired_replicas = 4;
        assert_eq!(
            d.summary(),
            "cpu 86%/50% → 6; held at 4 by ScaleUpLimit (Pods=4/60s); scale 2 → 4"
        );
    }

    #[test]
    fn short_names_for_every_metric_kind() {
        assert_eq!(
            short_metric("memory resource utilization (percentage of request)"),
            "memory"
        );
        assert_eq!(short_metric("cpu resource"), "cpu");
        assert_eq!(short_metric("pods metric qps"), "qps");
        assert_eq!(short_metric("Deployment metric hits"), "hits");
        assert_eq!(short_metric("external metric queue(nil)"), "queue");
    }

    #[test]
    fn steps_serialize_with_a_tag() {
        let json = serde_json_like(&Step::Stabilized {
            direction: Direction::Down,
            window_seconds: 300,
            from: 2,
            to: 5,
        });
        assert!(json.contains("\"step\":\"stabilized\""), "{json}");
        assert!(json.contains("\"windowSeconds\":300"), "{json}");
    }

    fn serde_json_like<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap()
    }
}
