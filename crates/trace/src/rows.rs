//! The rows after the header: requests, or rates.

use crate::columns::Columns;
use crate::time::{Time, TimeColumn, Unit};
use crate::{Request, RequestTrace, TraceError, TraceFile, TraceFormat};

/// The cells of a line, trimmed.
pub(crate) fn cells(line: &str) -> Vec<&str> {
    line.split(',').map(str::trim).collect()
}

fn error(line: usize, message: String) -> TraceError {
    TraceError::Line { line, message }
}

/// One request per row.
pub(crate) fn requests<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
    columns: &Columns,
) -> Result<TraceFile, TraceError> {
    let mut raw: Vec<(i128, Option<u32>, Option<u32>)> = Vec::new();
    // Whether the time column holds dates, once the first row said so.
    let mut dates: Option<bool> = None;
    for (no, line) in lines {
        let cells = cells(line);
        if cells.len() < columns.width {
            return Err(error(
                no,
                format!("expected {} columns, found {}", columns.width, cells.len()),
            ));
        }
        let cell = cells.get(columns.time.index).copied().unwrap_or_default();
        let (ns, is_date) = match columns.time.read(cell, dates).map_err(|m| error(no, m))? {
            Time::Offset(ns) => (ns, false),
            Time::Wall(ns) => (ns, true),
        };
        if *dates.get_or_insert(is_date) != is_date {
            return Err(error(
                no,
                "mixes numeric times and dates in one column".to_string(),
            ));
        }
        let tokens = |col: Option<usize>, name: &str| -> Result<Option<u32>, TraceError> {
            let Some(col) = col else { return Ok(None) };
            let cell = cells.get(col).copied().unwrap_or_default();
            cell.parse::<u32>().map(Some).map_err(|_| {
                error(
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
    // Traces are recorded in arrival order, but a merged file may not be.
    raw.sort_by_key(|r| r.0);
    let Some(&(earliest, _, _)) = raw.first() else {
        return Err(TraceError::Empty);
    };
    // Wall-clock traces start at their first request; numeric ones at their own zero.
    let origin = if dates == Some(true) { earliest } else { 0 };
    let format = match (columns.time.unit, dates) {
        (Unit::Plain, _) => TraceFormat::Plain,
        (Unit::Millis, _) => TraceFormat::Mooncake,
        (Unit::Seconds, Some(true)) => TraceFormat::AzureLlm,
        (Unit::Seconds, _) => TraceFormat::Csv,
    };
    let requests = raw
        .into_iter()
        .map(|(ns, input_tokens, output_tokens)| Request {
            at_ns: i64::try_from(ns - origin).unwrap_or(i64::MAX),
            input_tokens,
            output_tokens,
        })
        .collect();
    Ok(TraceFile::Requests(RequestTrace { format, requests }))
}

/// `(start s, requests per second)` per row, in time order.
pub(crate) fn rates<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
    time: &TimeColumn,
    rate: usize,
    header_line: usize,
) -> Result<TraceFile, TraceError> {
    let mut rows = Vec::new();
    for (no, line) in lines {
        let cells = cells(line);
        let number = |col: usize, what: &str| -> Result<f64, TraceError> {
            let cell = cells.get(col).copied().unwrap_or_default();
            cell.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| error(no, format!("{what} {cell:?} must be a number ≥ 0")))
        };
        let seconds_per_unit = match time.unit {
            Unit::Millis => 1e-3,
            Unit::Seconds | Unit::Plain => 1.0,
        };
        rows.push((
            number(time.index, "time")? * seconds_per_unit,
            number(rate, "rate")?,
        ));
    }
    if rows.is_empty() {
        return Err(error(header_line, "the rate file has no rows".into()));
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(TraceFile::Rates(rows))
}
