//! What happened to every request, accumulated: an HDR latency histogram, status codes, error
//! kinds, late sends and one row per second for the timeline.
//!
//! Pure: the generator feeds [`Outcome`]s stamped with offsets from the start of the run and
//! per-second send counts, and asks for rows up to a time it passes in.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histograms hold, in microseconds (one hour); longer ones saturate.
const MAX_MICROS: u64 = 3_600_000_000;

/// Why a request got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// Nothing listens on the port.
    ConnectionRefused,
    /// Any other failure to open the connection.
    Connect,
    /// No complete response within `--timeout`.
    Timeout,
    /// The server closed the connection before the response was complete.
    Closed,
    /// The connection was reset.
    Reset,
    /// The response was not valid HTTP.
    Protocol,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Short label for summaries and JSON.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::ConnectionRefused => "connection-refused",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "closed",
            ErrorKind::Reset => "reset",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Other => "other",
        }
    }
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Where its latency is measured from: the intended send time in open loop (or the actual
    /// send, if that was earlier), the actual send otherwise.
    pub start: Duration,
    /// When the whole response had arrived, or the request failed.
    pub done: Duration,
    /// The status code, or why there was none.
    pub result: Result<u16, ErrorKind>,
    /// Response body bytes received.
    pub bytes: u64,
}

impl Outcome {
    /// Time from `start` to `done`.
    pub fn latency(&self) -> Duration {
        self.done.saturating_sub(self.start)
    }

    /// No response, or a 4xx/5xx one.
    pub fn failed(&self) -> bool {
        self.result.is_err() || self.result.is_ok_and(|status| status >= 400)
    }
}

/// One second of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineRow {
    /// Seconds since the start of the run (this row covers `second..second+1`).
    pub second: u64,
    /// Requests sent in this second.
    pub sent: u64,
    /// Responses (any status) that completed in this second.
    pub completed: u64,
    /// Requests that failed in this second: no response, or a 4xx/5xx status.
    pub errors: u64,
    /// Latency percentiles of the responses completed in this second.
    pub p50: Option<Duration>,
    /// 90th percentile.
    pub p90: Option<Duration>,
    /// 99th percentile.
    pub p99: Option<Duration>,
    /// Slowest.
    pub max: Option<Duration>,
    /// Requests sent but not finished at the end of the second.
    pub in_flight: u64,
}

#[derive(Debug)]
struct Bucket {
    sent: u64,
    completed: u64,
    errors: u64,
    latency: Histogram<u64>,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            sent: 0,
            completed: 0,
            errors: 0,
            // Two significant digits are plenty for a per-second row and keep buckets small.
            latency: histogram(2),
        }
    }
}

fn histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, sigfig).expect("constant bounds are valid")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

fn quantile(h: &Histogram<u64>, q: f64) -> Option<Duration> {
    (!h.is_empty()).then(|| Duration::from_micros(h.value_at_quantile(q)))
}

/// Latency percentiles of a set of responses.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// Slowest.
    pub max: Duration,
    /// Mean.
    pub mean: Duration,
}

/// A live view for the progress line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// Requests sent so far.
    pub sent: u64,
    /// Responses so far.
    pub completed: u64,
    /// Failures so far.
    pub errors: u64,
    /// Sent but not finished.
    pub in_flight: u64,
    /// Responses completed during the last full second.
    pub last_second_rps: u64,
    /// Median latency so far.
    pub p50: Option<Duration>,
    /// 99th percentile so far.
    pub p99: Option<Duration>,
}

