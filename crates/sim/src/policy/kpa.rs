//! Driving `ebb_core::kpa::Kpa` on virtual time, in the order its documentation (and
//! `ebb_core::kpa::replay`, which `ebb decide` uses) prescribes:
//!
//! 1. at creation, one reconcile;
//! 2. on each whole second `s`, the statistics of `[s−1, s)` are recorded — by the replicas
//!    when they serve the traffic, by the request holder (the gateway's hold path) when it is
//!    in the path, with its poke when requests reach it — and a poke ticks at once;
//! 3. when the ready count changes, a reconcile;
//! 4. every 2 s, the decider tick;
//! 5. whenever the reconciler's timer is due, a reconcile.
//!
//! The holder reports once per second, its poke included: a request arriving at a service at
//! zero is seen by the autoscaler at the next whole second (Knative's activator pokes at
//! once; the difference is under a second against cold starts of many). Pods that a
//! scale-down removes leave the ready count an instant after the decision, as endpoints do.

use ebb_core::kpa::reconciler::SksMode;
use ebb_core::kpa::{HolderReporter, Kpa, KpaSpec, Observation, Source, Stat};
use ebb_core::{Decision, Instant};
use ebb_manifest::Manifest;
use serde_json::{Value, json};

use super::{Driver, DriverContext};
use crate::cluster::Cluster;
use crate::decide::DecideRecord;

const SECOND: i64 = 1_000_000_000;

/// What a run fed the engine, to replay it in `ebb decide`.
#[derive(Default)]
struct Log {
    samples: Vec<Value>,
    ready: Vec<(i64, i32)>,
    decisions: Vec<Value>,
}

pub(super) struct KpaDriver {
    kpa: Kpa,
    holder: HolderReporter,
    created: bool,
    next_second: i64,
    pods_changed_at: Option<i64>,
    ready_seen: i32,
    last_in_system: i128,
    last_arrived: u64,
    name: String,
    manifest: Manifest,
    log: Option<Log>,
}

impl KpaDriver {
    pub(super) fn new(
        name: &str,
        spec: KpaSpec,
        manifest: Manifest,
        initial_ready: u32,
        ctx: DriverContext,
    ) -> Self {
        let ready = initial_ready as i32;
        let mut log = ctx.record_decisions.then(Log::default);
        if let Some(log) = &mut log {
            log.ready.push((0, ready));
        }
        KpaDriver {
            kpa: Kpa::new(spec, Instant::EPOCH, ready),
            holder: HolderReporter::default(),
            created: false,
            next_second: SECOND,
            pods_changed_at: None,
            ready_seen: ready,
            last_in_system: 0,
            last_arrived: 0,
            name: name.to_string(),
            manifest,
            log,
        }
    }

    fn observation(cluster: &Cluster) -> Observation {
        Observation::ready(cluster.ready() as i32)
    }

    fn note(&mut self, now: i64, trigger: &str, d: &Decision) {
        if let Some(log) = &mut self.log {
            log.decisions.push(json!({
                "seconds": now as f64 / 1e9,
                "trigger": trigger,
                "decision": d,
            }));
        }
    }

    fn record(&mut self, now: Instant, source: Source, stat: Stat) -> bool {
        if let Some(log) = &mut self.log {
            log.samples.push(json!({
                "at": format!("{}s", now.floor_secs()),
                "source": match source { Source::Replicas => "replicas", Source::Holder => "holder" },
                "concurrency": stat.average_concurrency,
                "requests": stat.request_count,
            }));
        }
        self.kpa.record(now, source, &stat)
    }

    /// The statistics of the second ending at `now`; returns whether to poke.
    fn second(&mut self, now: i64, cluster: &Cluster) -> bool {
        let t = Instant::from_nanos(now);
        let areas = cluster.areas();
        let concurrency = (areas.in_system - self.last_in_system) as f64 / SECOND as f64;
        let requests = (cluster.arrived() - self.last_arrived) as f64;
        self.last_in_system = areas.in_system;
        self.last_arrived = cluster.arrived();
        let ready = cluster.ready();
        let via_holder = self.kpa.state().pa.sks_mode != Some(SksMode::Serve) || ready == 0;
        let mut poke = false;
        if ready > 0 {
            // Proxied load is subtracted from the replicas' own report.
            let own = if via_holder {
                Stat::new(0.0, 0.0)
            } else {
                Stat::new(concurrency, requests)
            };
            poke |= self.record(t, Source::Replicas, own);
        }
        let (c, r, in_flight) = if via_holder {
            (
                concurrency,
                requests,
                u64::from(cluster.in_service()) + cluster.queued() as u64,
            )
        } else {
            (0.0, 0.0, 0)
        };
        if let Some(stat) = self.holder.report(c, r, in_flight) {
            poke |= self.record(t, Source::Holder, stat);
        }
        if requests > 0.0
            && via_holder
            && let Some(stat) = self.holder.request_arrived()
        {
            poke |= self.record(t, Source::Holder, stat);
        }
        poke
    }
}

