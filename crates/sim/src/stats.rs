//! What a run measures: per-request latency and outcomes, the integrals of the cluster's
//! counts, and a time series at a fixed interval.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::cluster::{Areas, CpuModel};

/// Latencies are recorded in microseconds, up to a day.
const MAX_LATENCY_US: u64 = 86_400_000_000;

/// Little's law on the run: the time-average number of requests in the system (from the
/// integral of the count) and the arrival rate times the mean time in the system (from the
/// requests). The run starts and ends empty, so the two agree up to rounding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LittleCheck {
    /// L: ∫ N(t) dt / T.
    pub l: f64,
    /// λ·W: (arrivals / T) × (Σ time in system / arrivals).
    pub lambda_w: f64,
    /// Lq: ∫ Q(t) dt / T.
    pub lq: f64,
    /// λ·Wq: (arrivals / T) × (Σ time queued / arrivals).
    pub lambda_wq: f64,
}

impl LittleCheck {
    /// The larger of the two relative differences (L vs λW, Lq vs λWq).
    pub fn relative_error(&self) -> f64 {
        let rel = |a: f64, b: f64| {
            if a == b {
                0.0
            } else {
                (a - b).abs() / a.abs().max(b.abs())
            }
        };
        rel(self.l, self.lambda_w).max(rel(self.lq, self.lambda_wq))
    }
}

/// The outcome of one policy on one workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Policy name.
    pub policy: String,
    /// `hpa`, `kpa` or `fixed`.
    pub class: String,
    /// Requests that arrived.
    pub arrived: u64,
    /// Requests served.
    pub completed: u64,
    /// Requests that waited longer than the timeout before a replica took them.
    pub timed_out: u64,
    /// Requests turned away because the gateway queue was full.
    pub rejected: u64,
    /// Simulated time until the last request left, s.
    pub duration_s: f64,
    /// ∫ replicas dt (starting, ready and draining), s: the cost.
    pub replica_seconds: f64,
    /// Time-average replica count.
    pub mean_replicas: f64,
    /// Most replicas at once.
    pub max_replicas: u32,
    /// Mean time a request waited at the gateway before a replica took it (timeouts count
    /// their whole wait; rejections zero), s.
    pub wait_mean_s: f64,
    /// Mean latency of served requests (queueing + service), s.
    pub latency_mean_s: f64,
    /// Median latency, s.
    pub latency_p50_s: f64,
    /// 95th percentile, s.
    pub latency_p95_s: f64,
    /// 99th percentile, s.
    pub latency_p99_s: f64,
    /// Longest, s.
    pub latency_max_s: f64,
    /// The latency objective, s.
    pub slo_s: Option<f64>,
    /// Share of arrived requests served within the objective (timeouts and rejections miss).
    pub slo_attainment: Option<f64>,
    /// Requests that arrived while no replica was ready and were held for a cold start.
    pub held: u64,
    /// Mean wait of held requests until a replica took them, s.
    pub held_wait_mean_s: f64,
    /// Longest such wait, s.
    pub held_wait_max_s: f64,
    /// Replicas started by the autoscaler.
    pub cold_starts: u64,
    /// Scale writes that added replicas.
    pub scale_ups: u64,
    /// Scale writes that removed replicas.
    pub scale_downs: u64,
    /// Mean CPU utilization of the replicas, percent of their request.
    pub cpu_utilization_pct: f64,
    /// Little's law on this run.
    pub little: LittleCheck,
}

/// One interval of the time series.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// End of the interval, s.
    pub time_s: f64,
    /// Arrivals per second over the interval.
    pub arrival_rate: f64,
    /// Requests served in the interval.
    pub completed: u32,
    /// Timeouts in the interval.
    pub timed_out: u32,
    /// Rejections in the interval.
    pub rejected: u32,
    /// Mean requests in the system.
    pub in_system: f64,
    /// Mean requests queued at the gateway.
    pub queued: f64,
    /// Mean replicas (all states).
    pub replicas: f64,
    /// Mean ready (or draining) replicas.
    pub serving: f64,
    /// The autoscaler's replica count at the end of the interval.
    pub desired: u32,
    /// Mean CPU utilization, percent of request.
    pub cpu_utilization_pct: f64,
    /// Latency of requests served in the interval: mean, p50, p95, p99 (s); `None` when none.
    pub latency_mean_s: Option<f64>,
    /// Median.
    pub latency_p50_s: Option<f64>,
    /// 95th percentile.
    pub latency_p95_s: Option<f64>,
    /// 99th percentile.
    pub latency_p99_s: Option<f64>,
}

