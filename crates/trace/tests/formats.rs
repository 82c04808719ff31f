//! Every trace format, its edge cases and its errors, through the public API.

use std::time::Duration;

use ebb_trace::{ReadError, RequestTrace, TraceError, TraceFile, TraceFormat};

fn requests(text: &str) -> RequestTrace {
    match ebb_trace::parse(text).unwrap() {
        TraceFile::Requests(r) => r,
        TraceFile::Rates(_) => panic!("expected requests"),
    }
}

/// Arrivals from the first request, as replay uses them.
fn offsets(trace: &RequestTrace) -> Vec<Duration> {
    let first = trace.requests[0].at_ns;
    trace
        .requests
        .iter()
        .map(|r| Duration::from_nanos((r.at_ns - first) as u64))
        .collect()
}

fn ms(list: &[u64]) -> Vec<Duration> {
    list.iter().map(|&m| Duration::from_millis(m)).collect()
}

/// Parses as a file named `file` would be read.
fn parse_in(text: &str, file: &str) -> Result<TraceFile, ReadError> {
    ebb_trace::parse(text).map_err(|e| e.in_file(file))
}

#[test]
fn azure_timestamps_become_offsets_across_midnight() {
    let text = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
                2023-11-16 23:59:59.9000000,4808,10\n\
                2023-11-17 00:00:00.1500000,3180,8\n\
                2023-11-17 00:00:01.9000000,110,27\n";
    let trace = requests(text);
    assert_eq!(trace.format, TraceFormat::AzureLlm);
    assert_eq!(offsets(&trace), ms(&[0, 250, 2000]));
}

#[test]
fn azure_format_is_relative_to_the_first_row() {
    let t = requests(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04.0319600,3180,8\n2023-11-17 00:00:00,1,2\n",
    );
    assert!(t.has_tokens());
    assert_eq!(t.requests[0].at_ns, 0);
    assert_eq!(t.requests[1].at_ns, 52_000_000);
    assert_eq!(t.requests[1].input_tokens, Some(3180));
    assert_eq!(t.requests[1].output_tokens, Some(8));
    // Across midnight: 5h42m56.02004s after the first.
    assert_eq!(t.requests[2].at_ns, 20_576_020_040_000);
}

#[test]
fn mooncake_milliseconds_and_sorting() {
    let text = "timestamp_ms,input_length,output_length,num_prefix_blocks\n\
                3000,6758,500,14\n0,7322,490,15\n40,1,1,1\n";
    let trace = requests(text);
    assert_eq!(trace.format, TraceFormat::Mooncake);
    assert_eq!(offsets(&trace), ms(&[0, 40, 3000]));
}

#[test]
fn mooncake_format_in_milliseconds_is_sorted() {
    let t = requests(
        "timestamp_ms,input_length,output_length,num_prefix_blocks\n3000,10,5,1\n0,6758,500,14\n",
    );
    assert_eq!(t.requests[0].at_ns, 0);
    assert_eq!(t.requests[0].input_tokens, Some(6758));
    assert_eq!(t.requests[1].at_ns, 3_000_000_000);
}

#[test]
fn plain_lines_take_seconds_or_durations() {
    let text = "# recorded arrivals\n100.5\n\n101\n1m42s\n100500ms\n";
    let trace = requests(text);
    assert_eq!(trace.format, TraceFormat::Plain);
    assert_eq!(offsets(&trace), ms(&[0, 0, 500, 1500]));
}

#[test]
fn plain_timestamps_and_rates() {
    let t = requests("0.5\n1.25\n# a comment\n\n3\n");
    assert!(!t.has_tokens());
    let at: Vec<i64> = t.requests.iter().map(|r| r.at_ns).collect();
    assert_eq!(at, [500_000_000, 1_250_000_000, 3_000_000_000]);
    match ebb_trace::parse("time,rate\n0,5\n60,20\n").unwrap() {
        TraceFile::Rates(rows) => assert_eq!(rows, [(0.0, 5.0), (60.0, 20.0)]),
        TraceFile::Requests(_) => panic!("expected rates"),
    }
}

