//! The discrete-event loop: one policy, one workload, virtual time in nanoseconds.
//!
//! Events, in time order (ties: completions and cold starts, then the time series, then the
//! policy's timers, then arrivals): a request arrives, a request finishes, a replica becomes
//! ready, the policy's driver wakes (metric collection, syncs, ticks), an interval of the time
//! series closes. Requests waiting at the gateway time out at their deadline. The run goes on
//! after the last arrival until every request has left, so it starts and ends empty.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use ebb_core::Decision;
use rand::rngs::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::cluster::{Cluster, CpuModel, Queued};
use crate::decide::DecideRecord;
use crate::dist::Dist;
use crate::policy::{self, Driver, DriverContext, MetricsPipeline, PolicyDef};
use crate::stats::{Recorder, Row, Summary};
use crate::workload::{Workload, stream};

/// The most replicas a run creates at once: a policy that asks for more gets this many (a
/// Knative policy without max-scale can ask for millions when a queue builds up).
pub const MAX_REPLICAS: u32 = 10_000;

/// Everything about a run that is not the workload or the policy.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Request slots per replica when the policy sets no containerConcurrency.
    pub concurrency: u32,
    /// Time from creating a replica until it is ready.
    pub cold_start: Dist,
    /// CPU of a replica (what HPA CPU policies see).
    pub cpu: CpuModel,
    /// The HPA's resource-metrics pipeline.
    pub metrics: MetricsPipeline,
    /// The latency objective, ns.
    pub slo_ns: Option<i64>,
    /// A request that no replica has taken after this long gives up, ns.
    pub timeout_ns: i64,
    /// Requests the gateway holds at most; more are rejected.
    pub queue_limit: usize,
    /// Time-series interval, ns.
    pub interval_ns: i64,
    /// Replicas at the start; `None`: the policy's lower bound.
    pub initial_replicas: Option<u32>,
    /// Record every decision as an `ebb decide` scenario.
    pub record_decisions: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            concurrency: 1,
            cold_start: Dist::Const { ns: 30_000_000_000 },
            cpu: CpuModel::default(),
            metrics: MetricsPipeline::default(),
            slo_ns: None,
            timeout_ns: 300_000_000_000,
            queue_limit: 10_000,
            interval_ns: 10_000_000_000,
            initial_replicas: None,
            record_decisions: false,
        }
    }
}

/// A rescale the policy made.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleRecord {
    /// When, s.
    pub time_s: f64,
    /// Replicas before.
    pub from: u32,
    /// Replicas after.
    pub to: u32,
    /// The engine's one-line explanation.
    pub reason: String,
}

/// Everything one run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Totals.
    pub summary: Summary,
    /// The time series.
    pub rows: Vec<Row>,
    /// Every rescale.
    pub scale_events: Vec<ScaleRecord>,
    /// Decisions as `ebb decide` scenarios (when recording).
    pub decide_records: Vec<DecideRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Done { replica: u32, arrival: i64 },
    Ready { replica: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Event {
    at: i64,
    seq: u64,
    kind: Kind,
}

impl Ord for Event {
    /// Reversed, so that `BinaryHeap` pops the earliest (then the first scheduled).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

struct Sim<'a> {
    config: &'a SimConfig,
    cluster: Cluster,
    heap: BinaryHeap<Event>,
    seq: u64,
    rec: Recorder,
    driver: Box<dyn Driver>,
    wake_at: i64,
    cold_rng: Xoshiro256PlusPlus,
    scale_events: Vec<ScaleRecord>,
}

impl Sim<'_> {
    #[inline]
    fn push(&mut self, at: i64, kind: Kind) {
        self.seq += 1;
        self.heap.push(Event {
            at,
            seq: self.seq,
            kind,
        });
    }

    /// Requests waiting past their deadline by `t` leave, each at its deadline.
    #[inline]
    fn expire(&mut self, t: i64) {
        let timeout = self.config.timeout_ns;
        while let Some(q) = self.cluster.queue.front().copied() {
            let deadline = q.arrival.saturating_add(timeout);
            if deadline > t {
                break;
            }
            self.cluster.advance(deadline);
            self.cluster.queue.pop_front();
            self.rec.timed_out(timeout, q.held);
        }
    }

    /// Replica `id` takes queued requests while it has free slots.
    fn pull(&mut self, id: u32, now: i64) {
        let slots = self.cluster.slots();
        while self.cluster.replicas()[id as usize].in_flight < slots {
            let Some(q) = self.cluster.queue.pop_front() else {
                break;
            };
            self.cluster.start(id, now);
            self.rec.dequeued(now - q.arrival, q.held);
            self.push(
                now.saturating_add(q.service),
                Kind::Done {
                    replica: id,
                    arrival: q.arrival,
                },
            );
        }
    }

    fn arrive(&mut self, now: i64, service: i64) {
        self.cluster.advance(now);
        self.cluster.arrived += 1;
        self.rec.arrival();
        if self.cluster.queue.is_empty()
            && let Some(id) = self.cluster.pick()
        {
            self.cluster.start(id, now);
            self.push(
                now.saturating_add(service),
                Kind::Done {
                    replica: id,
                    arrival: now,
                },
            );
            return;
        }
        if self.cluster.queued() >= self.config.queue_limit {
            self.rec.rejected();
            return;
        }
        self.cluster.queue.push_back(Queued {
            arrival: now,
            service,
            held: self.cluster.ready() == 0,
        });
    }

    fn apply(&mut self, now: i64, decision: Option<Decision>) {
        self.wake_at = self.driver.next_wake();
        let Some(d) = decision else { return };
        let Some(to) = d.scale_to else { return };
        let to = (to.max(0) as u32).min(MAX_REPLICAS);
        let from = self.cluster.active();
        if to == from {
            return;
        }
        let ready_before = self.cluster.ready();
        self.scale_events.push(ScaleRecord {
            time_s: now as f64 / 1e9,
            from,
            to,
            reason: d.summary(),
        });
        if to > from {
            self.rec.scale_ups += 1;
        } else {
            self.rec.scale_downs += 1;
        }
        for id in self.cluster.scale_to(to, now) {
            let cold = self.config.cold_start.sample(&mut self.cold_rng);
            self.rec.cold_starts += 1;
            self.push(now.saturating_add(cold), Kind::Ready { replica: id });
        }
        let existing = self.cluster.active() + self.cluster.draining();
        self.rec.max_replicas = self.rec.max_replicas.max(existing);
        if self.cluster.ready() < ready_before {
            // Endpoints follow a scale-down an instant later.
            self.driver.pods_changed(now + 1);
            self.wake_at = self.driver.next_wake();
        }
    }
}

