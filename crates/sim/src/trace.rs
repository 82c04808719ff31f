//! Reading request traces (`--trace FILE`).
//!
//! The format is recognised from the CSV header:
//!
//! - **requests**: a time column and optionally token columns, one row per request.
//!   Time: `timestamp_ms` (milliseconds), `timestamp`/`time`/`t`/`seconds` (seconds, or a
//!   wall-clock `YYYY-MM-DD HH:MM:SS.fffffff` as in the Azure LLM traces, taken relative to the
//!   first row). Tokens: `ContextTokens`/`input_length`/`input_tokens`/`prompt_tokens` and
//!   `GeneratedTokens`/`output_length`/`output_tokens`/`completion_tokens`. This covers the
//!   Azure LLM inference traces and the Mooncake traces as published.
//! - **rates**: a time column (seconds) and a `rate`/`rps` column: requests per second from that
//!   time until the next row; arrivals are drawn as a Poisson process at that rate.
//! - **plain timestamps**: no header, one number (seconds) per line.

use std::path::Path;

/// Why a trace could not be read. Carries the file and line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TraceError {
    /// The file could not be read.
    #[error("cannot read {file}: {error}")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        error: String,
    },
    /// A line is wrong.
    #[error("{file}:{line}: {message}")]
    Line {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong and what would be valid.
        message: String,
    },
}

/// One recorded request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TracedRequest {
    /// Arrival, ns from the start of the trace.
    pub at_ns: i64,
    /// Prompt tokens, if the trace has them.
    pub input_tokens: u32,
    /// Output tokens, if the trace has them.
    pub output_tokens: u32,
}

/// A trace of individual requests.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTrace {
    /// Requests in arrival order.
    pub requests: Vec<TracedRequest>,
    /// Whether the token columns were present.
    pub has_tokens: bool,
}

/// What a trace file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceFile {
    /// Individual requests.
    Requests(RequestTrace),
    /// A rate per interval: `(start s, requests per second)` in time order.
    Rates(Vec<(f64, f64)>),
}

