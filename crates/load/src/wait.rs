//! Think time between a closed-loop user's requests: `--wait 1s..5s` (uniform, like locust's
//! `between(1, 5)`) or a constant `--wait 2s`.

use std::time::Duration;

use ebb_core::units::parse_duration;
use rand::{Rng, RngExt as _};

/// A wait that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// Not `DURATION` or `MIN..MAX`.
    #[error("invalid wait {text:?}: {reason}; write a range like 1s..5s or a constant like 2s")]
    Invalid {
        /// The text as written.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `MIN` is larger than `MAX`.
    #[error(
        "invalid wait {0:?}: the minimum is larger than the maximum; write MIN..MAX like 1s..5s"
    )]
    Reversed(String),
}

/// A think time drawn uniformly from `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WaitTime {
    /// Shortest wait.
    pub min: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl WaitTime {
    /// No waiting at all.
    pub const NONE: WaitTime = WaitTime {
        min: Duration::ZERO,
        max: Duration::ZERO,
    };

    /// Parses `1s..5s`, `500ms..1s` or a constant `2s`.
    pub fn parse(text: &str) -> Result<WaitTime, WaitError> {
        let duration = |part: &str| {
            parse_duration(part.trim()).map_err(|e| WaitError::Invalid {
                text: text.to_string(),
                reason: e.to_string(),
            })
        };
        let (min, max) = match text.split_once("..") {
            Some((min, max)) => (duration(min)?, duration(max)?),
            None => {
                let d = duration(text)?;
                (d, d)
            }
        };
        if min > max {
            return Err(WaitError::Reversed(text.to_string()));
        }
        Ok(WaitTime { min, max })
    }

    /// One wait, uniform over `min..=max`.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        if self.min == self.max {
            return self.min;
        }
        let nanos = rng.random_range(self.min.as_nanos()..=self.max.as_nanos());
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Mean wait.
    pub fn mean(&self) -> Duration {
        (self.min + self.max) / 2
    }
}

impl std::fmt::Display for WaitTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use ebb_core::units::format_duration;
        if self.min == self.max {
            f.write_str(&format_duration(self.min))
        } else {
            write!(
                f,
                "{}..{}",
                format_duration(self.min),
                format_duration(self.max)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;
    use rand::rngs::Xoshiro256PlusPlus;

    use super::*;

    #[test]
    fn ranges_and_constants() {
        let w = WaitTime::parse("1s..5s").unwrap();
        assert_eq!(
            (w.min, w.max),
            (Duration::from_secs(1), Duration::from_secs(5))
        );
        assert_eq!(w.to_string(), "1s..5s");
        let w = WaitTime::parse("250ms").unwrap();
        assert_eq!(
            (w.min, w.max),
            (Duration::from_millis(250), Duration::from_millis(250))
        );
        assert_eq!(WaitTime::parse("0").unwrap(), WaitTime::NONE);
    }

    #[test]
    fn bad_waits_are_explained() {
        assert_eq!(
            WaitTime::parse("5s..1s"),
            Err(WaitError::Reversed("5s..1s".into()))
        );
        let e = WaitTime::parse("1..5").unwrap_err().to_string();
        assert!(e.contains("1s..5s"), "{e}");
    }

    #[test]
    fn samples_stay_in_range_and_cover_it() {
        let w = WaitTime::parse("1s..5s").unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let samples: Vec<Duration> = (0..2000).map(|_| w.sample(&mut rng)).collect();
        assert!(samples.iter().all(|s| (w.min..=w.max).contains(s)));
        let below_2s = samples
            .iter()
            .filter(|s| **s < Duration::from_secs(2))
            .count();
        let above_4s = samples
            .iter()
            .filter(|s| **s > Duration::from_secs(4))
            .count();
        // Uniform: a quarter of the samples in each end quarter (±5 points).
        assert!((400..600).contains(&below_2s), "{below_2s}");
        assert!((400..600).contains(&above_4s), "{above_4s}");
    }
}
