//! An in-test HTTP server on 127.0.0.1 with controllable latency that records every arrival.

#![allow(dead_code, unreachable_pub)] // each test file uses a different part

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ebb_load::{BodySource, Config, Mode, RequestTemplate, Target};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// When its headers arrived.
    pub at: Instant,
    /// Which connection it came on (numbered in accept order).
    pub connection: u64,
    /// Request body length.
    pub body_len: usize,
    /// Host header.
    pub host: String,
}

/// Latency for the request with this arrival index.
pub type Latency = Arc<dyn Fn(u64) -> Duration + Send + Sync>;

pub struct TestServer {
    pub addr: SocketAddr,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    max_in_flight: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Answers `200 ok` after `latency(i)` for the `i`-th request.
    pub async fn start(latency: Latency) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let counter = Arc::new(AtomicU64::new(0));
        let in_flight = Arc::new(AtomicU64::new(0));
        let max_in_flight = Arc::new(AtomicU64::new(0));
        let (log, max) = (arrivals.clone(), max_in_flight.clone());
        let task = tokio::spawn(async move {
            let mut next_connection = 0u64;
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let connection = next_connection;
                next_connection += 1;
                let (log, counter, latency) = (log.clone(), counter.clone(), latency.clone());
                let (in_flight, max) = (in_flight.clone(), max.clone());
                let service = service_fn(move |request: Request<Incoming>| {
                    let at = Instant::now();
                    let index = counter.fetch_add(1, Ordering::SeqCst);
                    let now_in_flight = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now_in_flight, Ordering::SeqCst);
                    let (log, latency, in_flight) =
                        (log.clone(), latency.clone(), in_flight.clone());
                    async move {
                        let host = request
                            .headers()
                            .get("host")
                            .and_then(|h| h.to_str().ok())
                            .unwrap_or_default()
                            .to_string();
                        let body = request.into_body().collect().await.map(|b| b.to_bytes());
                        let body_len = body.map_or(0, |b| b.len());
                        log.lock().unwrap().push(Arrival {
                            at,
                            connection,
                            body_len,
                            host,
                        });
                        tokio::time::sleep(latency(index)).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        TestServer {
            addr,
            arrivals,
            max_in_flight,
            task,
        }
    }

    /// Answers at once.
    pub async fn instant() -> TestServer {
        TestServer::start(Arc::new(|_| Duration::ZERO)).await
    }

    pub fn url(&self) -> String {
        format!("http://{}/predict", self.addr)
    }

    /// Every arrival so far, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        let mut all = self.arrivals.lock().unwrap().clone();
        all.sort_by_key(|a| a.at);
        all
    }

    /// The most requests the server ever held at once.
    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A config for `url` in `mode`, no body, 10 s timeout.
pub fn config(url: &str, mode: Mode) -> Config {
    let target = Target::parse(url).expect("test URL");
    Config {
        request: RequestTemplate::new(&target, None, [], BodySource::Empty),
        target,
        mode,
        run_time: None,
        max_requests: None,
        timeout: Duration::from_secs(10),
        seed: 42,
    }
}

/// Timing tests in one test binary take turns: on a 2-core machine, tests running side by side
/// would measure each other.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// Seconds from `origin` to `at`.
pub fn secs_since(origin: Instant, at: Instant) -> f64 {
    at.saturating_duration_since(origin).as_secs_f64()
}
