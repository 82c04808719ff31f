//! Per-second buckets over a sliding window and their two averages (spec §5.5, §5.6).
//!
//! Times are whole seconds since the driver's epoch (the bucket size is fixed at 1 s upstream).
//! A ring of `window` buckets holds the sum of everything recorded in each second; the linear
//! average divides by the number of buckets since the first write, the weighted-exponential one
//! weighs the newest bucket most and is not normalised.

use serde::{Deserialize, Serialize};

use super::spec::Algorithm;

/// Averages are rounded to this many decimal places (linear only).
const PRECISION: i32 = 6;
/// The weighted average aims to give the window this share of the total weight…
const TARGET_WEIGHT: f64 = 0.9999;
/// …but never uses a smoothing coefficient below this.
const MIN_SMOOTHING: f64 = 0.2;

/// A sliding window of per-second sums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Buckets {
    algorithm: Algorithm,
    buckets: Vec<f64>,
    /// First second written since the window last emptied (`None`: Go's zero time).
    first_write: Option<i64>,
    /// Last (newest) second written (`None`: never).
    last_write: Option<i64>,
    window_total: f64,
}

impl Buckets {
    /// An empty window of `window_secs` one-second buckets.
    pub fn new(algorithm: Algorithm, window_secs: i64) -> Self {
        Buckets {
            algorithm,
            buckets: vec![0.0; ring_len(window_secs)],
            first_write: None,
            last_write: None,
            window_total: 0.0,
        }
    }

    /// Window length in seconds.
    pub fn window_secs(&self) -> i64 {
        self.buckets.len() as i64
    }

    fn idx(&self, second: i64) -> usize {
        second.rem_euclid(self.window_secs()) as usize
    }

    /// Adds `value` to the bucket of `second` (§5.5 Record).
    pub fn record(&mut self, second: i64, value: f64) {
        let window = self.window_secs();
        if self.last_write != Some(second) {
            let last = self.last_write;
            // Too old: a full window before the newest write.
            if let Some(last) = last
                && second + window <= last
            {
                return;
            }
            if self.first_write.is_none_or(|first| first > second) {
                self.first_write = Some(second);
            }
            if last.is_none_or(|last| second > last) {
                match last {
                    Some(last) if second - last < window => {
                        // Clear the seconds skipped since the last write: their buckets still
                        // hold values from a window ago.
                        for s in last + 1..=second {
                            let i = self.idx(s);
                            self.window_total -= self.buckets[i];
                            self.buckets[i] = 0.0;
                        }
                    }
                    _ => {
                        // Nothing written for a whole window: start over.
                        self.buckets.fill(0.0);
                        self.window_total = 0.0;
                        self.first_write = Some(second);
                    }
                }
                self.last_write = Some(second);
            }
        }
        let i = self.idx(second);
        self.buckets[i] += value;
        self.window_total += value;
    }

    /// Nothing was written in the window ending at `now` (`now − lastWrite > window`).
    pub fn is_empty(&self, now: i64) -> bool {
        self.last_write
            .is_none_or(|last| now.saturating_sub(last) > self.window_secs())
    }

    /// The window's average at `now`, by the configured algorithm.
    pub fn average(&self, now: i64) -> f64 {
        match self.algorithm {
            Algorithm::Linear => self.linear_average(now),
            Algorithm::WeightedExponential => self.weighted_average(now),
        }
    }

    /// §5.5: the sum divided by the buckets since the first write, rounded to 6 decimals.
    fn linear_average(&self, now: i64) -> f64 {
        let Some(last) = self.last_write else {
            return 0.0;
        };
        let n = self.window_secs();
        let since_first = self.first_write.map_or(i64::MAX, |first| last - first + 1);
        let d = now.saturating_sub(last);
        let value = if d <= 0 {
            self.window_total / since_first.min(n) as f64
        } else if d < n {
            // Buckets after the last write hold data from a window ago: leave them out.
            let mut total = self.window_total;
            for s in last + 1..=now {
                total -= self.buckets[self.idx(s)];
            }
            total / since_first.min(n - d) as f64
        } else {
            0.0
        };
        round_to_digits(value, PRECISION)
    }

