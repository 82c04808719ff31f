//! Every decision the simulator asks of an engine can be written as an `ebb decide` scenario:
//! the autoscaler, what it observed, and its memory, with every time as an age before the
//! decision. `ebb decide -f` on that file must give the same decision; the test suite checks
//! it, and users can open any moment of a run with `ebb decide --explain`.

use ebb_core::hpa::{Hpa, HpaObservation, HpaState};
use ebb_core::units::duration::format_duration;
use ebb_core::{Instant, decision::ConditionStatus};
use serde::Serialize;
use serde_json::{Value, json};

/// One decision, as a scenario for `ebb decide` and the simulator's own answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecideRecord {
    /// The policy.
    pub policy: String,
    /// When, ns since the start of the run.
    pub time_ns: i64,
    /// The `ebb decide` scenario.
    pub scenario: Value,
    /// The simulator's decision, as `ebb decide` prints it in JSON.
    pub decision: Value,
}

/// `now − t` as a Go duration with nanosecond precision.
fn age(now: Instant, t: Instant) -> String {
    format_duration(now.since(t))
}

/// The scenario of one HPA sync: `hpa` after the sync (for its spec and flags), the observation
/// it was given, and its memory before the sync.
pub(crate) fn hpa_scenario(
    name: &str,
    hpa: &Hpa,
    obs: &HpaObservation,
    before: &HpaState,
) -> Value {
    let now = obs.now;
    let mut pods = Vec::new();
    let samples = obs.resource_metrics.as_ref().ok();
    for pod in &obs.pods {
        let mut p = json!({
            "name": pod.name,
            "phase": pod.phase,
            "started": pod.start_time.map(|t| age(now, t)),
            "deleting": pod.deleting,
            "requests": pod.containers.first().map(|c| &c.requests),
        });
        p["ready"] = match pod.ready {
            Some(r) => json!({
                "status": match r.status {
                    ConditionStatus::True => "True",
                    ConditionStatus::False => "False",
                    ConditionStatus::Unknown => "Unknown",
                },
                "since": age(now, r.last_transition_time),
            }),
            None => Value::Null,
        };
        if let Some(sample) = samples.and_then(|s| s.iter().find(|s| s.pod == pod.name)) {
            p["usage"] = json!(sample.containers.first().map(|c| &c.usage));
            p["sample"] = json!({
                "age": age(now, sample.timestamp),
                "window": format_duration(sample.window),
            });
        }
        pods.push(p);
    }
    let scale = obs.scale.as_ref().ok();
    let mut history = json!({
        "scaleUpEvents": before.scale_up_events.iter()
            .map(|e| json!({"change": e.change, "age": age(now, e.at)})).collect::<Vec<_>>(),
        "scaleDownEvents": before.scale_down_events.iter()
            .map(|e| json!({"change": e.change, "age": age(now, e.at)})).collect::<Vec<_>>(),
    });
    if let Some(recs) = &before.recommendations {
        history["recommendations"] = recs
            .iter()
            .map(|r| json!({"replicas": r.replicas, "age": age(now, r.at)}))
            .collect();
    }
    json!({
        "autoscaler": {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": hpa.spec(),
        },
        "target": {
            "replicas": scale.map(|s| s.spec_replicas),
            "statusReplicas": scale.map(|s| s.status_replicas),
            "selector": scale.map(|s| &s.selector),
        },
        "pods": pods,
        "history": history,
        "controller": hpa.settings(),
    })
}
