//! Driving `ebb_core::hpa::Hpa` on virtual time, with the resource-metrics pipeline of a real
//! cluster.
//!
//! - metrics-server scrapes each running replica's cumulative CPU every `resolution` and
//!   publishes the rate between its last two scrapes (timestamp = the later scrape, window =
//!   their distance); a replica needs two scrapes before it has a sample, as in a cluster.
//! - A scrape becomes readable `lag` after it was taken.
//! - The HPA syncs every `sync_period` with the pods as Kubernetes would list them: starting
//!   replicas Running but not Ready, draining ones with a deletion timestamp.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use ebb_core::decision::ConditionStatus;
use ebb_core::hpa::observe::{
    Container, ContainerUsage, Pod, PodPhase, PodResourceMetrics, ReadyCondition, Scale,
};
use ebb_core::hpa::{Hpa, HpaObservation, HpaSettings, HpaSpec};
use ebb_core::units::quantity::QuantityFormat;
use ebb_core::{Decision, Instant, Quantity};

use super::{Driver, DriverContext};
use crate::cluster::{Cluster, CpuModel, ReplicaState};
use crate::decide::{self, DecideRecord};
use crate::spec::nanos;

/// One replica's CPU rate as metrics-server publishes it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    replica: u32,
    timestamp: i64,
    window: i64,
    cpu_milli: i64,
}

pub(super) struct HpaDriver {
    hpa: Hpa,
    name: String,
    target: String,
    sync_ns: i64,
    next_sync: i64,
    resolution_ns: i64,
    lag_ns: i64,
    next_scrape: i64,
    /// Per replica id: the last scrape's (time, cumulative CPU in millicore·ns).
    last_point: Vec<Option<(i64, f64)>>,
    /// Scrapes taken but not yet readable: (readable at, samples).
    pending: VecDeque<(i64, Vec<Sample>)>,
    /// The latest readable scrape.
    visible: Vec<Sample>,
    cpu: CpuModel,
    slots: u32,
    records: Option<Vec<DecideRecord>>,
}

impl HpaDriver {
    pub(super) fn new(
        name: &str,
        spec: HpaSpec,
        settings: HpaSettings,
        ctx: DriverContext,
        slots: u32,
    ) -> Self {
        let sync_ns = nanos(settings.sync_period).max(1);
        let target = spec.scale_target_ref.name.clone();
        HpaDriver {
            hpa: Hpa::new(format!("default/{name}"), spec, settings),
            name: name.to_string(),
            target,
            sync_ns,
            next_sync: sync_ns,
            resolution_ns: ctx.metrics.resolution_ns.max(1),
            lag_ns: ctx.metrics.lag_ns.max(0),
            next_scrape: 0,
            last_point: Vec::new(),
            pending: VecDeque::new(),
            visible: Vec::new(),
            cpu: ctx.cpu,
            slots,
            records: ctx.record_decisions.then(Vec::new),
        }
    }

    fn scrape(&mut self, now: i64, cluster: &Cluster) {
        let mut samples = Vec::new();
        self.last_point.resize(cluster.replicas().len(), None);
        for r in cluster.replicas() {
            if r.state == ReplicaState::Gone {
                self.last_point[r.id as usize] = None;
                continue;
            }
            let cum = r.cpu_milli_ns(now, &self.cpu, self.slots);
            if let Some((t, prev)) = self.last_point[r.id as usize]
                && now > t
            {
                samples.push(Sample {
                    replica: r.id,
                    timestamp: now,
                    window: now - t,
                    cpu_milli: ((cum - prev) / (now - t) as f64).round() as i64,
                });
            }
            self.last_point[r.id as usize] = Some((now, cum));
        }
        self.pending.push_back((now + self.lag_ns, samples));
    }

    fn pod_name(&self, id: u32) -> String {
        format!("{}-{id}", self.target)
    }

    fn observation(&self, now: i64, cluster: &Cluster) -> HpaObservation {
        let active = cluster.active() as i32;
        let scale = Scale {
            spec_replicas: active,
            status_replicas: active,
            selector: format!("app={}", self.target),
        };
        let request = Quantity::from_milli(
            self.cpu.request_milli.round() as i64,
            QuantityFormat::DecimalSI,
        );
        let pods: Vec<Pod> = cluster
            .replicas()
            .iter()
            .filter(|r| r.state != ReplicaState::Gone)
            .map(|r| {
                let ready = match r.ready_ns {
                    Some(t) => ReadyCondition {
                        status: ConditionStatus::True,
                        last_transition_time: Instant::from_nanos(t),
                    },
                    None => ReadyCondition {
                        status: ConditionStatus::False,
                        last_transition_time: Instant::from_nanos(r.created_ns),
                    },
                };
                Pod {
                    name: self.pod_name(r.id),
                    phase: PodPhase::Running,
                    ready: Some(ready),
                    start_time: Some(Instant::from_nanos(r.created_ns)),
                    deleting: r.state == ReplicaState::Draining,
                    containers: vec![Container {
                        name: "app".into(),
                        requests: BTreeMap::from([("cpu".to_string(), request)]),
                        restart_always: false,
                    }],
                    init_containers: Vec::new(),
                    pod_requests: BTreeMap::new(),
                }
            })
            .collect();
        // Samples of replicas that are gone are dropped: ebb's pods list and metrics agree.
        let samples = self
            .visible
            .iter()
            .filter(|s| cluster.replicas()[s.replica as usize].state != ReplicaState::Gone)
            .map(|s| PodResourceMetrics {
                pod: self.pod_name(s.replica),
                timestamp: Instant::from_nanos(s.timestamp),
                window: Duration::from_nanos(s.window.max(0) as u64),
                containers: vec![ContainerUsage {
                    name: "app".into(),
                    usage: BTreeMap::from([(
                        "cpu".to_string(),
                        Quantity::from_milli(s.cpu_milli, QuantityFormat::DecimalSI),
                    )]),
                }],
            })
            .collect();
        let mut obs = HpaObservation::new(Instant::from_nanos(now), scale);
        obs.pods = pods;
        obs.resource_metrics = Ok(samples);
        obs
    }

    fn sync(&mut self, now: i64, cluster: &Cluster) -> Decision {
        let obs = self.observation(now, cluster);
        let before = self.records.is_some().then(|| self.hpa.state().clone());
        let decision = self.hpa.reconcile(&obs, |_| Ok(()));
        if let (Some(records), Some(state)) = (&mut self.records, before) {
            records.push(DecideRecord {
                policy: self.name.clone(),
                time_ns: now,
                scenario: decide::hpa_scenario(&self.name, &self.hpa, &obs, &state),
                decision: serde_json::to_value(&decision).unwrap_or_default(),
            });
        }
        decision
    }
}

impl Driver for HpaDriver {
    fn next_wake(&self) -> i64 {
        let publish = self.pending.front().map_or(i64::MAX, |p| p.0);
        self.next_sync.min(self.next_scrape).min(publish)
    }

    fn wake(&mut self, now: i64, cluster: &Cluster) -> Option<Decision> {
        if self.next_scrape <= now {
            self.scrape(now, cluster);
            self.next_scrape = now + self.resolution_ns;
        }
        while self.pending.front().is_some_and(|p| p.0 <= now) {
            if let Some((_, samples)) = self.pending.pop_front() {
                self.visible = samples;
            }
        }
        if self.next_sync <= now {
            self.next_sync = now + self.sync_ns;
            return Some(self.sync(now, cluster));
        }
        None
    }

    fn take_records(&mut self) -> Vec<DecideRecord> {
        self.records.take().unwrap_or_default()
    }
}
