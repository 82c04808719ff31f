//! The time-weighted concurrency that Knative's queue-proxy reports (kpa.md §5.1), as pure code.
//!
//! Every arrival and completion first integrates `concurrency × Δt` since the previous event,
//! then changes the count. A report divides the integral by the elapsed time and starts a new
//! window, keeping the current concurrency. Time is passed in; out-of-order instants add
//! nothing (the subtraction saturates).

use std::time::Duration;

use ebb_core::Instant;

/// One window of in-flight accounting for a service or a replica.
#[derive(Debug, Clone)]
pub(crate) struct ConcurrencyWindow {
    concurrency: u32,
    last_event: Instant,
    window_start: Instant,
    /// Σ concurrency × Δt, in request·nanoseconds.
    area: u128,
    arrivals: u64,
    completions: u64,
}

/// What one window saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct WindowReport {
    pub(crate) elapsed: Duration,
    /// Σ(concurrency·Δt) / Σ Δt; 0 if no time elapsed.
    pub(crate) average_concurrency: f64,
    pub(crate) arrivals: u64,
    pub(crate) completions: u64,
    /// In flight at the end of the window.
    pub(crate) concurrency: u32,
}

impl WindowReport {
    /// `count` per second of this window; 0 for an empty window.
    pub(crate) fn per_second(&self, count: u64) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { count as f64 / secs } else { 0.0 }
    }
}

impl ConcurrencyWindow {
    pub(crate) fn new(now: Instant) -> Self {
        ConcurrencyWindow {
            concurrency: 0,
            last_event: now,
            window_start: now,
            area: 0,
            arrivals: 0,
            completions: 0,
        }
    }

    pub(crate) fn concurrency(&self) -> u32 {
        self.concurrency
    }

    pub(crate) fn arrive(&mut self, now: Instant) {
        self.integrate(now);
        self.concurrency += 1;
        self.arrivals += 1;
    }

    pub(crate) fn complete(&mut self, now: Instant) {
        self.integrate(now);
        self.concurrency = self.concurrency.saturating_sub(1);
        self.completions += 1;
    }

    /// Undo an arrival that never reached its destination (a retry moved it elsewhere).
    pub(crate) fn cancel(&mut self, now: Instant) {
        self.integrate(now);
        self.concurrency = self.concurrency.saturating_sub(1);
        self.arrivals = self.arrivals.saturating_sub(1);
    }

    /// Close the window at `now` and start the next one.
    pub(crate) fn report(&mut self, now: Instant) -> WindowReport {
        self.integrate(now);
        let elapsed = now.since(self.window_start);
        let nanos = elapsed.as_nanos();
        let average_concurrency = if nanos == 0 {
            0.0
        } else {
            self.area as f64 / nanos as f64
        };
        let report = WindowReport {
            elapsed,
            average_concurrency,
            arrivals: self.arrivals,
            completions: self.completions,
            concurrency: self.concurrency,
        };
        self.area = 0;
        self.arrivals = 0;
        self.completions = 0;
        if now.is_after(self.window_start) {
            self.window_start = now;
        }
        report
    }

    fn integrate(&mut self, now: Instant) {
        let dt = now.since(self.last_event).as_nanos();
        self.area += u128::from(self.concurrency) * dt;
        if now.is_after(self.last_event) {
            self.last_event = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(ms: i64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn average_is_time_weighted() {
        let mut w = ConcurrencyWindow::new(ms(0));
        w.arrive(ms(0));
        w.arrive(ms(250)); // 2 in flight from 250 ms
        w.complete(ms(500)); // 1 from 500 ms
        w.complete(ms(750)); // 0 from 750 ms
        let r = w.report(ms(1000));
        // 0.25·1 + 0.25·2 + 0.25·1 + 0.25·0 = 1.0
        assert!((r.average_concurrency - 1.0).abs() < 1e-12, "{r:?}");
        assert_eq!((r.arrivals, r.completions, r.concurrency), (2, 2, 0));
        assert_eq!(r.per_second(r.completions), 2.0);
    }

    #[test]
    fn the_next_window_keeps_the_current_concurrency() {
        let mut w = ConcurrencyWindow::new(ms(0));
        w.arrive(ms(500));
        w.arrive(ms(500));
        let first = w.report(ms(1000));
        assert!((first.average_concurrency - 1.0).abs() < 1e-12);
        let second = w.report(ms(2000));
        assert!((second.average_concurrency - 2.0).abs() < 1e-12);
        assert_eq!(
            (second.arrivals, second.completions, second.concurrency),
            (0, 0, 2)
        );
    }

    #[test]
    fn empty_window_and_backwards_time_are_harmless() {
        let mut w = ConcurrencyWindow::new(ms(1000));
        assert_eq!(w.report(ms(1000)).average_concurrency, 0.0);
        w.arrive(ms(900)); // earlier than the last event: adds no area
        let r = w.report(ms(1000));
        assert_eq!(r.average_concurrency, 0.0);
        assert_eq!(r.per_second(5), 0.0);
        w.complete(ms(1000));
        w.complete(ms(1000)); // one too many: saturates at 0
        assert_eq!(w.concurrency(), 0);
    }

    #[test]
    fn cancel_undoes_an_arrival() {
        let mut w = ConcurrencyWindow::new(ms(0));
        w.arrive(ms(0));
        w.cancel(ms(0));
        let r = w.report(ms(1000));
        assert_eq!((r.arrivals, r.completions, r.concurrency), (0, 0, 0));
        assert_eq!(r.average_concurrency, 0.0);
    }
}