/// Keeps the decision the driver should act on: the last one that writes a replica count.
fn keep(d: Decision, last: &mut Option<Decision>) {
    if d.scale_to.is_some() || last.as_ref().is_none_or(|l| l.scale_to.is_none()) {
        *last = Some(d);
    }
}

impl Driver for KpaDriver {
    fn next_wake(&self) -> i64 {
        if !self.created {
            return 0;
        }
        let timer = self.kpa.next_reconcile().map_or(i64::MAX, |t| t.as_nanos());
        self.next_second
            .min(timer)
            .min(self.pods_changed_at.unwrap_or(i64::MAX))
    }

    fn pods_changed(&mut self, at: i64) {
        self.pods_changed_at = Some(self.pods_changed_at.map_or(at, |p| p.min(at)));
    }

    fn wake(&mut self, now: i64, cluster: &Cluster) -> Option<Decision> {
        let t = Instant::from_nanos(now);
        let mut last: Option<Decision> = None;
        if !self.created {
            self.created = true;
            let mut obs = Self::observation(cluster);
            obs.replicas = Some(cluster.active() as i32);
            let d = self.kpa.reconcile(t, &obs);
            self.note(now, "created", &d);
            keep(d, &mut last);
        }
        let on_second = now == self.next_second;
        if on_second && self.second(now, cluster) {
            let d = self.kpa.tick(t, &Self::observation(cluster));
            self.note(now, "poke", &d);
            keep(d, &mut last);
        }
        if self.pods_changed_at == Some(now) {
            self.pods_changed_at = None;
            let ready = cluster.ready() as i32;
            if ready != self.ready_seen {
                if let Some(log) = &mut self.log {
                    match log.ready.last_mut() {
                        Some(last) if last.0 == now => last.1 = ready,
                        _ => log.ready.push((now, ready)),
                    }
                }
                let d = self.kpa.reconcile(t, &Self::observation(cluster));
                self.note(now, "pods", &d);
                keep(d, &mut last);
            }
        }
        if on_second && (now / SECOND) % 2 == 0 {
            let d = self.kpa.tick(t, &Self::observation(cluster));
            self.note(now, "tick", &d);
            keep(d, &mut last);
        }
        // Bounded: a reconcile may ask for another at the same instant, not forever.
        for _ in 0..4 {
            if self.kpa.next_reconcile().is_none_or(|r| r.is_after(t)) {
                break;
            }
            let d = self.kpa.reconcile(t, &Self::observation(cluster));
            self.note(now, "timer", &d);
            keep(d, &mut last);
        }
        self.ready_seen = cluster.ready() as i32;
        if on_second {
            self.next_second += SECOND;
        }
        last
    }

    fn take_records(&mut self) -> Vec<DecideRecord> {
        let Some(log) = self.log.take() else {
            return Vec::new();
        };
        // `ebb decide` replays InferenceServices and Knative Services.
        let autoscaler = match &self.manifest {
            Manifest::InferenceService(isvc) => serde_json::to_value(isvc),
            Manifest::KnativeService(ksvc) => serde_json::to_value(ksvc),
            _ => return Vec::new(),
        };
        let Ok(autoscaler) = autoscaler else {
            return Vec::new();
        };
        let end = log
            .decisions
            .last()
            .and_then(|d| d["seconds"].as_f64())
            .unwrap_or(0.0);
        let ready: Vec<Value> = log
            .ready
            .iter()
            .map(|(t, n)| json!({"at": format!("{t}ns"), "count": n}))
            .collect();
        let scenario = json!({
            "autoscaler": autoscaler,
            "pods": {"readyAtStart": log.ready.first().map_or(0, |r| r.1), "ready": ready},
            "samples": log.samples,
            "decide": {"until": format!("{}ns", (end * 1e9).round() as i64)},
        });
        vec![DecideRecord {
            policy: self.name.clone(),
            time_ns: 0,
            scenario,
            decision: Value::Array(log.decisions),
        }]
    }
}