    /// §5.6: newest bucket weighted `m`, each older one `(1 − m)` times less; not normalised.
    fn weighted_average(&self, now: i64) -> f64 {
        let Some(last) = self.last_write else {
            return 0.0;
        };
        if self.is_empty(now) {
            return 0.0;
        }
        let n = self.window_secs();
        let m = smoothing_coefficient(n);
        let mut multiplier = m;
        let mut count = n;
        if now > last {
            let zeros = now - last;
            multiplier *= (1.0 - m).powi(i32::try_from(zeros).unwrap_or(i32::MAX));
            count -= zeros;
        }
        let mut result = 0.0;
        for i in 0..count.max(0) {
            result += self.buckets[self.idx(last - i)] * multiplier;
            multiplier *= 1.0 - m;
        }
        result
    }

    /// Changes the window length, keeping the newest buckets if the last write is recent
    /// (§5.5 "Resizing").
    pub fn resize(&mut self, now: i64, window_secs: i64) {
        let old_n = self.window_secs();
        let new_n = ring_len(window_secs) as i64;
        if new_n == old_n {
            return;
        }
        let mut buckets = vec![0.0; new_n as usize];
        let mut total = 0.0;
        match self.last_write {
            Some(last) if now - last <= old_n => {
                for s in (last - old_n.min(new_n) + 1..=last).rev() {
                    let v = self.buckets[self.idx(s)];
                    buckets[s.rem_euclid(new_n) as usize] = v;
                    total += v;
                }
                self.first_write = Some(last - (old_n - 1));
            }
            _ => self.first_write = None,
        }
        self.buckets = buckets;
        self.window_total = total;
    }
}

fn ring_len(window_secs: i64) -> usize {
    usize::try_from(window_secs.max(1)).unwrap_or(1)
}

/// `max(1 − (1 − 0.9999)^(1/n), 0.2)` for `n` buckets.
pub fn smoothing_coefficient(buckets: i64) -> f64 {
    (1.0 - (1.0 - TARGET_WEIGHT).powf(1.0 / buckets as f64)).max(MIN_SMOOTHING)
}

