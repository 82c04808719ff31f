//! Request traces: when each recorded request arrived, and how many tokens it carried.
//!
//! The one reader behind `ebb load --trace` (replay) and `ebb sim --trace` (simulation). The
//! format is told from the first line; blank lines and lines starting with `#` are skipped.
//!
//! - **A CSV header** names the columns. The time column is `timestamp_ms`/`time_ms`
//!   (milliseconds) or `timestamp`/`time`/`t`/`seconds` (seconds, or wall-clock dates
//!   `YYYY-MM-DD HH:MM:SS.fffffff` without a zone, taken relative to the earliest request).
//!   Token columns are optional: `ContextTokens`/`input_length`/`input_tokens`/`prompt_tokens`
//!   and `GeneratedTokens`/`output_length`/`output_tokens`/`completion_tokens`. This reads the
//!   Azure LLM inference traces (`TIMESTAMP,ContextTokens,GeneratedTokens`) and the Mooncake
//!   traces (`timestamp_ms,input_length,output_length,...`) as published.
//! - **A rate file** is a header with a time column (seconds) and a `rate`/`rps` column:
//!   requests per second from that time until the next row ([`TraceFile::Rates`]).
//! - **No header**: one timestamp per line, seconds (`12.5`) or a Go duration (`1500ms`).
//!
//! Requests come out in arrival order. Numeric times are kept as written (from the trace's own
//! start); wall-clock times are made relative to the earliest request.

pub mod civil;
mod columns;
mod rows;
mod time;

use std::path::Path;

use columns::Columns;

/// A trace that cannot be read, with the line at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TraceError {
    /// One line could not be read.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The trace holds no request.
    #[error(
        "the trace is empty (no requests): expected an Azure LLM CSV (TIMESTAMP,...), a Mooncake CSV (timestamp_ms,...), a CSV with a time column, or one timestamp per line"
    )]
    Empty,
}

impl TraceError {
    /// The same error, naming the file it is in.
    pub fn in_file(self, file: impl Into<String>) -> ReadError {
        let file = file.into();
        match self {
            TraceError::Line { line, message } => ReadError::Line {
                file,
                line,
                message,
            },
            TraceError::Empty => ReadError::Empty { file },
        }
    }
}

/// A trace file that cannot be read, named as `file:line: what is wrong`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read {file}: {error}")]
    Io {
        /// The file.
        file: String,
        /// The operating system's reason.
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
    /// The file holds no request.
    #[error("{file}: {}", TraceError::Empty)]
    Empty {
        /// The file.
        file: String,
    },
}

/// Which format a trace was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    /// A header and wall-clock dates, as in the Azure LLM inference traces.
    AzureLlm,
    /// A header and milliseconds, as in the Mooncake traces.
    Mooncake,
    /// A header and seconds.
    Csv,
    /// One timestamp per line, no header.
    Plain,
}

impl std::fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TraceFormat::AzureLlm => "Azure LLM CSV",
            TraceFormat::Mooncake => "Mooncake CSV",
            TraceFormat::Csv => "CSV",
            TraceFormat::Plain => "timestamps",
        })
    }
}

/// One recorded request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Arrival, ns from the start of the trace.
    pub at_ns: i64,
    /// Prompt tokens, when the trace has the column.
    pub input_tokens: Option<u32>,
    /// Output tokens, when the trace has the column.
    pub output_tokens: Option<u32>,
}

/// A trace of individual requests.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTrace {
    /// The format it was read as.
    pub format: TraceFormat,
    /// Requests in arrival order (never empty).
    pub requests: Vec<Request>,
}

impl RequestTrace {
    /// Whether the trace has a token column (every request then has its count).
    pub fn has_tokens(&self) -> bool {
        self.requests
            .first()
            .is_some_and(|r| r.input_tokens.is_some() || r.output_tokens.is_some())
    }
}

/// What a trace file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceFile {
    /// Individual requests.
    Requests(RequestTrace),
    /// A rate per interval: `(start s, requests per second)` in time order.
    Rates(Vec<(f64, f64)>),
}

/// Reads trace text in any of the formats.
pub fn parse(text: &str) -> Result<TraceFile, TraceError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .peekable();
    let Some(&(first_no, first)) = lines.peek() else {
        return Err(TraceError::Empty);
    };
    let line_error = |message| TraceError::Line {
        line: first_no,
        message,
    };
    let cells = rows::cells(first);
    if cells.iter().all(|c| time::is_plain_time(c)) {
        if cells.len() != 1 {
            return Err(line_error(
                "a trace without a header must have one number (seconds) per line; add a header such as `timestamp,input_tokens,output_tokens` to give more columns".into(),
            ));
        }
        return rows::requests(lines, &Columns::plain());
    }
    let columns = Columns::from_header(&cells).map_err(line_error)?;
    lines.next(); // the header
    if let Some(rate) = columns.rate {
        return rows::rates(lines, &columns.time, rate, first_no);
    }
    rows::requests(lines, &columns)
}

/// Reads trace text that must hold requests (a rate file is an error).
pub fn parse_requests(text: &str) -> Result<RequestTrace, TraceError> {
    match parse(text)? {
        TraceFile::Requests(trace) => Ok(trace),
        TraceFile::Rates(_) => {
            let header = text
                .lines()
                .position(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
                .map_or(1, |i| i + 1);
            Err(TraceError::Line {
                line: header,
                message: "a rate column (rate, rps) makes this a rate file: it gives requests per second, not the requests themselves; give a trace with one row per request".into(),
            })
        }
    }
}

/// Reads and parses a trace file; errors name the file.
pub fn read(path: &Path) -> Result<TraceFile, ReadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ReadError::Io {
        file: file.clone(),
        error: e.to_string(),
    })?;
    parse(&text).map_err(|e| e.in_file(file))
}