/// Collects a run's measurements.
#[derive(Debug)]
pub(crate) struct Recorder {
    hist: Histogram<u64>,
    latency_sum_ns: i128,
    latency_max_ns: i64,
    slo_ns: Option<i64>,
    slo_met: u64,
    pub(crate) arrived: u64,
    completed: u64,
    timed_out: u64,
    rejected: u64,
    held: u64,
    held_wait_sum_ns: i128,
    held_wait_max_ns: i64,
    sojourn_sum_ns: i128,
    queued_sum_ns: i128,
    pub(crate) cold_starts: u64,
    pub(crate) scale_ups: u64,
    pub(crate) scale_downs: u64,
    pub(crate) max_replicas: u32,
    // The current interval.
    interval_latencies: Vec<f64>,
    interval_arrivals: u32,
    interval_completed: u32,
    interval_timed_out: u32,
    interval_rejected: u32,
    interval_start: Areas,
    interval_start_ns: i64,
    pub(crate) rows: Vec<Row>,
}

impl Recorder {
    pub(crate) fn new(slo_ns: Option<i64>) -> Self {
        Recorder {
            hist: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant histogram bounds are valid"),
            latency_sum_ns: 0,
            latency_max_ns: 0,
            slo_ns,
            slo_met: 0,
            arrived: 0,
            completed: 0,
            timed_out: 0,
            rejected: 0,
            held: 0,
            held_wait_sum_ns: 0,
            held_wait_max_ns: 0,
            sojourn_sum_ns: 0,
            queued_sum_ns: 0,
            cold_starts: 0,
            scale_ups: 0,
            scale_downs: 0,
            max_replicas: 0,
            interval_latencies: Vec::new(),
            interval_arrivals: 0,
            interval_completed: 0,
            interval_timed_out: 0,
            interval_rejected: 0,
            interval_start: Areas::default(),
            interval_start_ns: 0,
            rows: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn arrival(&mut self) {
        self.arrived += 1;
        self.interval_arrivals += 1;
    }

    /// A request left the gateway queue for a replica after waiting `wait_ns`.
    #[inline]
    pub(crate) fn dequeued(&mut self, wait_ns: i64, held: bool) {
        self.queued_sum_ns += i128::from(wait_ns);
        if held {
            self.held += 1;
            self.held_wait_sum_ns += i128::from(wait_ns);
            self.held_wait_max_ns = self.held_wait_max_ns.max(wait_ns);
        }
    }

    #[inline]
    pub(crate) fn completed(&mut self, latency_ns: i64) {
        self.completed += 1;
        self.interval_completed += 1;
        self.latency_sum_ns += i128::from(latency_ns);
        self.sojourn_sum_ns += i128::from(latency_ns);
        self.latency_max_ns = self.latency_max_ns.max(latency_ns);
        self.hist
            .saturating_record(((latency_ns + 999) / 1000).max(1) as u64);
        if self.slo_ns.is_some_and(|slo| latency_ns <= slo) {
            self.slo_met += 1;
        }
        self.interval_latencies.push(latency_ns as f64 / 1e9);
    }

    /// A queued request gave up after `waited_ns`.
    pub(crate) fn timed_out(&mut self, waited_ns: i64, held: bool) {
        self.timed_out += 1;
        self.interval_timed_out += 1;
        self.sojourn_sum_ns += i128::from(waited_ns);
        self.queued_sum_ns += i128::from(waited_ns);
        if held {
            self.held += 1;
            self.held_wait_sum_ns += i128::from(waited_ns);
            self.held_wait_max_ns = self.held_wait_max_ns.max(waited_ns);
        }
    }

    pub(crate) fn rejected(&mut self) {
        self.rejected += 1;
        self.interval_rejected += 1;
    }

    /// Closes the interval ending at `now` (areas up to `now`).
    pub(crate) fn row(&mut self, now: i64, areas: Areas, desired: u32, cpu: &CpuModel, slots: u32) {
        let d = areas.since(&self.interval_start);
        let len = (now - self.interval_start_ns).max(1) as f64;
        let mut lat = std::mem::take(&mut self.interval_latencies);
        let (mean, p50, p95, p99) = if lat.is_empty() {
            (None, None, None, None)
        } else {
            let mean = lat.iter().sum::<f64>() / lat.len() as f64;
            (
                Some(mean),
                Some(quantile(&mut lat, 0.50)),
                Some(quantile(&mut lat, 0.95)),
                Some(quantile(&mut lat, 0.99)),
            )
        };
        lat.clear();
        self.interval_latencies = lat;
        self.rows.push(Row {
            time_s: now as f64 / 1e9,
            arrival_rate: f64::from(self.interval_arrivals) / (len / 1e9),
            completed: self.interval_completed,
            timed_out: self.interval_timed_out,
            rejected: self.interval_rejected,
            in_system: d.in_system as f64 / len,
            queued: d.queued as f64 / len,
            replicas: d.replicas() as f64 / len,
            serving: d.serving as f64 / len,
            desired,
            cpu_utilization_pct: cpu_utilization(&d, cpu, slots),
            latency_mean_s: mean,
            latency_p50_s: p50,
            latency_p95_s: p95,
            latency_p99_s: p99,
        });
        self.interval_arrivals = 0;
        self.interval_completed = 0;
        self.interval_timed_out = 0;
        self.interval_rejected = 0;
        self.interval_start = areas;
        self.interval_start_ns = now;
    }

    pub(crate) fn summary(
        &self,
        policy: &str,
        class: &str,
        end_ns: i64,
        areas: Areas,
        cpu: &CpuModel,
        slots: u32,
    ) -> Summary {
        let t = end_ns.max(1) as f64;
        let n = self.arrived.max(1) as f64;
        let q = |p: f64| self.hist.value_at_quantile(p) as f64 / 1e6;
        let served = self.completed > 0;
        Summary {
            policy: policy.to_string(),
            class: class.to_string(),
            arrived: self.arrived,
            completed: self.completed,
            timed_out: self.timed_out,
            rejected: self.rejected,
            duration_s: t / 1e9,
            replica_seconds: areas.replicas() as f64 / 1e9,
            mean_replicas: areas.replicas() as f64 / t,
            max_replicas: self.max_replicas,
            wait_mean_s: self.queued_sum_ns as f64 / n / 1e9,
            latency_mean_s: if served {
                self.latency_sum_ns as f64 / self.completed as f64 / 1e9
            } else {
                f64::NAN
            },
            latency_p50_s: if served { q(0.50) } else { f64::NAN },
            latency_p95_s: if served { q(0.95) } else { f64::NAN },
            latency_p99_s: if served { q(0.99) } else { f64::NAN },
            latency_max_s: if served {
                self.latency_max_ns as f64 / 1e9
            } else {
                f64::NAN
            },
            slo_s: self.slo_ns.map(|s| s as f64 / 1e9),
            slo_attainment: self.slo_ns.map(|_| self.slo_met as f64 / n),
            held: self.held,
            held_wait_mean_s: if self.held > 0 {
                self.held_wait_sum_ns as f64 / self.held as f64 / 1e9
            } else {
                0.0
            },
            held_wait_max_s: self.held_wait_max_ns as f64 / 1e9,
            cold_starts: self.cold_starts,
            scale_ups: self.scale_ups,
            scale_downs: self.scale_downs,
            cpu_utilization_pct: cpu_utilization(&areas, cpu, slots),
            little: LittleCheck {
                l: areas.in_system as f64 / t,
                lambda_w: (self.arrived as f64 / t) * (self.sojourn_sum_ns as f64 / n),
                lq: areas.queued as f64 / t,
                lambda_wq: (self.arrived as f64 / t) * (self.queued_sum_ns as f64 / n),
            },
        }
    }
}

/// Mean CPU over the replicas, percent of request, from the integrals.
fn cpu_utilization(a: &Areas, cpu: &CpuModel, slots: u32) -> f64 {
    let replica_ns = a.replicas() as f64;
    if replica_ns <= 0.0 || cpu.request_milli <= 0.0 {
        return 0.0;
    }
    let used = a.starting as f64 * cpu.startup_milli
        + a.serving as f64 * cpu.idle_milli
        + a.in_service as f64 * (cpu.busy_milli - cpu.idle_milli) / f64::from(slots.max(1));
    100.0 * used / (replica_ns * cpu.request_milli)
}

/// The `p` quantile (nearest rank) of `v`, reordering it.
fn quantile(v: &mut [f64], p: f64) -> f64 {
    let k = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    *v.select_nth_unstable_by(k, f64::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.5), 50.0);
        assert_eq!(quantile(&mut v, 0.95), 95.0);
        assert_eq!(quantile(&mut v, 0.99), 99.0);
        assert_eq!(quantile(&mut [7.0], 0.99), 7.0);
    }

    #[test]
    fn little_check_relative_error() {
        let c = LittleCheck {
            l: 2.0,
            lambda_w: 2.02,
            lq: 0.0,
            lambda_wq: 0.0,
        };
        assert!((c.relative_error() - 0.02 / 2.02).abs() < 1e-12);
    }
}