/// Rounds half away from zero to `digits` decimal places.
fn round_to_digits(v: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (v * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(window: i64) -> Buckets {
        Buckets::new(Algorithm::Linear, window)
    }

    fn weighted(window: i64) -> Buckets {
        Buckets::new(Algorithm::WeightedExponential, window)
    }

    #[test]
    fn s5_5_linear_average_divides_by_buckets_since_first_write() {
        // A fresh series of one bucket holding 1 averages to 1, not 1/60.
        let mut b = linear(60);
        b.record(1000, 1.0);
        assert_eq!(b.average(1000), 1.0);
        b.record(1001, 3.0);
        assert_eq!(b.average(1001), 2.0);
        // Once the window is full the divisor is the window.
        let mut b = linear(5);
        for s in 0..10 {
            b.record(s, s as f64);
        }
        assert_eq!(b.average(9), (5.0 + 6.0 + 7.0 + 8.0 + 9.0) / 5.0);
    }

    #[test]
    fn s5_5_writes_in_the_same_second_are_summed() {
        let mut b = linear(60);
        b.record(10, 2.0);
        b.record(10, 3.5);
        assert_eq!(b.average(10), 5.5);
    }

    #[test]
    fn s5_5_gaps_between_writes_count_as_zeros() {
        let mut b = linear(60);
        b.record(0, 6.0);
        b.record(2, 0.0);
        assert_eq!(b.average(2), 2.0);
    }

    #[test]
    fn s5_5_trailing_silent_seconds_shrink_the_divisor() {
        let mut b = linear(10);
        for s in 0..10 {
            b.record(s, 10.0);
        }
        // 3 seconds without writes: the 3 oldest buckets fall out, 7 remain.
        assert_eq!(b.average(12), 10.0);
        // A partial series: first write at 5, last at 9, queried at 11 → 5 buckets.
        let mut b = linear(10);
        for s in 5..10 {
            b.record(s, 4.0);
        }
        assert_eq!(b.average(11), 4.0);
    }

    #[test]
    fn s5_5_a_full_window_without_writes_reads_zero_and_resets() {
        let mut b = linear(10);
        b.record(0, 5.0);
        assert_eq!(b.average(9), 5.0);
        assert_eq!(b.average(10), 0.0);
        assert!(!b.is_empty(10));
        assert!(b.is_empty(11));
        // Writing after a whole window of silence starts a new partial series.
        b.record(20, 1.0);
        assert_eq!(b.average(20), 1.0);
    }

    #[test]
    fn s5_5_stale_buckets_are_cleared_when_writing_after_a_gap() {
        let mut b = linear(4);
        for s in 0..4 {
            b.record(s, 100.0);
        }
        // Second 6 reuses the buckets of seconds 2 (idx 2) and skips 4 and 5: all cleared.
        b.record(6, 1.0);
        // Buckets: 3 → 100, 4 → 0, 5 → 0, 6 → 1.
        assert_eq!(b.average(6), 101.0 / 4.0);
    }

    #[test]
    fn s5_5_writes_older_than_a_window_are_dropped_but_late_writes_inside_are_kept() {
        let mut b = linear(10);
        b.record(100, 1.0);
        b.record(90, 50.0); // exactly a window older: dropped
        assert_eq!(b.average(100), 1.0);
        b.record(95, 9.0); // late but inside: kept, and moves the first write back
        assert_eq!(b.average(100), 1.666667);
    }

    #[test]
    fn s5_5_averages_are_rounded_to_six_decimals() {
        let mut b = linear(60);
        b.record(0, 1.0);
        b.record(1, 0.0);
        b.record(2, 0.0);
        assert_eq!(b.average(2), 0.333333);
        let mut b = linear(60);
        b.record(0, 2.0);
        b.record(1, 0.0);
        b.record(2, 0.0);
        assert_eq!(b.average(2), 0.666667);
    }

    #[test]
    fn s5_5_empty_means_no_write_within_the_window() {
        let b = linear(60);
        assert!(b.is_empty(0));
        let mut b = linear(60);
        b.record(0, 0.0);
        assert!(!b.is_empty(60));
        assert!(b.is_empty(61));
    }

    #[test]
    fn s5_5_resizing_keeps_recent_data() {
        let mut b = linear(10);
        for s in 0..10 {
            b.record(s, s as f64);
        }
        b.resize(9, 5);
        assert_eq!(b.window_secs(), 5);
        // The newest 5 buckets survive; firstWrite moves to lastWrite − (old_n − 1).
        assert_eq!(b.average(9), (5.0 + 6.0 + 7.0 + 8.0 + 9.0) / 5.0);
        b.resize(9, 20);
        assert_eq!(b.window_secs(), 20);
        assert_eq!(b.average(9), 35.0 / 5.0);
        // Old data (last write more than a window ago) is dropped.
        let mut b = linear(10);
        b.record(0, 7.0);
        b.resize(100, 20);
        assert_eq!(b.average(100), 0.0);
    }

    #[test]
    fn s5_6_smoothing_coefficient() {
        let close = |a: f64, b: f64| (a - b).abs() < 5e-6;
        assert!(
            close(smoothing_coefficient(6), 0.78456),
            "{}",
            smoothing_coefficient(6)
        );
        assert!(
            close(smoothing_coefficient(40), 0.20567),
            "{}",
            smoothing_coefficient(40)
        );
        assert_eq!(smoothing_coefficient(42), 0.2);
        assert_eq!(smoothing_coefficient(60), 0.2);
    }

    #[test]
    fn s5_6_weighted_average_is_not_normalised_and_ignores_first_write() {
        let mut b = weighted(60);
        b.record(0, 10.0);
        assert!((b.average(0) - 2.0).abs() < 1e-12); // v·m with m = 0.2
        b.record(1, 10.0);
        // 10·0.2 + 10·0.2·0.8
        assert!((b.average(1) - 3.6).abs() < 1e-12);
        // One second later, the newest weight is skipped over: 0.2·0.8 for the newest bucket.
        assert!((b.average(2) - (10.0 * 0.16 + 10.0 * 0.128)).abs() < 1e-12);
    }

    #[test]
    fn s5_6_weighted_average_of_an_empty_window_is_zero() {
        let mut b = weighted(6);
        assert_eq!(b.average(0), 0.0);
        b.record(0, 5.0);
        assert!(b.average(6) == 0.0); // all weight skipped: nothing left in the window
        assert_eq!(b.average(7), 0.0);
    }

    #[test]
    fn s5_6_weighted_average_is_not_rounded() {
        let mut b = weighted(6);
        b.record(0, 1.0);
        let m = smoothing_coefficient(6);
        assert_eq!(b.average(0), m);
        assert_ne!(b.average(0), round_to_digits(m, 6));
    }
}
