//! A deterministic driver for one revision: feeds a [`Kpa`] per-second load, ticks it every
//! 2 s, reconciles on its timers and when pods become ready, and lets pods follow the replica
//! count after a startup delay. `ebb decide` and the tests use it; it is pure (virtual time).
//!
//! Where load is reported follows Knative: while the request holder is in the path (proxy
//! mode, or no ready pods) it reports the load itself — poking the autoscaler on the first
//! request — and the replicas report nothing extra; otherwise the replicas report it. The
//! stat for second `[s, s+1)` is recorded at `s+1`, as a scrape or a holder report would be.

use std::time::Duration;

use serde::Serialize;

use super::collector::{Source, Stat};
use super::holder::HolderReporter;
use super::policy::{Kpa, Observation, TICK_INTERVAL, WindowValues};
use super::reconciler::SksMode;
use super::spec::{KpaSpec, Reachability};
use crate::decision::Decision;
use crate::time::Instant;

/// Load offered during one second.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Demand {
    /// Requests in flight (time-weighted average over the second).
    pub concurrency: f64,
    /// Requests arriving in the second.
    pub rps: f64,
}

impl Demand {
    fn is_idle(self) -> bool {
        self.concurrency == 0.0 && self.rps == 0.0
    }
}

/// One raw statistic, recorded as given.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Whole second the stat is recorded at.
    pub second: i64,
    /// Who reported it.
    pub source: Source,
    /// The numbers.
    pub stat: Stat,
}

/// Where the load comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// Offered load per second, from second 0 (idle afterwards).
    Demand(Vec<Demand>),
    /// Raw per-second statistics.
    Samples(Vec<Sample>),
    /// Window values (or read errors) at given times; each one is a decider tick.
    Windows(Vec<(Instant, Result<WindowValues, String>)>),
}

/// How many pods are ready.
#[derive(Debug, Clone, PartialEq)]
pub enum Pods {
    /// Pods follow the written replica count: new pods are ready `startup` after the write,
    /// removed pods go at once.
    Follow {
        /// Time from the replica write to ready.
        startup: Duration,
    },
    /// Ready count changes at the given times (in time order), whatever the decisions.
    Schedule(Vec<(Instant, i32)>),
}

/// A time span in which the ready count cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadError {
    /// From (inclusive).
    pub from: Instant,
    /// To (exclusive).
    pub to: Instant,
    /// The error.
    pub error: String,
}

/// Everything a replay needs besides the spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The load.
    pub load: Load,
    /// The pods.
    pub pods: Pods,
    /// Pods already ready when the revision is created (it starts with this many replicas).
    pub ready_at_start: Option<i32>,
    /// Whether the revision is routed.
    pub reachability: Reachability,
    /// Whether the request holder answers probes through the revision.
    pub holder_reachable: bool,
    /// Spans where the ready count cannot be read.
    pub ready_errors: Vec<ReadError>,
    /// Spans where the window values cannot be read (ticks in them are invalid).
    pub metric_errors: Vec<ReadError>,
    /// The replay stops after this time.
    pub until: Instant,
}

/// What caused a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Trigger {
    /// The revision was created (first reconcile).
    Created,
    /// The 2-second decider tick.
    Tick,
    /// A request reached the request holder while at zero: immediate tick.
    Poke,
    /// A reconciler timer fired.
    Timer,
    /// Pods became ready.
    Pods,
}

impl Trigger {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Created => "created",
            Trigger::Tick => "tick",
            Trigger::Poke => "poke",
            Trigger::Timer => "timer",
            Trigger::Pods => "pods",
        }
    }
}

/// One decision of the replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// When.
    pub time: Instant,
    /// Why.
    pub trigger: Trigger,
    /// Ready pods as observed (or the read error).
    pub ready: Result<i32, String>,
    /// The decider's answer after this decision (−1: unknown).
    pub decider_desired: i32,
    /// Panic mode after this decision.
    pub panicking: bool,
    /// Request path after this decision.
    pub request_path: Option<SksMode>,
    /// The decision.
    pub decision: Decision,
}

/// The error span covering `now`, if any.
fn covering(errors: &[ReadError], now: Instant) -> Option<&ReadError> {
    errors
        .iter()
        .find(|e| !now.is_before(e.from) && now.is_before(e.to))
}

