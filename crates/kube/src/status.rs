//! The Autoscaler's status ⇄ the engines' memory. Pure: times are RFC 3339 strings on one side
//! and engine instants (nanoseconds since the Unix epoch, see [`crate::clock`]) on the other.

use ebb_core::Decision;
use ebb_core::hpa::normalize::{Recommendation, ScaleEvent};
use ebb_core::hpa::status::{HpaStatus, StatusCondition as EngineCondition, targets_column};
use ebb_core::hpa::{Hpa, HpaState};
use ebb_core::kpa::collector::Collector;
use ebb_core::kpa::{Kpa, KpaSpec, KpaState};
use ebb_core::time::Instant;
use serde::{Deserialize, Serialize};

use crate::clock::{parse_rfc3339, rfc3339};
use crate::crd::{
    AutoscalerStatus, HpaHistory, LastDecision, ScaleEventRecord, StatusCondition, TimedReplicas,
};

/// What of the KPA's memory goes into `status.kpa`: the decider (panic state, scale-down
/// delay window, last answer) and the PodAutoscaler (Active condition, timers, request path).
/// The per-second metric buckets stay in memory, as Knative keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KpaMemory {
    decider: ebb_core::kpa::decider::Decider,
    pa: ebb_core::kpa::reconciler::Pa,
}

fn times<T>(items: &[T], at: impl Fn(&T) -> Option<Instant>) -> bool {
    items.iter().all(|i| at(i).is_some())
}

/// The HPA memory saved in `status` (an empty memory when there is none, or when it cannot be
/// read: that is a controller that just started, which upstream always is).
pub fn hpa_state(status: Option<&AutoscalerStatus>) -> HpaState {
    let Some(status) = status else {
        return HpaState::default();
    };
    let history = status.history.clone().unwrap_or_default();
    let recommendations: Option<Vec<Recommendation>> = status.history.as_ref().and_then(|_| {
        history
            .recommendations
            .iter()
            .map(|r| {
                Some(Recommendation {
                    replicas: r.replicas,
                    at: parse_rfc3339(&r.timestamp)?,
                })
            })
            .collect()
    });
    let events = |list: &[ScaleEventRecord]| -> Vec<ScaleEvent> {
        list.iter()
            .filter_map(|e| {
                Some(ScaleEvent {
                    change: e.replica_change,
                    at: parse_rfc3339(&e.timestamp)?,
                    outdated: e.outdated,
                })
            })
            .collect()
    };
    let conditions = if times(&status.conditions, |c| {
        c.last_transition_time.as_deref().and_then(parse_rfc3339)
    }) {
        status
            .conditions
            .iter()
            .map(|c| EngineCondition {
                kind: c.kind.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_transition_time: c
                    .last_transition_time
                    .as_deref()
                    .and_then(parse_rfc3339)
                    .unwrap_or_default(),
            })
            .collect()
    } else {
        Vec::new()
    };
    HpaState {
        recommendations,
        scale_up_events: events(&history.scale_up_events),
        scale_down_events: events(&history.scale_down_events),
        status: HpaStatus {
            current_replicas: status.current_replicas,
            desired_replicas: status.desired_replicas,
            current_metrics: status.current_metrics.clone(),
            conditions,
            last_scale_time: status.last_scale_time.as_deref().and_then(parse_rfc3339),
        },
    }
}

/// The status of a class-hpa Autoscaler after a sync.
pub fn from_hpa(
    hpa: &Hpa,
    decision: &Decision,
    generation: Option<i64>,
    now: Instant,
) -> AutoscalerStatus {
    let state = hpa.state();
    let spec = hpa.spec();
    let s = &state.status;
    let record = |e: &ScaleEvent| ScaleEventRecord {
        replica_change: e.change,
        timestamp: rfc3339(e.at),
        outdated: e.outdated,
    };
    AutoscalerStatus {
        observed_generation: generation,
        reference: Some(spec.scale_target_ref.to_string()),
        targets: Some(targets_column(hpa.metrics(), &s.current_metrics)),
        min_pods: Some(spec.min()),
        max_pods: Some(spec.max_replicas),
        current_replicas: s.current_replicas,
        desired_replicas: s.desired_replicas,
        current_metrics: s.current_metrics.clone(),
        conditions: s
            .conditions
            .iter()
            .map(|c| StatusCondition {
                kind: c.kind.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_transition_time: Some(rfc3339(c.last_transition_time)),
            })
            .collect(),
        last_scale_time: s.last_scale_time.map(rfc3339),
        last_decision: Some(last_decision(decision, now)),
        history: Some(HpaHistory {
            recommendations: state
                .recommendations
                .iter()
                .flatten()
                .map(|r| TimedReplicas {
                    replicas: r.replicas,
                    timestamp: rfc3339(r.at),
                })
                .collect(),
            scale_up_events: state.scale_up_events.iter().map(record).collect(),
            scale_down_events: state.scale_down_events.iter().map(record).collect(),
        }),
        kpa: None,
    }
}