/// Everything counted during a run.
#[derive(Debug)]
pub struct Stats {
    latency: Histogram<u64>,
    status: BTreeMap<u16, u64>,
    errors: BTreeMap<ErrorKind, u64>,
    sent: u64,
    finished: u64,
    completed: u64,
    failed: u64,
    bytes: u64,
    late: u64,
    max_lag: Duration,
    open: BTreeMap<u64, Bucket>,
    next_row: u64,
    last_row_completed: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// Nothing counted yet.
    pub fn new() -> Stats {
        Stats {
            latency: histogram(3),
            status: BTreeMap::new(),
            errors: BTreeMap::new(),
            sent: 0,
            finished: 0,
            completed: 0,
            failed: 0,
            bytes: 0,
            late: 0,
            max_lag: Duration::ZERO,
            open: BTreeMap::new(),
            next_row: 0,
            last_row_completed: 0,
        }
    }

    /// The bucket of the second `at` falls in; a late event whose second is already closed
    /// counts in the oldest open one.
    fn bucket(&mut self, at: Duration) -> &mut Bucket {
        let second = at.as_secs().max(self.next_row);
        self.open.entry(second).or_insert_with(Bucket::new)
    }

    /// Counts `count` requests sent during `second`.
    ///
    /// Sends are counted apart from their outcomes: a request sent in one second may finish
    /// many seconds later, and the timeline shows both when they happened.
    pub fn record_sends(&mut self, second: u64, count: u64) {
        if count == 0 {
            return;
        }
        self.sent += count;
        self.bucket(Duration::from_secs(second)).sent += count;
    }

    /// Sets how many requests went out late and the worst lag, as counted by the workers.
    pub fn record_late(&mut self, count: u64, max_lag: Duration) {
        self.late = count;
        self.max_lag = max_lag;
    }

    /// Counts one finished request.
    pub fn record(&mut self, outcome: Outcome) {
        self.finished += 1;
        let failed = outcome.failed();
        self.failed += u64::from(failed);
        match outcome.result {
            Ok(status) => {
                self.completed += 1;
                self.bytes += outcome.bytes;
                *self.status.entry(status).or_default() += 1;
                let us = micros(outcome.latency());
                self.latency.saturating_record(us);
                let bucket = self.bucket(outcome.done);
                bucket.completed += 1;
                bucket.errors += u64::from(failed);
                bucket.latency.saturating_record(us);
            }
            Err(kind) => {
                *self.errors.entry(kind).or_default() += 1;
                self.bucket(outcome.done).errors += 1;
            }
        }
    }

    /// The first second that has no row yet.
    pub fn next_row(&self) -> u64 {
        self.next_row
    }

    /// Closes every second that ended at or before `now` and returns their rows, in order,
    /// empty seconds included.
    pub fn close_until(&mut self, now: Duration) -> Vec<TimelineRow> {
        let mut rows = Vec::new();
        while self.next_row < now.as_secs() {
            let second = self.next_row;
            let bucket = self.open.remove(&second).unwrap_or_else(Bucket::new);
            self.last_row_completed = bucket.completed;
            rows.push(TimelineRow {
                second,
                sent: bucket.sent,
                completed: bucket.completed,
                errors: bucket.errors,
                p50: quantile(&bucket.latency, 0.5),
                p90: quantile(&bucket.latency, 0.9),
                p99: quantile(&bucket.latency, 0.99),
                max: quantile(&bucket.latency, 1.0),
                in_flight: self.in_flight(),
            });
            self.next_row += 1;
        }
        rows
    }

    /// Closes everything still open, the partial last second included.
    pub fn close_all(&mut self) -> Vec<TimelineRow> {
        let end = self
            .open
            .keys()
            .next_back()
            .map_or(self.next_row, |&s| s + 1);
        self.close_until(Duration::from_secs(end))
    }

