//! Request traces to replay: when each recorded request arrived.
//!
//! The formats are `ebb_trace`'s (Azure LLM CSV, Mooncake CSV, a CSV with a time column, one
//! timestamp per line). Only arrival times matter for replay; token counts are read past.
//! Offsets are relative to the earliest request and sorted, so the first request is due at once.

use std::time::Duration;

pub use ebb_trace::{TraceError, TraceFormat};

/// `--speed` is not a positive number.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid speed {0}: use a positive factor such as 2.0 (twice as fast) or 0.5")]
pub struct InvalidSpeed(pub f64);

/// Arrival offsets of a trace, sorted, relative to its first request.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The format the file was read as.
    pub format: TraceFormat,
    /// When each request arrived, from the first one.
    pub offsets: Vec<Duration>,
}

impl Trace {
    /// Parses a trace in any of the supported formats (a rate file is an error).
    pub fn parse(text: &str) -> Result<Trace, TraceError> {
        let trace = ebb_trace::parse_requests(text)?;
        let first = trace.requests.first().map_or(0, |r| r.at_ns);
        let offsets = trace
            .requests
            .iter()
            .map(|r| Duration::from_nanos(u64::try_from(r.at_ns - first).unwrap_or(u64::MAX)))
            .collect();
        Ok(Trace {
            format: trace.format,
            offsets,
        })
    }

    /// Keeps only the first `limit` requests.
    pub fn limit(mut self, limit: usize) -> Trace {
        self.offsets.truncate(limit);
        self
    }

    /// Replays `speed` times faster (2.0 halves every offset).
    pub fn speed(mut self, speed: f64) -> Result<Trace, InvalidSpeed> {
        if !speed.is_finite() || speed <= 0.0 {
            return Err(InvalidSpeed(speed));
        }
        for offset in &mut self.offsets {
            *offset =
                Duration::try_from_secs_f64(offset.as_secs_f64() / speed).unwrap_or(Duration::MAX);
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(list: &[u64]) -> Vec<Duration> {
        list.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn speed_and_limit() {
        let trace = Trace::parse("0\n1\n2\n3\n").unwrap();
        let fast = trace.clone().speed(2.0).unwrap().limit(3);
        assert_eq!(fast.offsets, ms(&[0, 500, 1000]));
        assert!(trace.clone().speed(0.0).is_err());
        assert!(trace.speed(f64::NAN).is_err());
    }

    #[test]
    fn offsets_start_at_the_earliest_request() {
        let trace = Trace::parse("timestamp_ms,input_length\n3000,1\n1000,2\n").unwrap();
        assert_eq!(trace.format, TraceFormat::Mooncake);
        assert_eq!(trace.offsets, ms(&[0, 2000]));
    }
}
