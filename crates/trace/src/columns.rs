//! Which column holds what, from a CSV header (or the one column of a headerless trace).

use crate::time::{TimeColumn, Unit};

/// The columns a trace is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    pub(crate) time: TimeColumn,
    pub(crate) input: Option<usize>,
    pub(crate) output: Option<usize>,
    /// Requests per second (a rate file, not a trace of requests).
    pub(crate) rate: Option<usize>,
    /// How many cells a row must have (0: any).
    pub(crate) width: usize,
}

impl Columns {
    /// A headerless trace: one timestamp per line.
    pub(crate) fn plain() -> Columns {
        Columns {
            time: TimeColumn {
                index: 0,
                name: "timestamp".into(),
                unit: Unit::Plain,
            },
            input: None,
            output: None,
            rate: None,
            width: 0,
        }
    }

    /// The columns a header names; an error when it names no time column.
    pub(crate) fn from_header(cells: &[&str]) -> Result<Columns, String> {
        let mut time = None;
        let (mut input, mut output, mut rate) = (None, None, None);
        for (index, name) in cells.iter().enumerate() {
            let column = |unit| {
                Some(TimeColumn {
                    index,
                    name: name.to_string(),
                    unit,
                })
            };
            match name.to_ascii_lowercase().as_str() {
                "timestamp_ms" | "time_ms" => time = column(Unit::Millis),
                "timestamp" | "time" | "t" | "seconds" | "second" | "timestamp_s" => {
                    time = column(Unit::Seconds)
                }
                "contexttokens" | "input_length" | "input_tokens" | "prompt_tokens" => {
                    input = Some(index)
                }
                "generatedtokens" | "output_length" | "output_tokens" | "completion_tokens" => {
                    output = Some(index)
                }
                "rate" | "rps" | "requests_per_second" => rate = Some(index),
                _ => {}
            }
        }
        let Some(time) = time else {
            return Err(format!(
                "no time column in the header {:?}: name one `timestamp` (seconds or YYYY-MM-DD HH:MM:SS), `timestamp_ms`, or `time`",
                cells.join(",")
            ));
        };
        Ok(Columns {
            time,
            input,
            output,
            rate,
            width: cells.len(),
        })
    }
}
