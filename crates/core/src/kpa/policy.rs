//! [`Kpa`]: one revision's autoscaler — collector, decider and reconciler — as one value that a
//! driver feeds with statistics and ticks, and whose whole state can be saved and restored.
//!
//! A driver (the local runtime, the Kubernetes controller, `ebb decide`, the simulator) does:
//!
//! 1. [`Kpa::new`] when the revision appears, then [`Kpa::reconcile`] once (Knative reconciles
//!    a new PodAutoscaler at once);
//! 2. [`Kpa::record`] for every per-second [`Stat`] (replicas and request holder); when it
//!    returns `true` (a request woke a revision at zero), [`Kpa::tick`] immediately;
//! 3. [`Kpa::tick`] every [`TICK_INTERVAL`];
//! 4. [`Kpa::reconcile`] at [`Kpa::next_reconcile`] and whenever the ready count changes.
//!
//! Each call returns a [`Decision`] whose `scale_to` is the replica count to write, if any.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::collector::{Collector, NoData, Source, Stat};
use super::decider::{Decider, ScaleResult, TickInput};
use super::reconciler::{Pa, ReconcileInput};
use super::spec::{KpaSpec, Reachability};
use crate::decision::{Decision, PolicyClass, Step};
use crate::time::Instant;

/// The decider runs this often (and immediately on a poke while at zero).
pub const TICK_INTERVAL: Duration = Duration::from_secs(2);

/// Stable and panic window values handed in directly instead of being collected.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowValues {
    /// Stable-window average (revision total).
    pub stable: f64,
    /// Panic-window average (revision total).
    pub panic: f64,
}

/// What the driver observed for one tick or reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Ready pods, or why they could not be counted (a missing target counts as `Ok(0)`).
    pub ready: Result<i32, String>,
    /// The target's `spec.replicas` if the driver read it; `None` uses the last written value.
    pub replicas: Option<i32>,
    /// Whether the revision is routed.
    pub reachability: Reachability,
    /// Whether the request holder answers through the revision's service. ebb's gateway is
    /// always in the request path, so the local runtime passes `true`.
    pub holder_reachable: bool,
    /// `Some`: use these window values (or this read error) instead of the collector's.
    pub windows: Option<Result<WindowValues, String>>,
}

impl Observation {
    /// `ready` pods, everything else at its usual value (routed, holder reachable, collected
    /// windows).
    pub fn ready(ready: i32) -> Self {
        Observation {
            ready: Ok(ready),
            replicas: None,
            reachability: Reachability::Unknown,
            holder_reachable: true,
            windows: None,
        }
    }
}

/// Everything the autoscaler remembers about a revision. Serializable, so a controller can
/// persist it and resume after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KpaState {
    /// Per-second buckets.
    pub collector: Collector,
    /// Panic state, delay window, last answer.
    pub decider: Decider,
    /// The PodAutoscaler: Active condition, timers, request path, replicas.
    pub pa: Pa,
}

/// One revision's Knative Pod Autoscaler.
#[derive(Debug, Clone, PartialEq)]
pub struct Kpa {
    spec: KpaSpec,
    state: KpaState,
}

impl Kpa {
    /// A new revision at `now`; `ready` pods are ready at creation (more than one starts the
    /// decider in panic mode).
    pub fn new(spec: KpaSpec, now: Instant, ready: i32) -> Self {
        let state = KpaState {
            collector: Collector::new(&spec),
            decider: Decider::new(&spec, now, ready),
            pa: Pa::new(&spec, now),
        };
        Kpa { spec, state }
    }

    /// Resumes from saved state.
    pub fn restore(spec: KpaSpec, state: KpaState) -> Self {
        Kpa { spec, state }
    }

    /// The resolved spec.
    pub fn spec(&self) -> &KpaSpec {
        &self.spec
    }

    /// The state, for saving or inspecting.
    pub fn state(&self) -> &KpaState {
        &self.state
    }

    /// Applies a changed spec. The windows are resized keeping recent data; the scale-down
    /// delay window is not created, removed or resized (Knative builds it only when the
    /// decider is created, spec §11.12).
    pub fn update_spec(&mut self, now: Instant, spec: KpaSpec) {
        if spec.stable_window != self.spec.stable_window
            || spec.panic_window != self.spec.panic_window
        {
            self.state.collector.resize(now.floor_secs(), &spec);
        }
        self.spec = spec;
    }

    /// Records one second of load. Returns `true` when the driver should tick at once: a
    /// request reached the request holder while the decider's answer is 0.
    pub fn record(&mut self, now: Instant, source: Source, stat: &Stat) -> bool {
        self.state.collector.record(now.floor_secs(), stat);
        source == Source::Holder
            && self.state.decider.status.desired_scale == 0
            && stat.average_concurrency != 0.0
    }

