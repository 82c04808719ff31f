//! The reconcile diff: which replicas to start and which to stop to reach a desired count.
//!
//! Starting a service is the diff from no replicas; every later change is the diff from the
//! current ones, so there is one path to test. New replicas take the smallest free ordinals
//! (`name-1`, `name-2`, ...), so `--replica N` stays meaningful and log files do not pile up.
//!
//! Scale-down removes, in this order (the ReplicaSet controller's ranking, with in-flight
//! requests added so the least busy replica goes first, knative/serving#3759): replicas without
//! a running process, then not-ready ones, then the fewest in-flight requests, then the most
//! recently started, then the highest ordinal.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::time::Duration;

/// What the planner knows about one existing replica.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candidate {
    pub(crate) ordinal: u32,
    /// Already leaving: not counted toward the desired number, keeps its ordinal.
    pub(crate) terminating: bool,
    /// A process is running (false while it waits out a crash backoff).
    pub(crate) running: bool,
    pub(crate) ready: bool,
    /// Requests in flight, as the gateway counts them.
    pub(crate) in_flight: u64,
    /// How long its current process has been running.
    pub(crate) age: Duration,
}

/// The diff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Ordinals of replicas to create.
    pub(crate) start: Vec<u32>,
    /// Ordinals of replicas to stop, first to go first.
    pub(crate) stop: Vec<u32>,
}

pub(crate) fn plan(replicas: &[Candidate], desired: u32) -> Plan {
    let mut active: Vec<&Candidate> = replicas.iter().filter(|r| !r.terminating).collect();
    let active_count = u32::try_from(active.len()).unwrap_or(u32::MAX);
    let mut plan = Plan::default();
    if active_count < desired {
        let taken: BTreeSet<u32> = replicas.iter().map(|r| r.ordinal).collect();
        plan.start = (1..=u32::MAX)
            .filter(|n| !taken.contains(n))
            .take((desired - active_count) as usize)
            .collect();
    } else if active_count > desired {
        active.sort_by_key(|r| (r.running, r.ready, r.in_flight, r.age, Reverse(r.ordinal)));
        plan.stop = active
            .iter()
            .take((active_count - desired) as usize)
            .map(|r| r.ordinal)
            .collect();
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(ordinal: u32, in_flight: u64, age_s: u64) -> Candidate {
        Candidate {
            ordinal,
            terminating: false,
            running: true,
            ready: true,
            in_flight,
            age: Duration::from_secs(age_s),
        }
    }

    #[test]
    fn startup_is_the_diff_from_empty() {
        assert_eq!(
            plan(&[], 3),
            Plan {
                start: vec![1, 2, 3],
                stop: vec![]
            }
        );
        assert_eq!(plan(&[], 0), Plan::default());
    }

    #[test]
    fn new_replicas_fill_the_smallest_free_ordinals_and_skip_terminating_ones() {
        let mut leaving = ready(1, 0, 9);
        leaving.terminating = true;
        let current = [leaving, ready(3, 0, 9)];
        assert_eq!(plan(&current, 3).start, vec![2, 4]);
    }

    #[test]
    fn terminating_replicas_do_not_count_toward_desired() {
        let mut leaving = ready(2, 0, 9);
        leaving.terminating = true;
        assert_eq!(plan(&[ready(1, 0, 9), leaving], 1), Plan::default());
    }

    #[test]
    fn scale_down_removes_the_least_busy_first() {
        let current = [ready(1, 5, 100), ready(2, 0, 100), ready(3, 2, 100)];
        assert_eq!(plan(&current, 2).stop, vec![2]);
        assert_eq!(plan(&current, 1).stop, vec![2, 3]);
        assert_eq!(plan(&current, 0).stop, vec![2, 3, 1]);
    }

    #[test]
    fn not_running_and_not_ready_replicas_go_before_busy_ready_ones() {
        let mut crashed = ready(1, 0, 0);
        crashed.running = false;
        crashed.ready = false;
        let mut starting = ready(2, 0, 1);
        starting.ready = false;
        let current = [crashed, starting, ready(3, 7, 50)];
        assert_eq!(plan(&current, 0).stop, vec![1, 2, 3]);
    }

    #[test]
    fn ties_go_to_the_newest_then_the_highest_ordinal() {
        let current = [ready(1, 0, 100), ready(2, 0, 10), ready(3, 0, 100)];
        assert_eq!(plan(&current, 0).stop, vec![2, 3, 1]);
    }
}
