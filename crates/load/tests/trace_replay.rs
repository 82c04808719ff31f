//! Trace replay against a real server on 127.0.0.1: requests arrive at the recorded offsets,
//! scaled by `--speed`, for every supported trace format.

mod support;

use std::path::Path;
use std::time::Duration;

use ebb_load::{Mode, RunOptions, Schedule, Trace, TraceFormat, run};
use support::{TestServer, config, secs_since};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

fn fixture(name: &str) -> Trace {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    Trace::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Replays `trace` and compares where each request landed with where it was meant to.
async fn replay(trace: Trace) {
    let want: Vec<f64> = trace.offsets.iter().map(Duration::as_secs_f64).collect();
    let server = TestServer::instant().await;
    let config = config(
        &server.url(),
        Mode::OpenLoop {
            schedule: Schedule::Offsets(trace.offsets),
            connections: 16,
        },
    );
    let started = Instant::now();
    let summary = run(config, RunOptions::default(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.requests.sent, want.len() as u64);
    assert_eq!(summary.requests.intended, Some(want.len() as u64));

    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), want.len());
    // How late each request arrived, measured from just before the run started.
    let mut late: Vec<f64> = arrivals
        .iter()
        .zip(&want)
        .map(|(a, w)| secs_since(started, a.at) - w)
        .collect();
    late.sort_by(f64::total_cmp);
    let quantile = |q: f64| late[((late.len() - 1) as f64 * q).round() as usize];
    // Never early (the timer may wake half a millisecond ahead), and on time as a rule: a
    // busy 2-core machine can stall the whole process now and then, delaying a burst of
    // requests, so the median gets a tight bound and the tail a wide one.
    assert!(quantile(0.0) > -0.002, "a request arrived early: {late:?}");
    assert!(
        quantile(0.5) < 0.010,
        "median lateness {:.4}s: {late:?}",
        quantile(0.5)
    );
    assert!(
        quantile(0.9) < 0.040,
        "p90 lateness {:.4}s: {late:?}",
        quantile(0.9)
    );
    assert!(
        quantile(1.0) < 0.500,
        "worst lateness {:.4}s: {late:?}",
        quantile(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mooncake_trace_at_double_speed() {
    let _turn = support::serial().await;
    let trace = fixture("mooncake.csv");
    assert_eq!(trace.format, TraceFormat::Mooncake);
    assert_eq!(trace.offsets.len(), 36);
    assert_eq!(trace.offsets.last(), Some(&Duration::from_millis(2510)));
    let fast = trace.speed(2.0).unwrap();
    assert_eq!(fast.offsets.last(), Some(&Duration::from_millis(1255)));
    replay(fast).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_trace_across_midnight_with_a_limit() {
    let _turn = support::serial().await;
    let trace = fixture("azure.csv");
    assert_eq!(trace.format, TraceFormat::AzureLlm);
    assert_eq!(trace.offsets.len(), 32);
    // 23:59:58.7531 to 00:00:01.1517 the next day.
    assert_eq!(
        trace.offsets.last(),
        Some(&Duration::from_micros(2_398_600))
    );
    let limited = trace.limit(20);
    assert_eq!(limited.offsets.len(), 20);
    replay(limited).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_timestamps_at_half_speed() {
    let _turn = support::serial().await;
    let trace = fixture("plain.txt");
    assert_eq!(trace.format, TraceFormat::Plain);
    assert_eq!(trace.offsets.len(), 30);
    let slow = trace.limit(12).speed(0.5).unwrap();
    replay(slow).await;
}