    /// When the reconciler asked to run again, if it did.
    pub fn next_reconcile(&self) -> Option<Instant> {
        self.state.pa.next_requeue()
    }

    /// The target's replicas as last written.
    pub fn replicas(&self) -> i32 {
        self.state.pa.replicas
    }

    /// One decider tick, followed by a reconcile if the answer changed, the ready count
    /// changed or a reconcile is due.
    pub fn tick(&mut self, now: Instant, obs: &Observation) -> Decision {
        let mut d = self.start(obs);
        let notified = match self.decide(now, obs, &mut d.steps) {
            Some(result) => {
                let notified = self.state.decider.publish(result);
                d.steps.push(Step::DeciderResult {
                    desired: result.desired,
                    excess_burst_capacity: result.excess_burst_capacity,
                    reconcile: notified,
                });
                notified
            }
            None => false,
        };
        let ready_changed = obs
            .ready
            .as_ref()
            .is_ok_and(|r| *r != self.state.pa.actual_scale);
        let due = self.next_reconcile().is_some_and(|t| !t.is_after(now));
        if notified || ready_changed || due {
            self.reconcile_into(now, obs, &mut d);
        } else {
            self.finish_without_reconcile(&mut d);
        }
        d
    }

    /// One reconcile, without a decider tick (requeue timers, ready count changes).
    pub fn reconcile(&mut self, now: Instant, obs: &Observation) -> Decision {
        let mut d = self.start(obs);
        self.reconcile_into(now, obs, &mut d);
        d
    }

    fn start(&mut self, obs: &Observation) -> Decision {
        if let Some(r) = obs.replicas {
            self.state.pa.replicas = r;
        }
        Decision::new(PolicyClass::Kpa, self.state.pa.replicas)
    }

    /// The decider's inputs and tick; `None` when they are not valid (the last answer stays).
    fn decide(
        &mut self,
        now: Instant,
        obs: &Observation,
        steps: &mut Vec<Step>,
    ) -> Option<ScaleResult> {
        let spec = &self.spec;
        let ready = match &obs.ready {
            Ok(r) => *r,
            Err(e) => {
                steps.push(Step::NoData {
                    error: format!("cannot count ready pods: {e}"),
                });
                return None;
            }
        };
        let (stable, panic) = match &obs.windows {
            Some(Ok(v)) => (v.stable, v.panic),
            Some(Err(e)) => {
                steps.push(Step::NoData { error: e.clone() });
                return None;
            }
            None => match self.state.collector.stable_and_panic(
                spec.metric,
                now.floor_secs(),
                spec.has_scrape_target(),
            ) {
                Ok(v) => v,
                Err(NoData) => {
                    steps.push(Step::NoData {
                        error: format!(
                            "nothing recorded in the last {}s",
                            spec.stable_window_secs()
                        ),
                    });
                    return None;
                }
            },
        };
        steps.push(Step::Observed {
            metric: spec.metric.name().into(),
            stable,
            panic,
            stable_window_seconds: spec.stable_window.0.as_secs_f64(),
            panic_window_seconds: spec.panic_window.0.as_secs_f64(),
            target: spec.target_value,
            ready,
        });
        let reachable = obs.reachability.is_reachable();
        let input = TickInput {
            now,
            ready,
            stable,
            panic,
            reachable,
        };
        Some(self.state.decider.scale(spec, input, steps))
    }

    fn reconcile_into(&mut self, now: Instant, obs: &Observation, d: &mut Decision) {
        let ready = match &obs.ready {
            Ok(r) => *r,
            Err(e) => {
                d.error = Some(format!("cannot count ready pods: {e}"));
                self.finish_without_reconcile(d);
                return;
            }
        };
        let input = ReconcileInput {
            now,
            ready,
            reachability: obs.reachability,
            holder_reachable: obs.holder_reachable,
            decider: self.state.decider.status,
        };
        let pa = &mut self.state.pa;
        let result = pa.reconcile(&self.spec, &input, &mut d.steps, &mut d.conditions);
        d.scale_to = result.patch;
        d.desired_replicas = if result.want >= 0 {
            result.want
        } else {
            known_desired(pa)
        };
        if let Some(n) = result.patch {
            d.reason = Some(match n {
                0 => "scale to zero".to_string(),
                _ => format!("{} wants {n}", self.spec.metric.name()),
            });
        }
    }

    fn finish_without_reconcile(&self, d: &mut Decision) {
        let pa = &self.state.pa;
        d.desired_replicas = known_desired(pa);
        d.conditions.push(pa.condition());
    }
}

fn known_desired(pa: &Pa) -> i32 {
    pa.desired_scale.filter(|d| *d >= 0).unwrap_or(pa.replicas)
}

#[cfg(test)]
mod tests;
