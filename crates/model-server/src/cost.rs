//! Emulated compute cost: real CPU work, measured in this thread's CPU time.
//!
//! Spinning until the thread has *used* the cost (not until wall time has passed) behaves like
//! inference: under CPU contention, or a CPU limit, a request takes longer, and the CPU shows
//! up in /proc for CPU-based autoscaling to measure.

use std::hint::black_box;
use std::time::Duration;

use rustix::time::{ClockId, clock_gettime};

fn thread_cpu_time() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Keeps this thread busy until it has used `cost` of CPU time.
pub fn burn_cpu(cost: Duration) {
    if cost.is_zero() {
        return;
    }
    let until = thread_cpu_time() + cost;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while thread_cpu_time() < until {
        for _ in 0..256 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burns_at_least_the_asked_cpu_time() {
        let before = thread_cpu_time();
        burn_cpu(Duration::from_millis(20));
        let used = thread_cpu_time() - before;
        assert!(used >= Duration::from_millis(20), "{used:?}");
        // Generous upper bound: the loop checks the clock every few microseconds.
        assert!(used < Duration::from_millis(500), "{used:?}");
        let before = thread_cpu_time();
        burn_cpu(Duration::ZERO);
        assert!(thread_cpu_time() - before < Duration::from_millis(5));
    }
}
