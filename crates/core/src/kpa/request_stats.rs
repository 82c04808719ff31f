//! Per-replica request statistics (spec §5.1): a time-weighted integral of requests in flight,
//! reported and reset every second. This is what Knative's queue-proxy measures beside each
//! pod; a driver that sees every request (ebb's gateway) can keep one per replica or per
//! service and turn it into the [`Stat`] the autoscaler records.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::collector::Stat;
use crate::time::Instant;

/// Requests in flight over time, for one reporting period at a time.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStats {
    /// Requests in flight now (kept across reports).
    concurrency: f64,
    /// Of which came through the request holder.
    proxied_concurrency: f64,
    /// Time of the last event or report.
    last_change: Option<Instant>,
    /// Arrivals in this period.
    requests: f64,
    proxied_requests: f64,
    /// ∫ concurrency dt and ∫ proxied dt over this period, and the time integrated.
    weighted: f64,
    proxied_weighted: f64,
    seconds: f64,
}

impl RequestStats {
    /// Stats that start counting at `now`.
    pub fn new(now: Instant) -> Self {
        RequestStats {
            last_change: Some(now),
            ..RequestStats::default()
        }
    }

    /// Integrates the current concurrency up to `now`; out-of-order times are ignored.
    fn integrate(&mut self, now: Instant) {
        let Some(last) = self.last_change else {
            self.last_change = Some(now);
            return;
        };
        if now.is_after(last) {
            let dt = now.since(last).as_secs_f64();
            self.seconds += dt;
            self.weighted += self.concurrency * dt;
            self.proxied_weighted += self.proxied_concurrency * dt;
            self.last_change = Some(now);
        }
    }

    /// A request started; `proxied` when it came through the request holder.
    pub fn request_in(&mut self, now: Instant, proxied: bool) {
        self.integrate(now);
        self.requests += 1.0;
        self.concurrency += 1.0;
        if proxied {
            self.proxied_requests += 1.0;
            self.proxied_concurrency += 1.0;
        }
    }

    /// A request finished.
    pub fn request_out(&mut self, now: Instant, proxied: bool) {
        self.integrate(now);
        self.concurrency -= 1.0;
        if proxied {
            self.proxied_concurrency -= 1.0;
        }
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> f64 {
        self.concurrency
    }

    /// The period's report: average concurrency (0 if no time passed) and arrivals per second
    /// of `period`. Resets the period but keeps the requests in flight.
    pub fn report(&mut self, now: Instant, period: Duration) -> Stat {
        self.integrate(now);
        let average = |w: f64| {
            if self.seconds > 0.0 {
                w / self.seconds
            } else {
                0.0
            }
        };
        let per_second = period.as_secs_f64().max(f64::MIN_POSITIVE);
        let stat = Stat {
            average_concurrency: average(self.weighted),
            request_count: self.requests / per_second,
            proxied_concurrency: average(self.proxied_weighted),
            proxied_request_count: self.proxied_requests / per_second,
        };
        *self = RequestStats {
            concurrency: self.concurrency,
            proxied_concurrency: self.proxied_concurrency,
            last_change: self.last_change,
            ..RequestStats::default()
        };
        stat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: i64) -> Instant {
        Instant::from_millis(v)
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn s5_1_average_concurrency_is_time_weighted() {
        let mut s = RequestStats::new(ms(0));
        s.request_in(ms(0), false);
        s.request_in(ms(500), false);
        s.request_out(ms(750), false);
        // 1 for 500 ms, 2 for 250 ms, 1 for 250 ms → 1.25.
        let r = s.report(ms(1000), SECOND);
        assert_eq!(r.average_concurrency, 1.25);
        assert_eq!(r.request_count, 2.0);
    }

    #[test]
    fn s5_1_a_report_resets_the_period_but_keeps_requests_in_flight() {
        let mut s = RequestStats::new(ms(0));
        s.request_in(ms(0), false);
        s.report(ms(1000), SECOND);
        let r = s.report(ms(2000), SECOND);
        assert_eq!(r.average_concurrency, 1.0);
        assert_eq!(r.request_count, 0.0);
        assert_eq!(s.in_flight(), 1.0);
    }

    #[test]
    fn s5_1_proxied_requests_are_counted_separately() {
        let mut s = RequestStats::new(ms(0));
        s.request_in(ms(0), true);
        s.request_in(ms(0), false);
        s.request_out(ms(500), true);
        let r = s.report(ms(1000), SECOND);
        assert_eq!(r.average_concurrency, 1.5);
        assert_eq!(r.proxied_concurrency, 0.5);
        assert_eq!(r.request_count, 2.0);
        assert_eq!(r.proxied_request_count, 1.0);
    }

    #[test]
    fn s5_1_request_count_is_a_rate_of_the_period_and_no_time_means_zero() {
        let mut s = RequestStats::new(ms(0));
        s.request_in(ms(0), false);
        s.request_in(ms(0), false);
        let r = s.report(ms(0), Duration::from_secs(2));
        assert_eq!(r.request_count, 1.0);
        assert_eq!(r.average_concurrency, 0.0);
    }

    #[test]
    fn s5_1_out_of_order_times_are_ignored() {
        let mut s = RequestStats::new(ms(1000));
        s.request_in(ms(1000), false);
        s.request_in(ms(900), false); // earlier than the last change: no negative integration
        let r = s.report(ms(2000), SECOND);
        assert_eq!(r.average_concurrency, 2.0);
    }
}
