//! From a metric proposal to the replica count the HPA writes: stabilization windows over the
//! recommendation history, rate limits over scale events, and min/max bounds.
//!
//! Spec §5 (no `behavior`: every autoscaling/v1 HPA) and §6 (with `behavior`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::spec::{
    ResolvedBehavior, ResolvedRules, ScalingPolicy, ScalingPolicyType, SelectPolicy,
};
use crate::time::Instant;

/// A past metric proposal (before stabilization).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    /// Proposed replicas.
    pub replicas: i32,
    /// When it was proposed.
    pub at: Instant,
}

/// A past rescale in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleEvent {
    /// How many replicas were added (or removed), ≥ 0.
    pub change: i32,
    /// When.
    pub at: Instant,
    /// Older than the longest policy period: kept for reuse, never counted.
    pub outdated: bool,
}

/// What a normalization step did: the upstream reason and message, and a short rule for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) replicas: i32,
    pub(crate) reason: &'static str,
    pub(crate) message: &'static str,
    pub(crate) rule: String,
}

const WITHIN_RANGE: (&str, &str) = (
    "DesiredWithinRange",
    "the desired count is within the acceptable range",
);
const SCALE_UP_LIMIT: (&str, &str) = (
    "ScaleUpLimit",
    "the desired replica count is increasing faster than the maximum scale rate",
);
const SCALE_DOWN_LIMIT: (&str, &str) = (
    "ScaleDownLimit",
    "the desired replica count is decreasing faster than the maximum scale rate",
);
const TOO_MANY: (&str, &str) = (
    "TooManyReplicas",
    "the desired replica count is more than the maximum replica count",
);
const TOO_FEW: (&str, &str) = (
    "TooFewReplicas",
    "the desired replica count is less than the minimum replica count",
);

fn outcome(
    replicas: i32,
    (reason, message): (&'static str, &'static str),
    rule: String,
) -> Outcome {
    Outcome {
        replicas,
        reason,
        message,
        rule,
    }
}

fn seconds(s: i32) -> Duration {
    Duration::from_secs(u64::try_from(s).unwrap_or(0))
}

/// Spec §5.1: the highest proposal within the downscale window (including this one), then the
/// proposal is stored, reusing the last entry older than the window.
pub(crate) fn stabilize_legacy(
    history: &mut Vec<Recommendation>,
    proposal: i32,
    window: Duration,
    now: Instant,
) -> i32 {
    let cutoff = now - window;
    let mut highest = proposal;
    let mut old = None;
    for (i, rec) in history.iter().enumerate() {
        if rec.at.is_before(cutoff) {
            old = Some(i);
        } else if rec.replicas > highest {
            highest = rec.replicas;
        }
    }
    store(
        history,
        old,
        Recommendation {
            replicas: proposal,
            at: now,
        },
    );
    highest
}

fn store(history: &mut Vec<Recommendation>, reuse: Option<usize>, rec: Recommendation) {
    match reuse {
        Some(i) => history[i] = rec,
        None => history.push(rec),
    }
}

/// Spec §5.2 `convertDesiredReplicasWithRules`: min first, then `max(factor × current,
/// minimum)` per sync, then max.
pub(crate) fn clamp_legacy(
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    factor: f64,
    minimum: f64,
) -> Outcome {
    let scale_up_limit = (factor * f64::from(current)).max(minimum) as i32;
    let (upper, limit, rule) = if max > scale_up_limit {
        (
            scale_up_limit,
            SCALE_UP_LIMIT,
            format!(
                "at most max({}×{current}, {}) = {scale_up_limit} per sync",
                trim(factor),
                trim(minimum)
            ),
        )
    } else {
        (max, TOO_MANY, format!("maxReplicas={max}"))
    };
    if desired < min {
        return outcome(min, TOO_FEW, format!("minReplicas={min}"));
    }
    if desired > upper {
        return outcome(upper, limit, rule);
    }
    outcome(desired, WITHIN_RANGE, String::new())
}

fn trim(x: f64) -> String {
    super::replicas::trim_float(x)
}

/// What stabilization with behaviors did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stabilized {
    pub(crate) replicas: i32,
    /// `ScaleUpStabilized` when the proposal was ≥ current, else `ScaleDownStabilized`.
    pub(crate) reason: &'static str,
    pub(crate) message: &'static str,
}

/// Spec §6.1: start from current, raise to the lowest proposal of the up-window, lower to the
/// highest proposal of the down-window; store the proposal.
pub(crate) fn stabilize_with_behavior(
    history: &mut Vec<Recommendation>,
    proposal: i32,
    current: i32,
    behavior: &ResolvedBehavior,
    now: Instant,
) -> Stabilized {
    let up_cutoff = now - seconds(behavior.scale_up.stabilization_window_seconds);
    let down_cutoff = now - seconds(behavior.scale_down.stabilization_window_seconds);
    let mut up_rec = proposal;
    let mut down_rec = proposal;
    let mut old = None;
    for (i, rec) in history.iter().enumerate() {
        if rec.at.is_after(up_cutoff) {
            up_rec = up_rec.min(rec.replicas);
        }
        if rec.at.is_after(down_cutoff) {
            down_rec = down_rec.max(rec.replicas);
        }
        if rec.at.is_before(up_cutoff) && rec.at.is_before(down_cutoff) {
            old = Some(i);
        }
    }
    let replicas = current.max(up_rec).min(down_rec);
    store(
        history,
        old,
        Recommendation {
            replicas: proposal,
            at: now,
        },
    );
    if proposal >= current {
        Stabilized {
            replicas,
            reason: "ScaleUpStabilized",
            message: "recent recommendations were lower than current one, applying the lowest recent recommendation",
        }
    } else {
        Stabilized {
            replicas,
            reason: "ScaleDownStabilized",
            message: "recent recommendations were higher than current one, applying the highest recent recommendation",
        }
    }
}

