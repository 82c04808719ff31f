//! Request traces to replay: when each recorded request arrived.
//!
//! Three formats, told apart by their first line:
//! - Azure LLM inference CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`), wall-clock times
//!   `YYYY-MM-DD HH:MM:SS.fffffff` without a zone, used as relative times;
//! - Mooncake CSV (`timestamp_ms,input_length,...`), milliseconds from the trace start;
//! - plain text, one timestamp per line: seconds (`12.5`) or a Go duration (`1500ms`, `2m3s`);
//!   blank lines and lines starting with `#` are skipped.
//!
//! Only arrival times matter for replay; token columns are read past. Offsets are relative to
//! the earliest request and sorted, so the first request is due at once.

use std::time::Duration;

use crate::civil::days_from_civil;

/// Reads the timestamp column of one line, in nanoseconds.
type ParseLine = fn(&str) -> Result<i128, String>;

/// A trace that cannot be read, with the line at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TraceError {
    /// One line could not be parsed.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The trace holds no request.
    #[error(
        "the trace has no requests: expected an Azure LLM CSV (TIMESTAMP,...), a Mooncake CSV (timestamp_ms,...) or one timestamp per line"
    )]
    Empty,
    /// `--speed` is not a positive number.
    #[error("invalid speed {0}: use a positive factor such as 2.0 (twice as fast) or 0.5")]
    Speed(f64),
}

/// Which format a trace was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    /// Azure LLM inference trace CSV.
    AzureLlm,
    /// Mooncake trace CSV.
    Mooncake,
    /// One timestamp per line.
    Plain,
}

impl std::fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TraceFormat::AzureLlm => "Azure LLM CSV",
            TraceFormat::Mooncake => "Mooncake CSV",
            TraceFormat::Plain => "timestamps",
        })
    }
}

/// Arrival offsets of a trace, sorted, relative to its first request.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The format the file was read as.
    pub format: TraceFormat,
    /// When each request arrived, from the first one.
    pub offsets: Vec<Duration>,
}

impl Trace {
    /// Parses a trace in any of the supported formats.
    pub fn parse(text: &str) -> Result<Trace, TraceError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
            .peekable();
        let header = lines.peek().map(|(_, l)| l.to_ascii_lowercase());
        let (format, parse_line): (TraceFormat, ParseLine) = match header.as_deref() {
            Some(h) if h.starts_with("timestamp,") || h == "timestamp" => {
                (TraceFormat::AzureLlm, azure_nanos)
            }
            Some(h) if h.starts_with("timestamp_ms") => (TraceFormat::Mooncake, mooncake_nanos),
            _ => (TraceFormat::Plain, plain_nanos),
        };
        if format != TraceFormat::Plain {
            lines.next(); // the header
        }
        let mut nanos = Vec::new();
        for (line, text) in lines {
            let first = text.split(',').next().unwrap_or_default().trim();
            let value = parse_line(first).map_err(|message| TraceError::Line { line, message })?;
            nanos.push(value);
        }
        let Some(&earliest) = nanos.iter().min() else {
            return Err(TraceError::Empty);
        };
        // Traces are recorded in arrival order, but a merged file may not be: replay by time.
        nanos.sort_unstable();
        let offsets = nanos
            .into_iter()
            .map(|n| Duration::from_nanos(u64::try_from(n - earliest).unwrap_or(u64::MAX)))
            .collect();
        Ok(Trace { format, offsets })
    }

    /// Keeps only the first `limit` requests.
    pub fn limit(mut self, limit: usize) -> Trace {
        self.offsets.truncate(limit);
        self
    }

    /// Replays `speed` times faster (2.0 halves every offset).
    pub fn speed(mut self, speed: f64) -> Result<Trace, TraceError> {
        if !speed.is_finite() || speed <= 0.0 {
            return Err(TraceError::Speed(speed));
        }
        for offset in &mut self.offsets {
            *offset =
                Duration::try_from_secs_f64(offset.as_secs_f64() / speed).unwrap_or(Duration::MAX);
        }
        Ok(self)
    }
}