/// Runs `policy` on `workload`. `progress` is called now and then with the share of the
/// horizon simulated so far.
pub fn run(
    workload: &Workload,
    policy: &PolicyDef,
    config: &SimConfig,
    progress: &mut dyn FnMut(f64),
) -> RunResult {
    let slots = policy
        .container_concurrency()
        .unwrap_or(config.concurrency)
        .max(1);
    let initial = config
        .initial_replicas
        .unwrap_or_else(|| policy.default_initial_replicas())
        .min(MAX_REPLICAS);
    let ctx = DriverContext {
        cpu: config.cpu,
        metrics: config.metrics,
        record_decisions: config.record_decisions,
    };
    let driver = policy::driver(policy, ctx, slots, initial);
    let interval = config.interval_ns.max(1_000_000);
    let mut sim = Sim {
        config,
        cluster: Cluster::new(initial, slots),
        heap: BinaryHeap::new(),
        seq: 0,
        rec: Recorder::new(config.slo_ns),
        wake_at: driver.next_wake(),
        driver,
        cold_rng: stream::rng(workload.seed(), stream::COLD_STARTS),
        scale_events: Vec::new(),
    };
    sim.rec.max_replicas = initial;

    let horizon = workload.horizon_ns();
    let mut requests = workload.stream();
    let mut next = requests.next();
    let mut next_row = interval;
    let mut now = 0i64;
    // Every pass handles one event; the run ends once it is empty and past the horizon.
    let end = loop {
        let t_req = next.map_or(i64::MAX, |r| r.at);
        let t_evt = sim.heap.peek().map_or(i64::MAX, |e| e.at);
        let t_next = t_req.min(t_evt).min(sim.wake_at).min(next_row);
        let drained =
            next.is_none() && sim.cluster.in_service() == 0 && sim.cluster.queue.is_empty();
        if drained && t_next > now.max(horizon) {
            break now.max(horizon);
        }
        if t_next == i64::MAX {
            break now.max(horizon);
        }
        sim.expire(t_next);
        now = t_next;
        if t_evt == now {
            if let Some(e) = sim.heap.pop() {
                sim.cluster.advance(now);
                match e.kind {
                    Kind::Done { replica, arrival } => {
                        sim.rec.completed(now - arrival);
                        if sim.cluster.finish(replica, now) {
                            sim.pull(replica, now);
                        }
                    }
                    Kind::Ready { replica } => {
                        if sim.cluster.make_ready(replica, now) {
                            sim.pull(replica, now);
                            sim.driver.pods_changed(now);
                            sim.wake_at = sim.driver.next_wake();
                        }
                    }
                }
            }
        } else if next_row == now {
            sim.cluster.advance(now);
            let areas = sim.cluster.areas();
            sim.rec
                .row(now, areas, sim.cluster.active(), &config.cpu, slots);
            next_row = now.saturating_add(interval);
            if horizon > 0 {
                progress((now as f64 / horizon as f64).min(1.0));
            }
        } else if sim.wake_at == now {
            sim.cluster.advance(now);
            let d = sim.driver.wake(now, &sim.cluster);
            sim.apply(now, d);
        } else if let Some(r) = next {
            sim.arrive(now, r.service);
            next = requests.next();
        }
    };
    sim.expire(end);
    sim.cluster.advance(end);
    let areas = sim.cluster.areas();
    if sim
        .rec
        .rows
        .last()
        .is_none_or(|r| (r.time_s * 1e9) as i64 != end)
    {
        sim.rec
            .row(end, areas, sim.cluster.active(), &config.cpu, slots);
    }
    progress(1.0);
    RunResult {
        summary: sim
            .rec
            .summary(&policy.name, policy.class(), end, areas, &config.cpu, slots),
        rows: std::mem::take(&mut sim.rec.rows),
        scale_events: sim.scale_events,
        decide_records: sim.driver.take_records(),
    }
}
