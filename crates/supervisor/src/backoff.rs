//! Crash restarts with exponential backoff, as the kubelet does them.
//!
//! The first exit restarts at once; each further exit in a row waits `initial`, then twice
//! that, up to `max` (kubelet: 10 s doubling to 5 min). A container that ran for `reset_after`
//! (kubelet: 10 min) before exiting starts the sequence over. While a replica waits, its status
//! is `CrashLoopBackOff`.

use std::time::Duration;

/// The restart delays; [`Default`] is the kubelet's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Delay before the second restart in a row.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// A run at least this long forgets earlier crashes.
    pub reset_after: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(300),
            reset_after: Duration::from_secs(600),
        }
    }
}

/// One replica's crash history.
#[derive(Debug, Clone)]
pub(crate) struct CrashBackoff {
    policy: BackoffPolicy,
    exits_in_a_row: u32,
}

impl CrashBackoff {
    pub(crate) fn new(policy: BackoffPolicy) -> Self {
        CrashBackoff {
            policy,
            exits_in_a_row: 0,
        }
    }

    /// The container exited after running `ran_for`: how long to wait before restarting it.
    pub(crate) fn after_exit(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= self.policy.reset_after {
            self.exits_in_a_row = 0;
        }
        let delay = match self.exits_in_a_row {
            0 => Duration::ZERO,
            n => {
                let doublings = (n - 1).min(31);
                self.policy
                    .initial
                    .saturating_mul(1u32 << doublings)
                    .min(self.policy.max)
            }
        };
        self.exits_in_a_row = self.exits_in_a_row.saturating_add(1);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn kubelet_sequence_immediate_then_doubling_to_five_minutes() {
        let mut b = CrashBackoff::new(BackoffPolicy::default());
        let delays: Vec<u64> = (0..9).map(|_| b.after_exit(secs(1)).as_secs()).collect();
        assert_eq!(delays, [0, 10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn a_long_run_resets_the_sequence() {
        let mut b = CrashBackoff::new(BackoffPolicy::default());
        b.after_exit(secs(1));
        b.after_exit(secs(1));
        assert_eq!(b.after_exit(secs(1)), secs(20));
        assert_eq!(b.after_exit(secs(600)), Duration::ZERO);
        assert_eq!(b.after_exit(secs(1)), secs(10));
    }

    #[test]
    fn many_crashes_never_overflow() {
        let mut b = CrashBackoff::new(BackoffPolicy::default());
        for _ in 0..1000 {
            assert!(b.after_exit(Duration::ZERO) <= secs(300));
        }
    }
}
