//! Wall-clock time for the controller. The engine's [`Instant`] counts nanoseconds from an epoch
//! the driver picks; here it is the Unix epoch, so the memory saved in an Autoscaler's status
//! means the same thing after a restart, on another node, or under another leader.

use ebb_core::Instant;
use k8s_openapi::jiff::Timestamp;

/// The current wall-clock time as an engine instant.
pub fn now() -> Instant {
    from_timestamp(Timestamp::now())
}

/// A timestamp as an engine instant (saturating far outside ±292 years).
pub fn from_timestamp(ts: Timestamp) -> Instant {
    let nanos = ts.as_nanosecond();
    Instant::from_nanos(i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX }))
}

/// An engine instant as a timestamp.
pub fn to_timestamp(at: Instant) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(at.as_nanos())).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// RFC 3339 in UTC, with the fraction of a second only when there is one (what Kubernetes
/// accepts for `format: date-time`).
pub fn rfc3339(at: Instant) -> String {
    to_timestamp(at).to_string()
}

/// Parses what [`rfc3339`] writes (and any RFC 3339 time with an offset).
pub fn parse_rfc3339(text: &str) -> Option<Instant> {
    text.parse::<Timestamp>().ok().map(from_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_to_the_nanosecond() {
        for nanos in [0, 1, 1_700_000_000_123_456_789, 1_700_000_000_000_000_000] {
            let at = Instant::from_nanos(nanos);
            assert_eq!(parse_rfc3339(&rfc3339(at)), Some(at), "{}", rfc3339(at));
        }
    }

    #[test]
    fn writes_what_kubernetes_writes() {
        assert_eq!(
            rfc3339(Instant::from_secs(1_700_000_000)),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20Z"),
            Some(Instant::from_secs(1_700_000_000))
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
