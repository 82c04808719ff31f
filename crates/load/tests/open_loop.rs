//! Open loop against a real server on 127.0.0.1: the rate is held, steps are followed, and a
//! saturated server cannot hide its latency (no coordinated omission).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ebb_load::schedule::parse_rate_plan;
use ebb_load::{Mode, RunOptions, Schedule, run};
use support::{TestServer, config, secs_since};
use tokio_util::sync::CancellationToken;

/// A `Write` the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn open_loop(rate: &str, connections: u32) -> Mode {
    Mode::OpenLoop {
        schedule: Schedule::Rate(parse_rate_plan(rate).unwrap()),
        connections,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_1000_per_second_within_2_percent_over_10_seconds() {
    let _turn = support::serial().await;
    let server = TestServer::instant().await;
    let mut config = config(&server.url(), open_loop("1000/s", 50));
    config.run_time = Some(Duration::from_secs(10));
    let timeline = Shared::default();
    let options = RunOptions {
        timeline: Some(Box::new(timeline.clone())),
        ..RunOptions::default()
    };
    let summary = run(config, options, CancellationToken::new())
        .await
        .unwrap();

    // What the server received, in its own clock: 10,000 requests spread over 10 s.
    let arrivals = server.arrivals();
    let first = arrivals[0].at;
    let in_window = |from: f64, to: f64| {
        arrivals
            .iter()
            .filter(|a| (from..to).contains(&secs_since(first, a.at)))
            .count()
    };
    let total = in_window(0.0, 10.0);
    // When this fails, `late` says whether the generator was stalled (late sends) or not.
    let late = &summary.late;
    assert!(
        (9_800..=10_200).contains(&total),
        "{total} requests in 10 s; {late:?}"
    );
    assert!(
        arrivals.len() <= 10_000,
        "{} requests in all",
        arrivals.len()
    );
    // Held, not bunched: each half of the run got its half of the load (within 10 %: a stall
    // of the whole process near the middle moves requests from one half to the other).
    let (first_half, second_half) = (in_window(0.0, 5.0), in_window(5.0, 10.0));
    assert!(
        (4_500..=5_500).contains(&first_half),
        "{first_half} in 0-5 s; {late:?}"
    );
    assert!(
        (4_500..=5_500).contains(&second_half),
        "{second_half} in 5-10 s; {late:?}"
    );

    // The summary compares achieved with intended.
    assert_eq!(summary.requests.intended, Some(10_000));
    let achieved = summary.rate.sent / summary.rate.intended.unwrap();
    assert!((0.98..=1.02).contains(&achieved), "{:?}", summary.rate);
    assert_eq!(summary.requests.completed, summary.requests.sent);
    assert_eq!(summary.status_codes.get(&200), Some(&summary.requests.sent));

    // The timeline has one row per second and accounts for every request.
    let csv = String::from_utf8(timeline.0.lock().unwrap().clone()).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("second,time,intended,sent,completed,errors,p50_ms,p90_ms,p99_ms,max_ms,in_flight")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!((10..=12).contains(&rows.len()), "{csv}");
    let column = |i: usize| {
        rows.iter()
            .map(|r| r[i].parse::<u64>().unwrap())
            .sum::<u64>()
    };
    assert_eq!(column(2), 10_000, "intended column");
    assert_eq!(column(3), summary.requests.sent, "sent column");
    assert_eq!(column(4), summary.requests.completed, "completed column");
    assert_eq!(rows[3][2], "1000");
    assert!(
        rows[3][1].ends_with('Z') && rows[3][1].contains('T'),
        "{}",
        rows[3][1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_rate_steps() {
    let _turn = support::serial().await;
    let server = TestServer::instant().await;
    let config = config(
        &server.url(),
        open_loop("20/s:1s,100/s:1s,0/s:1s,20/s:1s", 10),
    );
    let summary = run(config, RunOptions::default(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.requests.sent, 20 + 100 + 20);
    let arrivals = server.arrivals();
    let first = arrivals[0].at;
    let between = |from: f64, to: f64| {
        arrivals
            .iter()
            .filter(|a| (from..to).contains(&secs_since(first, a.at)))
            .count()
    };
    // Windows start 20 ms before each step, so a request a little early still counts in its
    // own step; requests are at least 10 ms apart, so the margins cannot swallow a neighbour.
    let steps = [
        between(0.0, 0.98),
        between(0.98, 1.98),
        between(2.02, 2.98),
        between(2.98, 3.98),
    ];
    // A stall of the whole process near a step's end pushes a few requests into the next
    // window; the steps differ by far more than that.
    assert!((17..=20).contains(&steps[0]), "{steps:?}");
    assert!((90..=100).contains(&steps[1]), "{steps:?}");
    assert!(steps[2] <= 5, "the pause sent {steps:?}");
    assert!((17..=20).contains(&steps[3]), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_counts_from_the_intended_time_when_connections_run_out() {
    let _turn = support::serial().await;
    // Two connections to a 100 ms server carry 20 requests/s; 100/s is asked for.
    let server = TestServer::start(Arc::new(|_| Duration::from_millis(100))).await;
    let mut config = config(&server.url(), open_loop("100/s", 2));
    config.run_time = Some(Duration::from_secs(2));
    let summary = run(config, RunOptions::default(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.requests.intended, Some(200));
    assert!(summary.requests.sent <= 50, "{:?}", summary.requests);
    assert_eq!(server.max_in_flight(), 2);
    let late = summary.late.as_ref().unwrap();
    assert!(late.count + 6 >= summary.requests.sent, "{late:?}");
    // Requests queued behind busy connections: their wait is latency. A generator that
    // measured from the actual send would report about 100 ms everywhere.
    let latency = summary.latency_ms.unwrap();
    assert!(latency.p50 > 500.0, "{latency:?}");
    assert!(latency.max > 1_200.0, "{latency:?}");
    let text = summary.render();
    assert!(text.contains("Raise --connections"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_early_and_still_summarizes() {
    let _turn = support::serial().await;
    let server = TestServer::start(Arc::new(|_| Duration::from_millis(20))).await;
    let mut config = config(&server.url(), open_loop("200/s", 20));
    config.run_time = Some(Duration::from_secs(30));
    let cancel = CancellationToken::new();
    let stopper = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        stopper.cancel();
    });
    let started = tokio::time::Instant::now();
    let summary = run(config, RunOptions::default(), cancel).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(summary.interrupted);
    assert!(
        (60..=200).contains(&summary.requests.sent),
        "{:?}",
        summary.requests
    );
    assert_eq!(
        summary.requests.sent,
        summary.requests.completed + summary.requests.abandoned
    );
    assert!(summary.render().contains("(interrupted)"));
}