/// Sum of changes strictly newer than `now - period`.
fn change_in_period(events: &[ScaleEvent], period_seconds: i32, now: Instant) -> i32 {
    let cutoff = now - seconds(period_seconds);
    events
        .iter()
        .filter(|e| e.at.is_after(cutoff))
        .map(|e| e.change)
        .fold(0_i32, i32::saturating_add)
}

/// The replicas a policy allows, from the count at its period's start (spec §6.3).
fn policy_limit(
    policy: &ScalingPolicy,
    current: i32,
    up: &[ScaleEvent],
    down: &[ScaleEvent],
    now: Instant,
    direction_up: bool,
) -> (i32, i32) {
    let added = change_in_period(up, policy.period_seconds, now);
    let deleted = change_in_period(down, policy.period_seconds, now);
    let start = current.saturating_sub(added).saturating_add(deleted);
    let limit = match (policy.kind, direction_up) {
        (ScalingPolicyType::Pods, true) => start.saturating_add(policy.value),
        (ScalingPolicyType::Percent, true) => {
            (f64::from(start) * (1.0 + f64::from(policy.value) / 100.0)).ceil() as i32
        }
        (ScalingPolicyType::Pods, false) => start.saturating_sub(policy.value),
        (ScalingPolicyType::Percent, false) => {
            (f64::from(start) * (1.0 - f64::from(policy.value) / 100.0)) as i32
        }
    };
    (limit, start)
}

/// Combines the policies of one direction; returns the limit and the rule that set it.
fn direction_limit(
    rules: &ResolvedRules,
    current: i32,
    up: &[ScaleEvent],
    down: &[ScaleEvent],
    now: Instant,
    direction_up: bool,
) -> (i32, String) {
    let name = if direction_up { "scaleUp" } else { "scaleDown" };
    if rules.select_policy == SelectPolicy::Disabled {
        return (current, format!("{name}.selectPolicy=Disabled"));
    }
    // "Max" picks the most permissive policy: the highest limit going up, the lowest going down.
    let permissive = rules.select_policy == SelectPolicy::Max;
    let prefer_higher = permissive == direction_up;
    let mut best: Option<(i32, String)> = None;
    for policy in &rules.policies {
        let (limit, start) = policy_limit(policy, current, up, down, now, direction_up);
        let better = match &best {
            None => true,
            Some((b, _)) => {
                if prefer_higher {
                    limit > *b
                } else {
                    limit < *b
                }
            }
        };
        if better {
            let from = if start == current {
                String::new()
            } else {
                format!(", from {start} at the period's start")
            };
            best = Some((limit, format!("{name} policy {policy}{from}")));
        }
    }
    best.unwrap_or((current, format!("{name} has no policies")))
}

/// Spec §6.2: rate limit and bounds in the direction of movement.
pub(crate) fn rate_limit(
    current: i32,
    desired: i32,
    (min, max): (i32, i32),
    behavior: &ResolvedBehavior,
    up_events: &[ScaleEvent],
    down_events: &[ScaleEvent],
    now: Instant,
) -> Outcome {
    if desired > current {
        let (limit, rule) = direction_limit(
            &behavior.scale_up,
            current,
            up_events,
            down_events,
            now,
            true,
        );
        // Recent scale-ups can put the limit below current: then no further scale-up yet.
        let limit = limit.max(current);
        let (upper, why, rule) = if max > limit {
            (limit, SCALE_UP_LIMIT, rule)
        } else {
            (max, TOO_MANY, format!("maxReplicas={max}"))
        };
        if desired > upper {
            return outcome(upper, why, rule);
        }
    } else if desired < current {
        let (limit, rule) = direction_limit(
            &behavior.scale_down,
            current,
            up_events,
            down_events,
            now,
            false,
        );
        let limit = limit.min(current);
        let (lower, why, rule) = if min < limit {
            (limit, SCALE_DOWN_LIMIT, rule)
        } else {
            (min, TOO_FEW, format!("minReplicas={min}"))
        };
        if desired < lower {
            return outcome(lower, why, rule);
        }
    }
    outcome(desired, WITHIN_RANGE, String::new())
}

/// Spec §6.4: after a successful rescale, remember it in its direction's list, reusing the last
/// entry older than that direction's longest policy period.
pub(crate) fn record_scale_event(
    behavior: &ResolvedBehavior,
    up_events: &mut Vec<ScaleEvent>,
    down_events: &mut Vec<ScaleEvent>,
    previous: i32,
    new: i32,
    now: Instant,
) {
    let (events, rules, change) = if new > previous {
        (up_events, &behavior.scale_up, new - previous)
    } else {
        (down_events, &behavior.scale_down, previous - new)
    };
    let cutoff = now - seconds(rules.longest_period_seconds());
    let mut reuse = None;
    for (i, e) in events.iter_mut().enumerate() {
        if e.at.is_before(cutoff) {
            e.outdated = true;
        }
        if e.outdated {
            reuse = Some(i);
        }
    }
    let event = ScaleEvent {
        change,
        at: now,
        outdated: false,
    };
    match reuse {
        Some(i) => events[i] = event,
        None => events.push(event),
    }
}