/// The explanation of a decision, as `ebb decide` prints it.
pub fn last_decision(decision: &Decision, now: Instant) -> LastDecision {
    LastDecision {
        time: rfc3339(now),
        summary: decision.summary(),
        explanation: decision.explain(),
    }
}

/// Restores a KPA from `status.kpa`, or starts a new one when there is nothing to restore.
pub fn kpa_engine(
    spec: KpaSpec,
    status: Option<&AutoscalerStatus>,
    now: Instant,
    ready: i32,
) -> Kpa {
    let saved = status
        .and_then(|s| s.kpa.clone())
        .and_then(|v| serde_json::from_value::<KpaMemory>(v).ok());
    match saved {
        Some(memory) => Kpa::restore(
            spec.clone(),
            KpaState {
                collector: Collector::new(&spec),
                decider: memory.decider,
                pa: memory.pa,
            },
        ),
        None => Kpa::new(spec, now, ready),
    }
}

/// The KPA memory for `status.kpa`.
pub fn kpa_memory(kpa: &Kpa) -> Option<serde_json::Value> {
    let state = kpa.state();
    serde_json::to_value(KpaMemory {
        decider: state.decider.clone(),
        pa: state.pa.clone(),
    })
    .ok()
}

/// Whether two statuses differ in more than the time of the last decision (status is written
/// only when it changes, as upstream does).
pub fn changed(old: Option<&AutoscalerStatus>, new: &AutoscalerStatus) -> bool {
    let Some(old) = old else {
        return true;
    };
    let untimed = |s: &AutoscalerStatus| {
        let mut s = s.clone();
        if let Some(d) = &mut s.last_decision {
            d.time.clear();
        }
        s
    };
    untimed(old) != untimed(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebb_core::hpa::HpaSettings;
    use ebb_core::hpa::observe::{HpaObservation, Scale};
    use ebb_core::hpa::spec::{CrossVersionObjectReference, HpaSpec};

    fn hpa() -> Hpa {
        let spec = HpaSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: "web".into(),
            },
            min_replicas: Some(1),
            max_replicas: 10,
            metrics: Vec::new(),
            behavior: None,
        };
        Hpa::new("default/web", spec, HpaSettings::default())
    }

    #[test]
    fn the_memory_survives_a_round_trip_through_status() {
        let mut engine = hpa();
        let now = Instant::from_secs(1_700_000_000);
        let obs = HpaObservation::new(
            now,
            Scale {
                spec_replicas: 3,
                status_replicas: 3,
                selector: "app=web".into(),
            },
        );
        let decision = engine.reconcile(&obs, |_| Ok(()));
        let status = from_hpa(&engine, &decision, Some(2), now);
        let json = serde_json::to_value(&status).unwrap();
        let back: AutoscalerStatus = serde_json::from_value(json).unwrap();
        assert_eq!(hpa_state(Some(&back)), *engine.state());
        assert_eq!(status.reference.as_deref(), Some("Deployment/web"));
        assert_eq!(status.targets.as_deref(), Some("cpu: <unknown>/80%"));
    }

    #[test]
    fn no_status_is_a_fresh_memory_and_only_time_is_not_a_change() {
        assert_eq!(hpa_state(None), HpaState::default());
        let mut engine = hpa();
        let now = Instant::from_secs(1_700_000_000);
        let obs = HpaObservation::new(
            now,
            Scale {
                spec_replicas: 3,
                status_replicas: 3,
                selector: "app=web".into(),
            },
        );
        let d = engine.reconcile(&obs, |_| Ok(()));
        let a = from_hpa(&engine, &d, Some(1), now);
        let b = from_hpa(&engine, &d, Some(1), Instant::from_secs(1_700_000_015));
        assert!(!changed(Some(&a), &b));
        assert!(changed(None, &b));
        let mut c = b.clone();
        c.desired_replicas = 4;
        assert!(changed(Some(&a), &c));
    }
}
