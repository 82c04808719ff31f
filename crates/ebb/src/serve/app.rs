//! One running app: its replicas, its route, and what `ebb get` / `ebb describe` show of it.
//!
//! The autoscaler loop writes decisions and events here; the pool glue writes replica ids;
//! the admin API reads snapshots. Everything is behind one short-held mutex per app.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ebb_core::decision::{Condition, Decision, EventType};
use ebb_gateway::{Gateway, ReplicaId, ServiceObservation};
use ebb_supervisor::ReplicaSet;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::metrics::AppMetrics;
use super::plan::AppPlan;

/// Maps tokio's clock onto the engine's time: nanoseconds since `ebb serve` started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub(crate) epoch: tokio::time::Instant,
}

impl Clock {
    pub(crate) fn now(&self) -> ebb_core::Instant {
        self.at(tokio::time::Instant::now())
    }

    pub(crate) fn at(&self, t: tokio::time::Instant) -> ebb_core::Instant {
        let nanos = t.saturating_duration_since(self.epoch).as_nanos();
        ebb_core::Instant::from_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
    }
}

/// Seconds since `ebb serve` started, for the API (clients turn them into ages).
pub(crate) fn secs(t: ebb_core::Instant) -> f64 {
    t.as_secs_f64()
}

/// An event as `kubectl describe` lists them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EventRecord {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) reason: String,
    pub(crate) message: String,
    /// Who recorded it: `horizontal-pod-autoscaler`, `kpa`, `replicas`.
    pub(crate) from: String,
    /// Seconds since start, first and last time; repeats are folded as kubectl does.
    pub(crate) first: f64,
    pub(crate) last: f64,
    pub(crate) count: u32,
}

/// One decision of the autoscaler, kept for `describe` and the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DecisionRecord {
    pub(crate) at: f64,
    pub(crate) summary: String,
    /// Each step as a sentence, so clients need not know the step types.
    pub(crate) explanation: Vec<String>,
    /// The decision itself, as `ebb decide` prints it.
    pub(crate) decision: serde_json::Value,
}

/// What the autoscaler loop last published about the app.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyStatus {
    /// The count last written (what the replicas converge to).
    pub(crate) desired: i32,
    /// kubectl's TARGETS cell(s): `cpu: 23%/50%`, `concurrency: 3.2/7`.
    pub(crate) targets: String,
    pub(crate) conditions: Vec<Condition>,
    /// Knative only: panic mode.
    pub(crate) panic: bool,
    /// Describe's Metrics block: `(label, "current / target")`.
    pub(crate) metrics: Vec<(String, String)>,
}

const KEEP_DECISIONS: usize = 20;
const KEEP_EVENTS: usize = 100;

#[derive(Default)]
pub(crate) struct Mutable {
    pub(crate) policy: PolicyStatus,
    pub(crate) decisions: VecDeque<DecisionRecord>,
    /// The very last decision, significant or not.
    pub(crate) latest: Option<DecisionRecord>,
    pub(crate) events: VecDeque<EventRecord>,
    /// Replica name → its id in the gateway.
    pub(crate) gateway_ids: HashMap<String, ReplicaId>,
    /// The last per-second observation of the gateway.
    pub(crate) last_observation: Option<ServiceObservation>,
    /// When a request at zero woke the app, until its first replica is ready.
    pub(crate) woken_at: Option<tokio::time::Instant>,
}

/// One running app.
pub(crate) struct App {
    pub(crate) plan: AppPlan,
    pub(crate) replicas: ReplicaSet,
    pub(crate) gateway: Option<Gateway>,
    pub(crate) metrics: AppMetrics,
    pub(crate) clock: Clock,
    /// The gateway's observation every second (`None` until the first).
    pub(crate) observations: watch::Receiver<Option<ServiceObservation>>,
    state: Mutex<Mutable>,
}

impl App {
    pub(crate) fn new(
        plan: AppPlan,
        replicas: ReplicaSet,
        gateway: Option<Gateway>,
        metrics: AppMetrics,
        clock: Clock,
        observations: watch::Receiver<Option<ServiceObservation>>,
    ) -> Arc<App> {
        Arc::new(App {
            plan,
            replicas,
            gateway,
            metrics,
            clock,
            observations,
            state: Mutex::default(),
        })
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, Mutable> {
        // A poisoned lock only means a panic elsewhere; the data is still a status snapshot.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn name(&self) -> &str {
        &self.plan.name
    }

    /// Converges the replicas to `n`, removing the least busy first.
    pub(crate) fn scale_to(&self, n: i32) {
        let (ids, obs) = {
            let s = self.state();
            (s.gateway_ids.clone(), s.last_observation.clone())
        };
        let in_flight = |replica: &str| -> u64 {
            let Some(id) = ids.get(replica) else { return 0 };
            obs.as_ref()
                .and_then(|o| o.replicas.iter().find(|r| r.id == *id))
                .map_or(0, |r| u64::from(r.in_flight))
        };
        self.replicas
            .set_desired(u32::try_from(n.max(0)).unwrap_or(0), in_flight);
        self.metrics.desired.set(i64::from(n));
    }

    /// Ready replicas that are not terminating.
    pub(crate) fn ready_count(&self) -> i32 {
        let n = self.replicas.status().iter().filter(|r| r.ready).count();
        i32::try_from(n).unwrap_or(i32::MAX)
    }

    /// Publishes a decision: its events and the policy status always; the decision itself is
    /// kept in the history when `significant` (every HPA sync; KPA ticks that changed the count
    /// or the panic mode), and as the latest either way.
    pub(crate) fn record_decision(
        &self,
        d: &Decision,
        from: &str,
        policy: PolicyStatus,
        significant: bool,
    ) {
        let at = secs(self.clock.now());
        let mut s = self.state();
        for e in &d.events {
            let kind = match e.kind {
                EventType::Normal => "Normal",
                EventType::Warning => "Warning",
            };
            push_event(&mut s.events, kind, &e.reason, &e.message, from, at);
        }
        s.policy = policy;
        let record = DecisionRecord {
            at,
            summary: d.summary(),
            explanation: d.steps.iter().map(ToString::to_string).collect(),
            decision: serde_json::to_value(d).unwrap_or_default(),
        };
        if significant {
            if s.decisions.len() == KEEP_DECISIONS {
                s.decisions.pop_front();
            }
            s.decisions.push_back(record.clone());
        }
        s.latest = Some(record);
    }

    /// Records an event that did not come from a decision.
    pub(crate) fn event(&self, kind: &str, reason: &str, message: &str, from: &str) {
        let at = secs(self.clock.now());
        push_event(&mut self.state().events, kind, reason, message, from, at);
    }
}

/// Appends an event, folding an identical repeat into the previous one as kubectl does.
fn push_event(
    events: &mut VecDeque<EventRecord>,
    kind: &str,
    reason: &str,
    message: &str,
    from: &str,
    at: f64,
) {
    if let Some(last) = events.back_mut()
        && last.reason == reason
        && last.message == message
        && last.kind == kind
    {
        last.count += 1;
        last.last = at;
        return;
    }
    if events.len() == KEEP_EVENTS {
        events.pop_front();
    }
    events.push_back(EventRecord {
        kind: kind.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        from: from.to_string(),
        first: at,
        last: at,
        count: 1,
    });
}

/// How long a replica took from its scale-up order (or the wake-up) to ready.
pub(crate) fn cold_start(
    woken: Option<tokio::time::Instant>,
    created: tokio::time::Instant,
    ready: tokio::time::Instant,
) -> Duration {
    ready.saturating_duration_since(woken.map_or(created, |w| w.min(created)))
}
