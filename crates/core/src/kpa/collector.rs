//! What the autoscaler stores from the per-second statistics (spec §5.4).
//!
//! Every stat — the replicas' revision total, the request holder's own report — is written into
//! the same one-second buckets, so a bucket holds the revision's total load for that second.
//! Requests the holder proxied are subtracted from the replicas' numbers, because the holder
//! reports them itself.

use serde::{Deserialize, Serialize};

use super::buckets::Buckets;
use super::spec::{KpaSpec, Metric};

/// Who produced a stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// The replicas (Knative: the queue-proxies, scraped; ebb: the gateway's per-replica
    /// accounting), as a revision total.
    Replicas,
    /// The request holder (Knative's activator; ebb's gateway while it holds or proxies
    /// requests). Its stats can wake a service at zero.
    Holder,
}

/// One second of load, as a revision total (spec §5.1, §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stat {
    /// Time-weighted average of requests in flight over the second.
    pub average_concurrency: f64,
    /// Requests that arrived in the second (a per-second rate).
    pub request_count: f64,
    /// The part of `average_concurrency` that came through the request holder.
    #[serde(default)]
    pub proxied_concurrency: f64,
    /// The part of `request_count` that came through the request holder.
    #[serde(default)]
    pub proxied_request_count: f64,
}

impl Stat {
    /// A stat with no proxied traffic.
    pub fn new(average_concurrency: f64, request_count: f64) -> Self {
        Stat {
            average_concurrency,
            request_count,
            proxied_concurrency: 0.0,
            proxied_request_count: 0.0,
        }
    }

    /// The "poke" the request holder sends on the first request for a revision.
    pub const POKE: Stat = Stat {
        average_concurrency: 1.0,
        request_count: 1.0,
        proxied_concurrency: 0.0,
        proxied_request_count: 0.0,
    };
}

/// The window averages are not available: the decider keeps its last answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoData;

/// Stable and panic windows for both metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Collector {
    concurrency_stable: Buckets,
    concurrency_panic: Buckets,
    rps_stable: Buckets,
    rps_panic: Buckets,
}

impl Collector {
    /// Empty windows sized by the spec.
    pub fn new(spec: &KpaSpec) -> Self {
        let (stable, panic) = (spec.stable_window_secs(), spec.panic_window_secs());
        Collector {
            concurrency_stable: Buckets::new(spec.algorithm, stable),
            concurrency_panic: Buckets::new(spec.algorithm, panic),
            rps_stable: Buckets::new(spec.algorithm, stable),
            rps_panic: Buckets::new(spec.algorithm, panic),
        }
    }

    /// Records one stat at `second`, minus what the request holder proxied.
    pub fn record(&mut self, second: i64, stat: &Stat) {
        let concurrency = stat.average_concurrency - stat.proxied_concurrency;
        let rps = stat.request_count - stat.proxied_request_count;
        self.concurrency_stable.record(second, concurrency);
        self.concurrency_panic.record(second, concurrency);
        self.rps_stable.record(second, rps);
        self.rps_panic.record(second, rps);
    }

    /// Stable and panic averages of `metric` at `second`. With a scrape target an empty stable
    /// window is "no data"; without one (TBC = −1) it reads as zero.
    pub fn stable_and_panic(
        &self,
        metric: Metric,
        second: i64,
        has_scrape_target: bool,
    ) -> Result<(f64, f64), NoData> {
        let (stable, panic) = match metric {
            Metric::Concurrency => (&self.concurrency_stable, &self.concurrency_panic),
            Metric::Rps => (&self.rps_stable, &self.rps_panic),
        };
        if stable.is_empty(second) && has_scrape_target {
            return Err(NoData);
        }
        Ok((stable.average(second), panic.average(second)))
    }

    /// Follows a window change in the spec (the windows keep their recent data).
    pub fn resize(&mut self, second: i64, spec: &KpaSpec) {
        let (stable, panic) = (spec.stable_window_secs(), spec.panic_window_secs());
        self.concurrency_stable.resize(second, stable);
        self.rps_stable.resize(second, stable);
        self.concurrency_panic.resize(second, panic);
        self.rps_panic.resize(second, panic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpa::{KpaConfig, KpaSettings};

    fn spec(tbc: f64) -> KpaSpec {
        KpaSpec::resolve(
            &KpaConfig {
                target_burst_capacity: tbc,
                ..KpaConfig::default()
            },
            &KpaSettings::default(),
        )
    }

    #[test]
    fn s5_4_proxied_load_is_subtracted_and_same_second_writes_add_up() {
        let mut c = Collector::new(&spec(211.0));
        // Replicas saw 10 in flight, 4 of them proxied by the holder; the holder reports 4.
        c.record(
            5,
            &Stat {
                average_concurrency: 10.0,
                request_count: 20.0,
                proxied_concurrency: 4.0,
                proxied_request_count: 8.0,
            },
        );
        c.record(5, &Stat::new(4.0, 8.0));
        assert_eq!(
            c.stable_and_panic(Metric::Concurrency, 5, true),
            Ok((10.0, 10.0))
        );
        assert_eq!(c.stable_and_panic(Metric::Rps, 5, true), Ok((20.0, 20.0)));
    }

    #[test]
    fn s5_4_empty_stable_window_is_no_data_only_with_a_scrape_target() {
        let c = Collector::new(&spec(211.0));
        assert_eq!(
            c.stable_and_panic(Metric::Concurrency, 0, true),
            Err(NoData)
        );
        assert_eq!(
            c.stable_and_panic(Metric::Concurrency, 0, false),
            Ok((0.0, 0.0))
        );
        let mut c = Collector::new(&spec(-1.0));
        c.record(0, &Stat::new(3.0, 3.0));
        // 61 s later the 60 s stable window is empty again.
        assert_eq!(c.stable_and_panic(Metric::Rps, 61, true), Err(NoData));
        assert_eq!(c.stable_and_panic(Metric::Rps, 61, false), Ok((0.0, 0.0)));
    }

    #[test]
    fn s5_4_stable_and_panic_windows_have_their_own_lengths() {
        let mut c = Collector::new(&spec(211.0));
        for s in 0..60 {
            c.record(s, &Stat::new(if s >= 54 { 60.0 } else { 0.0 }, 0.0));
        }
        // Panic window (6 s) holds only the burst; the stable window averages it over 60 s.
        assert_eq!(
            c.stable_and_panic(Metric::Concurrency, 59, true),
            Ok((6.0, 60.0))
        );
    }
}
