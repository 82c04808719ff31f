//! Scale-down delay: the maximum desired count over a sliding window of 2-second buckets
//! (spec §7).

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Bucket size of the delay window: the decider's tick interval.
pub const DELAY_BUCKET_SECS: i64 = 2;

/// A monotonic deque of (bucket, value) with strictly decreasing values: the head is the maximum
/// of the last `size` buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DelayWindow {
    size: i64,
    entries: VecDeque<(i64, i32)>,
}

impl DelayWindow {
    /// A window covering `delay`: `ceil(delay / 2 s)` buckets (5 min → 150).
    pub fn new(delay: Duration) -> Self {
        let secs = delay.as_secs_f64();
        let size = (secs / DELAY_BUCKET_SECS as f64).ceil() as i64;
        DelayWindow {
            size: size.max(1),
            entries: VecDeque::new(),
        }
    }

    /// Number of 2-second buckets.
    pub fn size(&self) -> i64 {
        self.size
    }

    /// Records `value` at `second` (bucket `floor(second / 2)`).
    pub fn record(&mut self, second: i64, value: i32) {
        let index = second.div_euclid(DELAY_BUCKET_SECS);
        // Smaller or equal values recorded earlier can never be the maximum again.
        while self.entries.back().is_some_and(|&(_, v)| v <= value) {
            self.entries.pop_back();
        }
        while self
            .entries
            .front()
            .is_some_and(|&(i, _)| index - i >= self.size)
        {
            self.entries.pop_front();
        }
        if self.entries.back().is_some_and(|&(i, _)| i == index) {
            // Same bucket, and the value there is larger: keep it.
            return;
        }
        self.entries.push_back((index, value));
    }

    /// The maximum over the window (0 if nothing was recorded).
    pub fn current(&self) -> i32 {
        self.entries.front().map_or(0, |&(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s7_window_size_is_delay_over_two_seconds_rounded_up() {
        assert_eq!(DelayWindow::new(Duration::from_secs(300)).size(), 150);
        assert_eq!(DelayWindow::new(Duration::from_secs(30)).size(), 15);
        assert_eq!(DelayWindow::new(Duration::from_secs(3)).size(), 2);
    }

    #[test]
    fn s7_value_recorded_at_bucket_b_is_visible_until_b_plus_size_minus_one() {
        // Upstream decider test: 4 recorded at t=2 s is still returned at t=300 s, gone at 302 s.
        let mut w = DelayWindow::new(Duration::from_secs(300));
        w.record(2, 4);
        w.record(300, 1);
        assert_eq!(w.current(), 4);
        w.record(302, 1);
        assert_eq!(w.current(), 1);
    }

    #[test]
    fn s7_current_is_the_maximum_over_the_window() {
        let mut w = DelayWindow::new(Duration::from_secs(10));
        w.record(0, 3);
        w.record(2, 5);
        w.record(4, 2);
        assert_eq!(w.current(), 5);
        w.record(6, 1);
        assert_eq!(w.current(), 5);
        // Bucket 1 (t=2) falls out at bucket 6 (t=12).
        w.record(12, 1);
        assert_eq!(w.current(), 2);
        // A larger value replaces everything smaller at once.
        w.record(14, 9);
        assert_eq!(w.current(), 9);
    }

    #[test]
    fn s7_two_records_in_the_same_bucket_keep_the_larger() {
        let mut w = DelayWindow::new(Duration::from_secs(2));
        w.record(10, 7);
        w.record(11, 3);
        assert_eq!(w.current(), 7);
        w.record(12, 3);
        assert_eq!(w.current(), 3);
    }
}
