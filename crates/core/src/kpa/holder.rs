//! The request holder's statistics for one revision (spec §5.3): the immediate "poke" on the
//! first request, per-second reports that do not count the poke twice, and forgetting the
//! revision after a silent second.
//!
//! Knative's activator does this; in ebb the gateway's hold path does. The measuring itself
//! (time-weighted concurrency, requests per second) stays with the driver: this type only
//! turns its numbers into [`Stat`]s.

use serde::{Deserialize, Serialize};

use super::collector::Stat;

/// Per-revision state of the request holder's reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HolderReporter {
    /// The revision has an entry (a request was seen and it has not gone quiet since).
    tracked: bool,
    /// The next report must subtract the request the poke already counted.
    poke_pending: bool,
}

impl HolderReporter {
    /// A request for the revision arrived. On the first one (no entry) returns the poke stat
    /// `{1, 1}` to send at once; the autoscaler ticks immediately on it when at zero.
    pub fn request_arrived(&mut self) -> Option<Stat> {
        if self.tracked {
            return None;
        }
        self.tracked = true;
        self.poke_pending = true;
        Some(Stat::POKE)
    }

    /// Whether the revision currently has an entry.
    pub fn is_tracking(&self) -> bool {
        self.tracked
    }

    /// The 1-second report: the holder's time-weighted average concurrency and request count
    /// over the period, and how many requests still reference the entry. Returns the stat to
    /// send, or `None` if the revision has no entry.
    pub fn report(
        &mut self,
        average_concurrency: f64,
        request_count: f64,
        in_flight: u64,
    ) -> Option<Stat> {
        if !self.tracked {
            return None;
        }
        let poke = if self.poke_pending { 1.0 } else { 0.0 };
        self.poke_pending = false;
        // A whole silent period with nothing in flight: forget the revision; the next request
        // pokes again.
        if average_concurrency == 0.0 && in_flight == 0 {
            self.tracked = false;
        }
        Some(Stat::new(
            (average_concurrency - poke).max(0.0),
            request_count - poke,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s5_3_first_request_pokes_once() {
        let mut h = HolderReporter::default();
        assert_eq!(h.request_arrived(), Some(Stat::POKE));
        assert_eq!(h.request_arrived(), None);
        assert!(h.is_tracking());
    }

    #[test]
    fn s5_3_first_report_after_a_poke_subtracts_it() {
        let mut h = HolderReporter::default();
        h.request_arrived();
        assert_eq!(h.report(5.0, 6.0, 5), Some(Stat::new(4.0, 5.0)));
        assert_eq!(h.report(5.0, 6.0, 5), Some(Stat::new(5.0, 6.0)));
        // Concurrency is floored at 0, the count is not.
        let mut h = HolderReporter::default();
        h.request_arrived();
        assert_eq!(h.report(0.5, 0.0, 1), Some(Stat::new(0.0, -1.0)));
    }

    #[test]
    fn s5_3_a_silent_period_deletes_the_entry_and_the_next_request_pokes_again() {
        let mut h = HolderReporter::default();
        h.request_arrived();
        h.report(2.0, 2.0, 0);
        // Silent, but a request still references the entry: kept.
        assert!(h.report(0.0, 0.0, 1).is_some());
        assert!(h.is_tracking());
        // Silent and unreferenced: reported once more, then gone.
        assert_eq!(h.report(0.0, 0.0, 0), Some(Stat::new(0.0, 0.0)));
        assert!(!h.is_tracking());
        assert_eq!(h.report(0.0, 0.0, 0), None);
        assert_eq!(h.request_arrived(), Some(Stat::POKE));
    }
}