    /// The progress line's numbers.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            sent: self.sent,
            completed: self.completed,
            errors: self.failed,
            in_flight: self.in_flight(),
            last_second_rps: self.last_row_completed,
            p50: quantile(&self.latency, 0.5),
            p99: quantile(&self.latency, 0.99),
        }
    }

    /// Requests sent.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Responses received (any status).
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// Requests with no response or a 4xx/5xx one.
    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// Sent and not finished (abandoned, if the run is over).
    pub fn in_flight(&self) -> u64 {
        self.sent.saturating_sub(self.finished)
    }

    /// Response body bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Requests that went out after their intended time, and the worst lag.
    pub fn late(&self) -> (u64, Duration) {
        (self.late, self.max_lag)
    }

    /// Count per status code.
    pub fn status_codes(&self) -> &BTreeMap<u16, u64> {
        &self.status
    }

    /// Count per error kind.
    pub fn errors(&self) -> &BTreeMap<ErrorKind, u64> {
        &self.errors
    }

    /// Latency percentiles of every response, `None` before the first.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let h = &self.latency;
        Some(Percentiles {
            p50: quantile(h, 0.5)?,
            p90: quantile(h, 0.9)?,
            p99: quantile(h, 0.99)?,
            p999: quantile(h, 0.999)?,
            max: quantile(h, 1.0)?,
            mean: Duration::from_secs_f64(h.mean() / 1e6),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn done(start: u64, end: u64, result: Result<u16, ErrorKind>) -> Outcome {
        Outcome {
            start: ms(start),
            done: ms(end),
            result,
            bytes: 10,
        }
    }

    #[test]
    fn percentiles_follow_the_recorded_latencies() {
        let mut stats = Stats::new();
        stats.record_sends(0, 1000);
        for i in 1..=1000u64 {
            stats.record(done(i, i + i, Ok(200)));
        }
        let p = stats.percentiles().unwrap();
        let near = |d: Duration, want: u64| {
            let got = d.as_secs_f64() * 1000.0;
            (got - want as f64).abs() <= want as f64 * 0.002 + 0.01
        };
        assert!(near(p.p50, 500), "{p:?}");
        assert!(near(p.p90, 900), "{p:?}");
        assert!(near(p.p99, 990), "{p:?}");
        assert!(near(p.p999, 999), "{p:?}");
        assert!(near(p.max, 1000), "{p:?}");
        assert_eq!(stats.status_codes()[&200], 1000);
        assert_eq!(stats.bytes(), 10_000);
    }

    #[test]
    fn failures_count_errors_and_bad_statuses() {
        let mut stats = Stats::new();
        stats.record_sends(0, 4);
        stats.record(done(0, 5, Ok(200)));
        stats.record(done(0, 5, Ok(503)));
        stats.record(done(0, 5, Err(ErrorKind::Timeout)));
        assert_eq!(stats.failed(), 2);
        assert_eq!(stats.completed(), 2);
        assert_eq!(stats.in_flight(), 1);
        assert_eq!(stats.errors()[&ErrorKind::Timeout], 1);
        // Transport errors have no latency to record.
        // HDR reports the highest value equivalent to the recorded one (3 significant digits).
        let max = stats.percentiles().unwrap().max;
        assert!(
            ms(5) <= max && max <= Duration::from_micros(5005),
            "{max:?}"
        );
    }

    #[test]
    fn rows_cover_every_second_in_order() {
        let mut stats = Stats::new();
        stats.record_sends(0, 1);
        stats.record_sends(2, 1);
        stats.record_late(1, ms(30));
        stats.record(done(100, 300, Ok(200)));
        assert!(stats.close_until(ms(999)).is_empty());
        let rows = stats.close_until(ms(2000));
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].second, rows[0].sent, rows[0].completed), (0, 1, 1));
        // Per-second rows keep two significant digits.
        let p50 = rows[0].p50.unwrap();
        assert!(ms(200) <= p50 && p50 <= ms(202), "{p50:?}");
        assert_eq!((rows[1].second, rows[1].sent, rows[1].p50), (1, 0, None));
        // An event for a closed second lands in the oldest open one instead of being lost.
        stats.record(done(1500, 1900, Err(ErrorKind::Reset)));
        let rows = stats.close_all();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].second, rows[0].sent, rows[0].errors), (2, 1, 1));
        assert_eq!(rows[0].in_flight, 0);
        assert_eq!(stats.late(), (1, ms(30)));
        assert_eq!(stats.snapshot().last_second_rps, 0);
    }
}
