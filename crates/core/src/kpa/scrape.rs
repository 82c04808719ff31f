//! Turning per-pod statistics into one revision total (spec §5.2), for drivers that scrape a
//! sample of the pods (the Kubernetes controller). ebb's local gateway sees every replica and
//! reports the total directly.

use std::time::Duration;

use super::collector::Stat;

/// `X = 1.96² × 100 / 5²`: a 95 % confidence, 5 % error sample-size constant.
const SAMPLE_CONSTANT: f64 = 1.96 * 1.96 * 100.0 / 25.0;

/// How many of `ready` pods to scrape: all of them up to 3, then `ceil(N·X / (N + X − 1))`
/// (5 → 4, 10 → 7, 100 → 14, 1000 → 16).
pub fn sample_size(ready: usize) -> usize {
    if ready <= 3 {
        return ready;
    }
    let n = ready as f64;
    (n * SAMPLE_CONSTANT / (n + SAMPLE_CONSTANT - 1.0)).ceil() as usize
}

/// Which pods to scrape, in order of preference: pods up for at least the stable window first
/// (their numbers are settled), then younger ones. Returns indices into `uptimes`; the caller
/// tries them in order and moves on when one fails.
pub fn scrape_order(uptimes: &[Duration], stable_window: Duration) -> Vec<usize> {
    let (mut old, young): (Vec<usize>, Vec<usize>) =
        (0..uptimes.len()).partition(|&i| uptimes[i] >= stable_window);
    old.extend(young);
    old
}

/// The revision total extrapolated from sampled pods: every field is `Σ / samples × ready`.
/// `None` when there are no ready pods or no samples (nothing is recorded then).
pub fn revision_total(samples: &[Stat], ready: usize) -> Option<Stat> {
    if ready == 0 || samples.is_empty() {
        return None;
    }
    let scale = ready as f64 / samples.len() as f64;
    let sum = |f: fn(&Stat) -> f64| samples.iter().map(f).sum::<f64>() * scale;
    Some(Stat {
        average_concurrency: sum(|s| s.average_concurrency),
        request_count: sum(|s| s.request_count),
        proxied_concurrency: sum(|s| s.proxied_concurrency),
        proxied_request_count: sum(|s| s.proxied_request_count),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s5_2_sample_size_table() {
        let cases = [
            (0, 0),
            (1, 1),
            (3, 3),
            (5, 4),
            (10, 7),
            (100, 14),
            (1000, 16),
        ];
        for (n, want) in cases {
            assert_eq!(sample_size(n), want, "{n}");
        }
    }

    #[test]
    fn s5_2_old_pods_are_preferred() {
        let w = Duration::from_secs(60);
        let up = [
            Duration::from_secs(5),
            Duration::from_secs(90),
            Duration::from_secs(60),
            Duration::from_secs(1),
        ];
        assert_eq!(scrape_order(&up, w), vec![1, 2, 0, 3]);
    }

    #[test]
    fn s5_2_result_is_the_total_extrapolated_from_the_sample_mean() {
        let samples = [Stat::new(2.0, 4.0), Stat::new(4.0, 8.0)];
        let total = revision_total(&samples, 10).unwrap();
        assert_eq!(total.average_concurrency, 30.0);
        assert_eq!(total.request_count, 60.0);
        assert_eq!(revision_total(&samples, 0), None);
        assert_eq!(revision_total(&[], 3), None);
    }
}
