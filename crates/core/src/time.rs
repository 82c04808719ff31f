//! Time as the engine sees it: a value handed in by the driver, never read from a clock.
//!
//! Drivers map their clock onto [`Instant`] (tokio's clock in the local runtime, virtual time in
//! the simulator, "now" plus ages in `ebb decide`). The engine only compares and subtracts, and
//! every subtraction saturates, so a clock that appears to go backwards cannot make it panic.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A point in time, in nanoseconds since an epoch chosen by the driver.
///
/// Signed so that "an event 10 minutes before the driver's epoch" is representable: scenario
/// files describe history as ages relative to now.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Instant(i64);

impl Instant {
    /// The driver's epoch.
    pub const EPOCH: Instant = Instant(0);

    /// An instant `nanos` nanoseconds after the epoch (negative: before it).
    pub const fn from_nanos(nanos: i64) -> Self {
        Instant(nanos)
    }

    /// An instant `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Instant(ms.saturating_mul(1_000_000))
    }

    /// An instant `s` whole seconds after the epoch.
    pub const fn from_secs(s: i64) -> Self {
        Instant(s.saturating_mul(1_000_000_000))
    }

    /// An instant `s` (fractional) seconds after the epoch.
    pub fn from_secs_f64(s: f64) -> Self {
        Instant((s * 1e9) as i64)
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Seconds since the epoch, fractional.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Whole seconds since the epoch, rounded toward negative infinity.
    pub const fn floor_secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// Time elapsed from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: Instant) -> Duration {
        if self.0 <= earlier.0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.0.abs_diff(earlier.0))
        }
    }

    /// Strictly after `other` (Go's `Time.After`).
    pub fn is_after(self, other: Instant) -> bool {
        self.0 > other.0
    }

    /// Strictly before `other` (Go's `Time.Before`).
    pub fn is_before(self, other: Instant) -> bool {
        self.0 < other.0
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(nanos(d)))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(nanos(d)))
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}s", self.as_secs_f64())
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}s", self.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let t = Instant::from_nanos(i64::MAX - 1);
        assert_eq!((t + Duration::from_secs(10)).as_nanos(), i64::MAX);
        let t = Instant::from_nanos(i64::MIN + 1);
        assert_eq!((t - Duration::from_secs(10)).as_nanos(), i64::MIN);
    }

    #[test]
    fn since_is_zero_when_the_clock_goes_backwards() {
        let a = Instant::from_secs(10);
        let b = Instant::from_secs(12);
        assert_eq!(a.since(b), Duration::ZERO);
        assert_eq!(b.since(a), Duration::from_secs(2));
    }

    #[test]
    fn instants_before_the_epoch_are_representable() {
        let now = Instant::EPOCH;
        let ten_minutes_ago = now - Duration::from_secs(600);
        assert!(ten_minutes_ago.is_before(now));
        assert_eq!(now.since(ten_minutes_ago), Duration::from_secs(600));
        assert_eq!(Instant::from_millis(-1500).floor_secs(), -2);
    }
}