/// `2023-11-16 18:17:03.9799600` → nanoseconds since the Unix epoch (the zone is irrelevant:
/// only differences are used).
fn azure_nanos(text: &str) -> Result<i128, String> {
    let bad = || format!("invalid TIMESTAMP {text:?}: expected YYYY-MM-DD HH:MM:SS.fffffff");
    let (date, time) = text.split_once([' ', 'T']).ok_or_else(bad)?;
    let mut d = date.splitn(3, '-');
    let mut number = |max: u32| -> Result<u32, String> {
        let n: u32 = d.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
        if n > max { Err(bad()) } else { Ok(n) }
    };
    let (year, month, day) = (number(9999)?, number(12)?, number(31)?);
    if month == 0 || day == 0 {
        return Err(bad());
    }
    let mut t = time.splitn(3, ':');
    let hours: u32 = t.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let minutes: u32 = t.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let seconds = t.next().ok_or_else(bad)?.trim_end_matches('Z');
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let whole: u32 = whole.parse().map_err(|_| bad())?;
    if hours > 23 || minutes > 59 || whole > 60 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // Nanoseconds from up to nine fraction digits; further digits are below resolution.
    let fraction_nanos = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0i128, |acc, b| acc * 10 + i128::from(b - b'0'));
    let days = i128::from(days_from_civil(i64::from(year), month, day));
    let secs = days * 86_400 + i128::from(hours * 3600 + minutes * 60 + whole);
    Ok(secs * 1_000_000_000 + fraction_nanos)
}

/// Mooncake's `timestamp_ms` column (an integer, sometimes written as a float).
fn mooncake_nanos(text: &str) -> Result<i128, String> {
    let ms: f64 = text
        .parse()
        .map_err(|_| format!("invalid timestamp_ms {text:?}: expected milliseconds like 3536"))?;
    if !ms.is_finite() || ms < 0.0 {
        return Err(format!(
            "invalid timestamp_ms {text:?}: expected non-negative milliseconds"
        ));
    }
    Ok((ms * 1e6) as i128)
}

/// Seconds (`12.5`) or a Go duration (`1500ms`).
fn plain_nanos(text: &str) -> Result<i128, String> {
    let bad = || {
        format!("invalid timestamp {text:?}: expected seconds (12.5) or a duration (1500ms, 2m3s)")
    };
    if let Ok(seconds) = text.parse::<f64>() {
        return if seconds.is_finite() && seconds >= 0.0 {
            Ok((seconds * 1e9) as i128)
        } else {
            Err(bad())
        };
    }
    ebb_core::units::parse_duration(text)
        .map(|d| d.as_nanos() as i128)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(list: &[u64]) -> Vec<Duration> {
        list.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn azure_timestamps_become_offsets_across_midnight() {
        let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                    2023-11-16 23:59:59.9000000,4808,10\n\
                    2023-11-17 00:00:00.1500000,3180,8\n\
                    2023-11-17 00:00:01.9000000,110,27\n";
        let trace = Trace::parse(text).unwrap();
        assert_eq!(trace.format, TraceFormat::AzureLlm);
        assert_eq!(trace.offsets, ms(&[0, 250, 2000]));
    }

    #[test]
    fn mooncake_milliseconds_and_sorting() {
        let text = "timestamp_ms,input_length,output_length,num_prefix_blocks\n\
                    3000,6758,500,14\n0,7322,490,15\n40,1,1,1\n";
        let trace = Trace::parse(text).unwrap();
        assert_eq!(trace.format, TraceFormat::Mooncake);
        assert_eq!(trace.offsets, ms(&[0, 40, 3000]));
    }

    #[test]
    fn plain_lines_take_seconds_or_durations() {
        let text = "# recorded arrivals\n100.5\n\n101\n1m42s\n100500ms\n";
        let trace = Trace::parse(text).unwrap();
        assert_eq!(trace.format, TraceFormat::Plain);
        assert_eq!(trace.offsets, ms(&[0, 0, 500, 1500]));
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
    fn errors_name_the_line() {
        let text =
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,1,1\nyesterday,1,1\n";
        let e = Trace::parse(text).unwrap_err();
        assert_eq!(
            e,
            TraceError::Line {
                line: 3,
                message: "invalid TIMESTAMP \"yesterday\": expected YYYY-MM-DD HH:MM:SS.fffffff"
                    .into()
            }
        );
        let e = Trace::parse("1.5\n-3\n").unwrap_err();
        assert!(e.to_string().starts_with("line 2:"), "{e}");
        assert_eq!(Trace::parse("# nothing\n\n"), Err(TraceError::Empty));
        assert_eq!(
            Trace::parse("timestamp_ms,input_length\n"),
            Err(TraceError::Empty)
        );
    }
}