#[test]
fn a_csv_in_seconds_keeps_its_own_zero() {
    let t = requests("timestamp,input_tokens,output_tokens\n2,10,1\n0.5,20,2\n");
    assert_eq!(t.format, TraceFormat::Csv);
    let at: Vec<i64> = t.requests.iter().map(|r| r.at_ns).collect();
    assert_eq!(at, [500_000_000, 2_000_000_000]);
    assert_eq!(t.requests[0].input_tokens, Some(20));
}

#[test]
fn errors_name_the_line() {
    let text =
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,1,1\nyesterday,1,1\n";
    let e = ebb_trace::parse(text).unwrap_err();
    assert_eq!(
        e,
        TraceError::Line {
            line: 3,
            message: "invalid TIMESTAMP \"yesterday\": expected YYYY-MM-DD HH:MM:SS.fffffff".into()
        }
    );
    let e = ebb_trace::parse("1.5\n-3\n").unwrap_err();
    assert!(e.to_string().starts_with("line 2:"), "{e}");
    assert_eq!(ebb_trace::parse("# nothing\n\n"), Err(TraceError::Empty));
    assert_eq!(
        ebb_trace::parse("timestamp_ms,input_length\n"),
        Err(TraceError::Empty)
    );
    let e = ebb_trace::parse("timestamp_ms,input_length\n0,1\nsoon,2\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3: invalid timestamp_ms \"soon\": expected milliseconds like 3536"
    );
}

#[test]
fn errors_carry_file_and_line() {
    let e = parse_in("timestamp,input_tokens\n1,5\nsoon,3\n", "x.csv").unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.csv:3: invalid time \"soon\": expected seconds (12.5), or a date and time like 2023-11-16 18:17:03.97"
    );
    let e = parse_in("when,what\n1,2\n", "x.csv").unwrap_err();
    assert!(e.to_string().starts_with("x.csv:1: no time column"), "{e}");
    let e = parse_in("1,2\n", "x.csv").unwrap_err();
    assert!(e.to_string().contains("add a header"), "{e}");
    let e = parse_in("time,input_tokens\n1,-3\n", "x.csv").unwrap_err();
    assert!(e.to_string().contains("whole number"), "{e}");
    let e = parse_in("", "x.csv").unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn rows_must_be_complete_and_columns_of_one_kind() {
    let e = ebb_trace::parse("timestamp,input_tokens\n1\n").unwrap_err();
    assert_eq!(e.to_string(), "line 2: expected 2 columns, found 1");
    let e = ebb_trace::parse("timestamp\n1\n2023-11-16 18:17:03\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3: mixes numeric times and dates in one column"
    );
    let e = ebb_trace::parse("time,rate\n0,5\n60,-1\n").unwrap_err();
    assert_eq!(e.to_string(), "line 3: rate \"-1\" must be a number ≥ 0");
    let e = ebb_trace::parse("time,rate\n").unwrap_err();
    assert_eq!(e.to_string(), "line 1: the rate file has no rows");
}

#[test]
fn a_rate_file_is_not_a_trace_of_requests() {
    let e = ebb_trace::parse_requests("# rates\ntime,rps\n0,5\n").unwrap_err();
    assert!(e.to_string().starts_with("line 2: a rate column"), "{e}");
    assert_eq!(
        ebb_trace::parse_requests("0\n1.5\n")
            .unwrap()
            .requests
            .len(),
        2
    );
}

#[test]
fn files_are_read_and_named_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "timestamp_ms\n5\n0\n").unwrap();
    match ebb_trace::read(&path).unwrap() {
        TraceFile::Requests(t) => assert_eq!(t.requests[1].at_ns, 5_000_000),
        TraceFile::Rates(_) => panic!("expected requests"),
    }
    let missing = dir.path().join("missing.csv");
    let e = ebb_trace::read(&missing).unwrap_err();
    assert!(e.to_string().starts_with("cannot read "), "{e}");
    std::fs::write(&path, "# only a comment\n").unwrap();
    let e = ebb_trace::read(&path).unwrap_err();
    assert_eq!(
        e,
        ReadError::Empty {
            file: path.display().to_string()
        }
    );
}