/// The replay's state besides the autoscaler.
struct Driver<'a> {
    scenario: &'a Scenario,
    kpa: Kpa,
    /// Pods that exist (follow mode), as (ready time, count) groups in time order: one group
    /// per scale-up, so huge replica counts cost nothing.
    pods: Vec<(Instant, i64)>,
    holder: HolderReporter,
    rows: Vec<Row>,
}

/// Runs a scenario from time 0 to `until`.
pub fn replay(spec: KpaSpec, scenario: &Scenario) -> Vec<Row> {
    let start = Instant::EPOCH;
    let initial_ready = scenario.ready_at_start.unwrap_or(0);
    let kpa = Kpa::new(spec, start, initial_ready);
    let replicas = scenario.ready_at_start.unwrap_or(kpa.replicas());
    let startup = match scenario.pods {
        Pods::Follow { startup } => startup,
        Pods::Schedule(_) => Duration::ZERO,
    };
    let started = i64::from(replicas.max(0));
    let ready = i64::from(initial_ready.max(0)).min(started);
    let pods = [(start, ready), (start + startup, started - ready)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    let mut d = Driver {
        scenario,
        kpa,
        pods,
        holder: HolderReporter::default(),
        rows: Vec::new(),
    };
    let mut obs = d.observation(start);
    obs.replicas = Some(replicas);
    let decision = d.kpa.reconcile(start, &obs);
    d.push(start, Trigger::Created, obs, decision);
    d.run();
    d.rows
}

impl Driver<'_> {
    fn ready(&self, now: Instant) -> i32 {
        match &self.scenario.pods {
            Pods::Follow { .. } => {
                let n: i64 = self
                    .pods
                    .iter()
                    .filter(|(t, _)| !t.is_after(now))
                    .map(|(_, n)| n)
                    .sum();
                i32::try_from(n).unwrap_or(i32::MAX)
            }
            Pods::Schedule(steps) => steps
                .iter()
                .rfind(|(t, _)| !t.is_after(now))
                .map_or(0, |(_, n)| *n),
        }
    }

    fn observation(&self, now: Instant) -> Observation {
        let error = covering(&self.scenario.ready_errors, now);
        Observation {
            ready: match error {
                Some(e) => Err(e.error.clone()),
                None => Ok(self.ready(now)),
            },
            replicas: None,
            reachability: self.scenario.reachability,
            holder_reachable: self.scenario.holder_reachable,
            windows: None,
        }
    }

    fn push(&mut self, time: Instant, trigger: Trigger, obs: Observation, decision: Decision) {
        if let (Some(n), Pods::Follow { startup }) = (decision.scale_to, &self.scenario.pods) {
            let have: i64 = self.pods.iter().map(|(_, n)| n).sum();
            let want = i64::from(n.max(0));
            if want > have {
                self.pods.push((time + *startup, want - have));
                self.pods.sort_by_key(|(t, _)| *t);
            } else {
                // The newest pods (not ready yet, if any) go first.
                let mut remove = have - want;
                while remove > 0
                    && let Some(last) = self.pods.last_mut()
                {
                    let take = remove.min(last.1);
                    last.1 -= take;
                    remove -= take;
                    if last.1 == 0 {
                        self.pods.pop();
                    }
                }
            }
        }
        let state = self.kpa.state();
        self.rows.push(Row {
            time,
            trigger,
            ready: obs.ready,
            decider_desired: state.decider.status.desired_scale,
            panicking: state.decider.is_panicking(),
            request_path: state.pa.sks_mode,
            decision,
        });
    }

    fn tick(
        &mut self,
        now: Instant,
        trigger: Trigger,
        windows: Option<Result<WindowValues, String>>,
    ) {
        let mut obs = self.observation(now);
        obs.windows = match covering(&self.scenario.metric_errors, now) {
            Some(e) => Some(Err(e.error.clone())),
            None => windows,
        };
        let decision = self.kpa.tick(now, &obs);
        self.push(now, trigger, obs, decision);
    }

    fn reconcile(&mut self, now: Instant, trigger: Trigger) {
        let obs = self.observation(now);
        let decision = self.kpa.reconcile(now, &obs);
        self.push(now, trigger, obs, decision);
    }

    /// Whether load goes through the request holder right now.
    fn via_holder(&self, now: Instant) -> bool {
        self.kpa.state().pa.sks_mode != Some(SksMode::Serve) || self.ready(now) == 0
    }

    fn demand(&self, second: i64) -> Demand {
        match &self.scenario.load {
            Load::Demand(d) => usize::try_from(second)
                .ok()
                .and_then(|i| d.get(i).copied())
                .unwrap_or_default(),
            _ => Demand::default(),
        }
    }

    /// Records the load reported at whole second `s`; returns whether to poke.
    fn record_second(&mut self, s: i64) -> bool {
        let now = Instant::from_secs(s);
        let mut poke = false;
        match &self.scenario.load {
            Load::Demand(_) => {
                if s >= 1 {
                    let last = self.demand(s - 1);
                    let ready = self.ready(now);
                    let via_holder = self.via_holder(now);
                    if ready > 0 {
                        // The replicas always report; proxied load is subtracted, so in proxy
                        // mode they add nothing.
                        let own = if via_holder { Demand::default() } else { last };
                        self.kpa.record(
                            now,
                            Source::Replicas,
                            &Stat::new(own.concurrency, own.rps),
                        );
                    }
                    let in_flight = if via_holder {
                        last.concurrency.ceil() as u64
                    } else {
                        0
                    };
                    let (c, r) = if via_holder {
                        (last.concurrency, last.rps)
                    } else {
                        (0.0, 0.0)
                    };
                    if let Some(stat) = self.holder.report(c, r, in_flight) {
                        poke |= self.kpa.record(now, Source::Holder, &stat);
                    }
                }
                let next = self.demand(s);
                if !next.is_idle()
                    && self.via_holder(now)
                    && let Some(stat) = self.holder.request_arrived()
                {
                    poke |= self.kpa.record(now, Source::Holder, &stat);
                }
            }
            Load::Samples(samples) => {
                for sample in samples.iter().filter(|x| x.second == s) {
                    poke |= self.kpa.record(now, sample.source, &sample.stat);
                }
            }
            Load::Windows(_) => {}
        }
        poke
    }

    /// The next time after `after` at which the ready count goes up by itself.
    fn next_pod_change(&self, after: Instant) -> Option<Instant> {
        match &self.scenario.pods {
            Pods::Follow { .. } => self
                .pods
                .iter()
                .map(|(t, _)| *t)
                .filter(|t| t.is_after(after))
                .min(),
            Pods::Schedule(steps) => steps
                .iter()
                .map(|(t, _)| *t)
                .filter(|t| t.is_after(after))
                .min(),
        }
    }

    fn run(&mut self) {
        let until = self.scenario.until;
        let tick_secs = TICK_INTERVAL.as_secs() as i64;
        let windows: Vec<(Instant, Result<WindowValues, String>)> = match &self.scenario.load {
            Load::Windows(w) => w.clone(),
            _ => Vec::new(),
        };
        let collects = windows.is_empty() && !matches!(self.scenario.load, Load::Windows(_));
        let mut next_window = 0;
        let mut second = 0_i64;
        let mut cursor = Instant::EPOCH;
        let mut ready_seen = self.ready(cursor);
        loop {
            let second_at = Instant::from_secs(second);
            let timer = self.kpa.next_reconcile();
            let pod = self.next_pod_change(cursor);
            let window = windows.get(next_window).map(|(t, _)| *t);
            let Some(now) = [Some(second_at), timer, pod, window]
                .into_iter()
                .flatten()
                .min()
            else {
                break;
            };
            if now.is_after(until) {
                break;
            }
            cursor = now;
            let on_second = now == second_at;
            if on_second && self.record_second(second) {
                self.tick(now, Trigger::Poke, None);
            }
            let ready = self.ready(now);
            if pod == Some(now) && ready != ready_seen {
                self.reconcile(now, Trigger::Pods);
            }
            if on_second && collects && second > 0 && second % tick_secs == 0 {
                self.tick(now, Trigger::Tick, None);
            }
            while windows.get(next_window).is_some_and(|(t, _)| *t == now) {
                let values = windows[next_window].1.clone();
                next_window += 1;
                self.tick(now, Trigger::Tick, Some(values));
            }
            // Bounded: a reconcile may ask for another one at the same instant (the request
            // path changed), but not forever.
            for _ in 0..4 {
                if self.kpa.next_reconcile().is_none_or(|t| t.is_after(now)) {
                    break;
                }
                self.reconcile(now, Trigger::Timer);
            }
            ready_seen = self.ready(now);
            if on_second {
                second += 1;
            }
        }
    }
}