impl TraceFile {
    /// Reads and parses a trace file.
    pub fn load(path: &Path) -> Result<TraceFile, TraceError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| TraceError::Io {
            file: file.clone(),
            error: e.to_string(),
        })?;
        TraceFile::parse(&text, &file)
    }

    /// Parses trace text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<TraceFile, TraceError> {
        let err = |line: usize, message: String| TraceError::Line {
            file: file.to_string(),
            line,
            message,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        let Some((first_no, first)) = lines.next() else {
            return Err(err(1, "the trace is empty".into()));
        };
        let cells: Vec<&str> = first.split(',').map(str::trim).collect();
        let is_header = cells.iter().any(|c| c.parse::<f64>().is_err());
        if !is_header {
            // Plain timestamps, one per line.
            if cells.len() != 1 {
                return Err(err(
                    first_no,
                    "a trace without a header must have one number (seconds) per line; add a header such as `timestamp,input_tokens,output_tokens` to give more columns".into(),
                ));
            }
            let columns = Columns {
                time: Some((0, TimeUnit::Seconds)),
                ..Columns::default()
            };
            return read_requests(
                std::iter::once((first_no, first)).chain(lines),
                &columns,
                file,
            );
        }
        let columns = Columns::from_header(&cells).map_err(|m| err(first_no, m))?;
        if let Some(rate) = columns.rate {
            return read_rates(lines, &columns, rate, file);
        }
        read_requests(lines, &columns, file)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TimeUnit {
    Seconds,
    Millis,
}

#[derive(Debug, Default)]
struct Columns {
    time: Option<(usize, TimeUnit)>,
    input: Option<usize>,
    output: Option<usize>,
    rate: Option<usize>,
    width: usize,
}

impl Columns {
    fn from_header(cells: &[&str]) -> Result<Columns, String> {
        let mut c = Columns {
            width: cells.len(),
            ..Columns::default()
        };
        for (i, name) in cells.iter().enumerate() {
            match name.to_ascii_lowercase().as_str() {
                "timestamp_ms" | "time_ms" => c.time = Some((i, TimeUnit::Millis)),
                "timestamp" | "time" | "t" | "seconds" | "second" | "timestamp_s" => {
                    c.time = Some((i, TimeUnit::Seconds))
                }
                "contexttokens" | "input_length" | "input_tokens" | "prompt_tokens" => {
                    c.input = Some(i)
                }
                "generatedtokens" | "output_length" | "output_tokens" | "completion_tokens" => {
                    c.output = Some(i)
                }
                "rate" | "rps" | "requests_per_second" => c.rate = Some(i),
                _ => {}
            }
        }
        if c.time.is_none() {
            return Err(format!(
                "no time column in the header {:?}: name one `timestamp` (seconds or YYYY-MM-DD HH:MM:SS), `timestamp_ms`, or `time`",
                cells.join(",")
            ));
        }
        Ok(c)
    }
}

fn read_requests<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
    columns: &Columns,
    file: &str,
) -> Result<TraceFile, TraceError> {
    let err = |line: usize, message: String| TraceError::Line {
        file: file.to_string(),
        line,
        message,
    };
    let (time_col, unit) = columns.time.unwrap_or((0, TimeUnit::Seconds));
    let mut raw: Vec<(i64, u32, u32)> = Vec::new();
    let mut wall_clock: Option<bool> = None;
    for (no, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if columns.width > 0 && cells.len() < columns.width {
            return Err(err(
                no,
                format!("expected {} columns, found {}", columns.width, cells.len()),
            ));
        }
        let cell = cells.get(time_col).copied().unwrap_or_default();
        let (ns, is_wall) = match cell.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => {
                let scale = match unit {
                    TimeUnit::Seconds => 1e9,
                    TimeUnit::Millis => 1e6,
                };
                ((v * scale).round() as i64, false)
            }
            Ok(_) => return Err(err(no, format!("time {cell:?} must be a number ≥ 0"))),
            Err(_) => match parse_wall_clock(cell) {
                Some(ns) if unit == TimeUnit::Seconds => (ns, true),
                _ => {
                    return Err(err(
                        no,
                        format!(
                            "invalid time {cell:?}: expected seconds (12.5), or a date and time like 2023-11-16 18:17:03.97"
                        ),
                    ));
                }
            },
        };
        if *wall_clock.get_or_insert(is_wall) != is_wall {
            return Err(err(
                no,
                "mixes numeric times and dates in one column".to_string(),
            ));
        }
        let tokens = |col: Option<usize>, name: &str| -> Result<u32, TraceError> {
            let Some(col) = col else { return Ok(0) };
            let cell = cells.get(col).copied().unwrap_or_default();
            cell.parse::<u32>().map_err(|_| {
                err(
                    no,
                    format!("{name} tokens {cell:?} must be a whole number ≥ 0"),
                )
            })
        };
        raw.push((
            ns,
            tokens(columns.input, "input")?,
            tokens(columns.output, "output")?,
        ));
    }
    if raw.is_empty() {
        return Err(err(1, "the trace has no requests".into()));
    }
    raw.sort_by_key(|r| r.0);
    // Wall-clock traces start at their first request.
    let origin = if wall_clock == Some(true) {
        raw[0].0
    } else {
        0
    };
    Ok(TraceFile::Requests(RequestTrace {
        requests: raw
            .into_iter()
            .map(|(ns, i, o)| TracedRequest {
                at_ns: ns - origin,
                input_tokens: i,
                output_tokens: o,
            })
            .collect(),
        has_tokens: columns.input.is_some() || columns.output.is_some(),
    }))
}

