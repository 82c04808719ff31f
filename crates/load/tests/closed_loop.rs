//! Closed-loop users and fixed concurrency against a real server on 127.0.0.1.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ebb_load::config::parse_header;
use ebb_load::{BodySource, Mode, RequestTemplate, RunOptions, SentimentShape, WaitTime, run};
use support::{Arrival, TestServer, config, secs_since};
use tokio_util::sync::CancellationToken;

fn by_connection(arrivals: &[Arrival]) -> BTreeMap<u64, Vec<Arrival>> {
    let mut map: BTreeMap<u64, Vec<Arrival>> = BTreeMap::new();
    for a in arrivals {
        map.entry(a.connection).or_default().push(a.clone());
    }
    map
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_respect_their_think_time() {
    let _turn = support::serial().await;
    let server = TestServer::instant().await;
    let wait = WaitTime::parse("200ms..300ms").unwrap();
    let mut config = config(
        &server.url(),
        Mode::Users {
            users: 3,
            spawn_rate: 100.0,
            wait,
        },
    );
    config.run_time = Some(Duration::from_secs(3));
    let summary = run(config, RunOptions::default(), CancellationToken::new())
        .await
        .unwrap();

    let users = by_connection(&server.arrivals());
    assert_eq!(users.len(), 3, "one connection per user");
    let mut gaps = Vec::new();
    for requests in users.values() {
        // 3 s of 200-300 ms waits: about 12 requests each, never more than 16.
        assert!((8..=16).contains(&requests.len()), "{}", requests.len());
        for pair in requests.windows(2) {
            gaps.push(secs_since(pair[0].at, pair[1].at));
        }
    }
    let shortest = gaps.iter().copied().fold(f64::MAX, f64::min);
    let longest = gaps.iter().copied().fold(0.0, f64::max);
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    // Never shorter than the think time; longer only by the round trip, or by a stall of the
    // whole process on a busy machine (hence the loose upper bounds).
    assert!(shortest >= 0.200, "a user waited only {shortest:.3}s");
    assert!(longest < 1.0, "a user waited {longest:.3}s");
    assert!((0.225..0.320).contains(&mean), "mean wait {mean:.3}s");
    assert_eq!(summary.requests.sent, gaps.len() as u64 + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_spawn_at_the_spawn_rate() {
    let _turn = support::serial().await;
    let server = TestServer::instant().await;
    let mut config = config(
        &server.url(),
        Mode::Users {
            users: 4,
            spawn_rate: 4.0,
            wait: WaitTime::parse("1s").unwrap(),
        },
    );
    config.run_time = Some(Duration::from_millis(1500));
    run(config, RunOptions::default(), CancellationToken::new())
        .await
        .unwrap();
    let users = by_connection(&server.arrivals());
    let starts: Vec<_> = users.values().map(|r| r[0].at).collect();
    assert_eq!(starts.len(), 4);
    for (k, start) in starts.iter().enumerate() {
        let offset = secs_since(starts[0], *start);
        let want = k as f64 * 0.25;
        assert!(
            (offset - want).abs() < 0.06,
            "user {k} started at {offset:.3}s"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_keeps_exactly_n_in_flight_and_stops_at_the_count() {
    let _turn = support::serial().await;
    let server = TestServer::start(Arc::new(|_| Duration::from_millis(20))).await;
    let mut config = config(&server.url(), Mode::Concurrency { workers: 4 });
    config.max_requests = Some(100);
    let summary = run(config, RunOptions::default(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(server.arrivals().len(), 100);
    assert_eq!(server.max_in_flight(), 4);
    assert_eq!(by_connection(&server.arrivals()).len(), 4);
    assert_eq!(summary.requests.sent, 100);
    assert_eq!(summary.status_codes.get(&200), Some(&100));
    assert_eq!(summary.requests.intended, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentiles_match_an_injected_latency_distribution() {
    let _turn = support::serial().await;
    // Latencies 10, 11, ..., 209 ms, each used twice, in a scrambled order.
    let injected = |i: u64| Duration::from_millis(10 + (i * 83) % 200);
    let server = TestServer::start(Arc::new(injected)).await;
    // 16 workers: a stall of the process delays at most the 16 requests in flight, 4 % of
    // the samples, so it cannot move the median or p90 far.
    let mut config = config(&server.url(), Mode::Concurrency { workers: 16 });
    config.max_requests = Some(400);
    let summary = run(config, RunOptions::default(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.requests.completed, 400);
    let latency = summary.latency_ms.unwrap();
    // Exact percentiles of the injected set, plus what the round trip may add.
    let expect = [
        ("p50", latency.p50, 109.0),
        ("p90", latency.p90, 189.0),
        ("p99", latency.p99, 207.0),
        ("max", latency.max, 209.0),
    ];
    // Measured latency can never be below the injected one. Above it, the allowance grows
    // toward the tail: p99 and max sit on a handful of samples, which one stall of the whole
    // process on a busy machine can move.
    for (name, got, want) in expect {
        let allowance = match name {
            "p50" => 20.0,
            "p90" => 40.0,
            "p99" => 80.0,
            _ => 200.0,
        };
        assert!(
            got >= want - 0.5 && got <= want + allowance,
            "{name}: measured {got} ms, injected {want} ms ({latency:?})"
        );
    }
    assert!((109.0..140.0).contains(&latency.mean), "{latency:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentiment_bodies_and_host_headers_reach_the_server() {
    let _turn = support::serial().await;
    let server = TestServer::instant().await;
    let mut config = config(&server.url(), Mode::Concurrency { workers: 2 });
    config.request = RequestTemplate::new(
        &config.target,
        None,
        [parse_header("Host: sentiment.default.example.com").unwrap()],
        BodySource::Sentiment(SentimentShape::Predict),
    );
    config.max_requests = Some(50);
    run(config, RunOptions::default(), CancellationToken::new())
        .await
        .unwrap();
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 50);
    assert!(
        arrivals
            .iter()
            .all(|a| a.host == "sentiment.default.example.com")
    );
    let sizes: Vec<usize> = arrivals.iter().map(|a| a.body_len).collect();
    // 1 to 99 reviews of about 50-80 bytes each: bodies vary from tens of bytes to ~8 KB.
    assert!(sizes.iter().all(|&s| (40..9_000).contains(&s)), "{sizes:?}");
    assert!(
        sizes.iter().max().unwrap() > &(sizes.iter().min().unwrap() * 5),
        "{sizes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_and_timeouts_are_counted_not_fatal() {
    let _turn = support::serial().await;
    // A port that was just free: nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut refused = config(&format!("http://{free}/"), Mode::Concurrency { workers: 2 });
    refused.max_requests = Some(20);
    let summary = run(refused, RunOptions::default(), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(summary.errors.get("connection-refused"), Some(&20));
    assert_eq!(summary.requests.failed, 20);
    assert!(summary.latency_ms.is_none());

    let slow = TestServer::start(Arc::new(|_| Duration::from_secs(5))).await;
    let mut timing_out = config(&slow.url(), Mode::Concurrency { workers: 3 });
    timing_out.max_requests = Some(3);
    timing_out.timeout = Duration::from_millis(200);
    let started = tokio::time::Instant::now();
    let summary = run(timing_out, RunOptions::default(), CancellationToken::new())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(summary.errors.get("timeout"), Some(&3));
}