fn read_rates<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
    columns: &Columns,
    rate_col: usize,
    file: &str,
) -> Result<TraceFile, TraceError> {
    let err = |line: usize, message: String| TraceError::Line {
        file: file.to_string(),
        line,
        message,
    };
    let (time_col, unit) = columns.time.unwrap_or((0, TimeUnit::Seconds));
    let mut rows = Vec::new();
    for (no, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let number = |col: usize, what: &str| -> Result<f64, TraceError> {
            let cell = cells.get(col).copied().unwrap_or_default();
            cell.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| err(no, format!("{what} {cell:?} must be a number ≥ 0")))
        };
        let t = number(time_col, "time")?
            * match unit {
                TimeUnit::Seconds => 1.0,
                TimeUnit::Millis => 1e-3,
            };
        rows.push((t, number(rate_col, "rate")?));
    }
    if rows.is_empty() {
        return Err(err(1, "the rate file has no rows".into()));
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(TraceFile::Rates(rows))
}

/// `YYYY-MM-DD HH:MM:SS[.fffffffff]` → ns since 1970 (UTC; only differences matter).
fn parse_wall_clock(s: &str) -> Option<i64> {
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
    if t.next().is_some() || h > 23 || min > 59 || sec > 60 {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_ns = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>().ok()? * 10i64.pow(9 - frac.len() as u32)
    };
    let days = days_from_civil(y, m, day);
    Some(((days * 86_400 + h * 3600 + min * 60 + sec) * 1_000_000_000) + frac_ns)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests(text: &str) -> RequestTrace {
        match TraceFile::parse(text, "t.csv").unwrap() {
            TraceFile::Requests(r) => r,
            TraceFile::Rates(_) => panic!("expected requests"),
        }
    }

    #[test]
    fn azure_format_is_relative_to_the_first_row() {
        let t = requests(
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04.0319600,3180,8\n2023-11-17 00:00:00,1,2\n",
        );
        assert!(t.has_tokens);
        assert_eq!(t.requests[0].at_ns, 0);
        assert_eq!(t.requests[1].at_ns, 52_000_000);
        assert_eq!(t.requests[1].input_tokens, 3180);
        assert_eq!(t.requests[1].output_tokens, 8);
        // Across midnight: 5h42m56.02004s after the first.
        assert_eq!(t.requests[2].at_ns, 20_576_020_040_000);
    }

    #[test]
    fn mooncake_format_in_milliseconds_is_sorted() {
        let t = requests(
            "timestamp_ms,input_length,output_length,num_prefix_blocks\n3000,10,5,1\n0,6758,500,14\n",
        );
        assert_eq!(t.requests[0].at_ns, 0);
        assert_eq!(t.requests[0].input_tokens, 6758);
        assert_eq!(t.requests[1].at_ns, 3_000_000_000);
    }

    #[test]
    fn plain_timestamps_and_rates() {
        let t = requests("0.5\n1.25\n# a comment\n\n3\n");
        assert!(!t.has_tokens);
        let at: Vec<i64> = t.requests.iter().map(|r| r.at_ns).collect();
        assert_eq!(at, [500_000_000, 1_250_000_000, 3_000_000_000]);
        match TraceFile::parse("time,rate\n0,5\n60,20\n", "r.csv").unwrap() {
            TraceFile::Rates(rows) => assert_eq!(rows, [(0.0, 5.0), (60.0, 20.0)]),
            TraceFile::Requests(_) => panic!("expected rates"),
        }
    }

    #[test]
    fn errors_carry_file_and_line() {
        let e = TraceFile::parse("timestamp,input_tokens\n1,5\nsoon,3\n", "x.csv").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.csv:3: invalid time \"soon\": expected seconds (12.5), or a date and time like 2023-11-16 18:17:03.97"
        );
        let e = TraceFile::parse("when,what\n1,2\n", "x.csv").unwrap_err();
        assert!(e.to_string().starts_with("x.csv:1: no time column"), "{e}");
        let e = TraceFile::parse("1,2\n", "x.csv").unwrap_err();
        assert!(e.to_string().contains("add a header"), "{e}");
        let e = TraceFile::parse("time,input_tokens\n1,-3\n", "x.csv").unwrap_err();
        assert!(e.to_string().contains("whole number"), "{e}");
        let e = TraceFile::parse("", "x.csv").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(
            parse_wall_clock("2023-11-16 18:17:03"),
            Some(1_700_158_623_000_000_000)
        );
        assert_eq!(parse_wall_clock("2023-13-16 18:17:03"), None);
    }
}
