//! Test DSL: fake model servers, a running gateway and a plain HTTP/1.1 client, all on
//! 127.0.0.1 with real sockets. Every wait is bounded.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use ebb_gateway::{Gateway, GatewayConfig, Wakeups};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::TokioIo;
use prometheus_client::registry::Registry;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Upper bound for anything a test waits for.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// Await `f`, failing the test if it takes longer than [`PATIENCE`].
pub(crate) async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(PATIENCE, f).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Poll `check` every 5 ms until it holds, failing after [`PATIENCE`].
pub(crate) async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    within(what, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

// === fake model servers ===

/// What a fake model saw of one request.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) tag: String,
}

/// A model server: answers with its name, optionally waits on a gate first, or streams.
pub(crate) struct FakeModel {
    name: String,
    held: bool,
    stream: bool,
}

impl FakeModel {
    pub(crate) fn new(name: &str) -> Self {
        FakeModel {
            name: name.to_string(),
            held: false,
            stream: false,
        }
    }

    /// Each request waits for a permit of [`RunningModel::release`] before it is answered.
    pub(crate) fn held(mut self) -> Self {
        self.held = true;
        self
    }

    /// Each request is answered with `text/event-stream` headers at once and a body made of
    /// the chunks sent through [`RunningModel::chunks`], ending when that sender is dropped.
    pub(crate) fn streaming(mut self) -> Self {
        self.stream = true;
        self
    }

    pub(crate) async fn run(self) -> RunningModel {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(ModelState {
            name: self.name,
            held: self.held,
            stream: self.stream,
            gate: Semaphore::new(0),
            seen: Mutex::new(Vec::new()),
            arrivals: AtomicUsize::new(0),
            chunks: Mutex::new(Vec::new()),
            body_chunks: Mutex::new(None),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let server = state.clone();
        tokio::spawn(async move {
            let accept = async {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let state = server.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let state = state.clone();
                            async move { Ok::<_, Infallible>(state.answer(req).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            };
            tokio::select! {
                () = accept => {}
                _ = stopped => {}
            }
        });
        RunningModel {
            addr,
            state,
            _stop: stop,
        }
    }
}

struct ModelState {
    name: String,
    held: bool,
    stream: bool,
    gate: Semaphore,
    seen: Mutex<Vec<Seen>>,
    arrivals: AtomicUsize,
    /// Senders of streams that have not started yet are handed to the test in order.
    chunks: Mutex<Vec<mpsc::Sender<Bytes>>>,
    /// When set, every request body chunk is reported here as it arrives.
    body_chunks: Mutex<Option<mpsc::UnboundedSender<Bytes>>>,
}

impl ModelState {
    async fn answer(&self, req: Request<Incoming>) -> Response<TestBody> {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let seen = Seen {
            host: header("host"),
            path: req.uri().path().to_string(),
            tag: header("x-tag"),
        };
        self.seen.lock().unwrap().push(seen);
        self.arrivals.fetch_add(1, Ordering::SeqCst);
        let report = self.body_chunks.lock().unwrap().clone();
        let mut body = req.into_body();
        let mut received = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                received += data.len();
                if let Some(report) = &report {
                    let _ = report.send(data);
                }
            }
        }
        if self.held
            && let Ok(permit) = self.gate.acquire().await
        {
            permit.forget();
        }
        if self.stream {
            let (tx, rx) = mpsc::channel(16);
            self.chunks.lock().unwrap().push(tx);
            return Response::builder()
                .header("content-type", "text/event-stream")
                .header("x-model", &self.name)
                .body(TestBody::Channel(rx))
                .unwrap();
        }
        Response::builder()
            .header("x-model", &self.name)
            .header("x-received-bytes", received.to_string())
            .body(TestBody::full(self.name.clone()))
            .unwrap()
    }
}

/// A fake model that is listening.
pub(crate) struct RunningModel {
    pub(crate) addr: SocketAddr,
    state: Arc<ModelState>,
    _stop: oneshot::Sender<()>,
}

impl RunningModel {
    /// Requests that reached this model so far.
    pub(crate) fn arrivals(&self) -> usize {
        self.state.arrivals.load(Ordering::SeqCst)
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Let `n` held requests answer.
    pub(crate) fn release(&self, n: usize) {
        self.state.gate.add_permits(n);
    }

    /// The chunk sender of the oldest started stream not yet taken.
    pub(crate) async fn chunks(&self) -> mpsc::Sender<Bytes> {
        within("a stream to start", async {
            loop {
                if let Some(tx) = {
                    let mut chunks = self.state.chunks.lock().unwrap();
                    (!chunks.is_empty()).then(|| chunks.remove(0))
                } {
                    return tx;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
    }

    /// Report every request body chunk this model receives, as it receives it.
    pub(crate) fn report_body_chunks(&self) -> mpsc::UnboundedReceiver<Bytes> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.state.body_chunks.lock().unwrap() = Some(tx);
        rx
    }
}

/// A port nothing listens on (bound, then closed): connecting to it is refused.
pub(crate) async fn refused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr")
}

// === bodies ===

/// A response or request body for tests: all at once, or chunk by chunk from a channel.
pub(crate) enum TestBody {
    Full(Option<Bytes>),
    Channel(mpsc::Receiver<Bytes>),
}

impl TestBody {
    pub(crate) fn full(data: impl Into<Bytes>) -> Self {
        TestBody::Full(Some(data.into()))
    }

    pub(crate) fn empty() -> Self {
        TestBody::Full(None)
    }
}

impl Body for TestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            TestBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            TestBody::Channel(rx) => rx.poll_recv(cx).map(|c| c.map(|d| Ok(Frame::data(d)))),
        }
    }
}

// === the gateway ===

/// A gateway serving on 127.0.0.1 for one test.
pub(crate) struct TestGateway {
    pub(crate) addr: SocketAddr,
    pub(crate) gateway: Gateway,
    pub(crate) wakeups: Wakeups,
    pub(crate) registry: Registry,
    _stop: oneshot::Sender<()>,
}

impl TestGateway {
    pub(crate) async fn start(config: GatewayConfig) -> TestGateway {
        let mut registry = Registry::default();
        let (gateway, wakeups) = Gateway::new(config, &mut registry).expect("valid config");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = gateway.clone();
        tokio::spawn(async move {
            let _ = server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await;
        });
        TestGateway {
            addr,
            gateway,
            wakeups,
            registry,
            _stop: stop,
        }
    }

    /// Add a ready replica of `service` at `addr`.
    pub(crate) fn ready_replica(&self, service: &str, addr: SocketAddr) -> ebb_gateway::ReplicaId {
        let id = self
            .gateway
            .add_replica(service, addr)
            .expect("known service");
        self.gateway.set_ready(id, true).expect("not draining");
        id
    }

    /// The Prometheus text exposition of the gateway's registry.
    pub(crate) fn metrics(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("encode");
        text
    }

    /// The value of the sample `series` (name and labels, as exposed), if present.
    pub(crate) fn sample(&self, series: &str) -> Option<f64> {
        self.metrics().lines().find_map(|line| {
            let value = line.strip_prefix(series)?.strip_prefix(' ')?;
            value.split(' ').next()?.parse().ok()
        })
    }

    /// Requests of service `svc` admitted and not finished (from the gauge: observing would
    /// start a new window).
    pub(crate) fn in_flight(&self) -> u32 {
        self.sample("ebb_gateway_in_flight{service=\"svc\"}")
            .map_or(u32::MAX, |v| v as u32)
    }

    /// Requests of service `svc` waiting for a slot.
    pub(crate) fn held(&self) -> u32 {
        self.sample("ebb_gateway_held{service=\"svc\"}")
            .map_or(u32::MAX, |v| v as u32)
    }
}

// === the client ===

/// A finished response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// An HTTP/1.1 client connection to `addr`.
pub(crate) async fn connect(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<TestBody> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

/// Send `req` on a new connection; return the response with its body still streaming.
pub(crate) async fn send(addr: SocketAddr, req: Request<TestBody>) -> Response<Incoming> {
    let mut sender = connect(addr).await;
    within("response headers", sender.send_request(req))
        .await
        .expect("response")
}

/// Send `req` over HTTP/2 with prior knowledge (h2c) on a new connection; return the response
/// with its body still streaming.
pub(crate) async fn send_h2(addr: SocketAddr, req: Request<TestBody>) -> Response<Incoming> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .expect("h2c handshake");
    tokio::spawn(conn);
    within("response headers", sender.send_request(req))
        .await
        .expect("response")
}

/// A GET of `path` from service `svc` (Host `svc.localhost`), not yet sent.
pub(crate) fn get_svc(path: &str) -> Request<TestBody> {
    Request::get(path)
        .header("host", "svc.localhost")
        .body(TestBody::empty())
        .unwrap()
}

/// A GET with this Host and path, read to the end.
pub(crate) async fn get(addr: SocketAddr, host: &str, path: &str) -> Reply {
    let req = Request::get(path)
        .header("host", host)
        .body(TestBody::empty())
        .unwrap();
    read(send(addr, req).await).await
}

/// Like [`get`], with an `x-tag` header the fake model records.
pub(crate) async fn get_tagged(addr: SocketAddr, tag: &str) -> Reply {
    let req = Request::get("/")
        .header("host", "svc.localhost")
        .header("x-tag", tag)
        .body(TestBody::empty())
        .unwrap();
    read(send(addr, req).await).await
}

/// Read a response to its end.
pub(crate) async fn read(response: Response<Incoming>) -> Reply {
    let (parts, body) = response.into_parts();
    let body = within("response body", body.collect())
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into(),
    }
}

// === mangled bytes ===

/// SplitMix64: a seeded source for [`mangle`], so that a failing case can be replayed.
pub(crate) struct Seeded(pub(crate) u64);

impl Seeded {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (which is not 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One to three edits within the first `region` bytes of `text`: a byte changed, inserted or
/// deleted, a line repeated, or the end cut off there.
pub(crate) fn mangle(rng: &mut Seeded, text: &mut Vec<u8>, mut region: usize) {
    const DANGEROUS: &[u8] = b"\r\n :,;09aAfF\x00\x7f\x80\xff";
    for _ in 0..=rng.below(3) {
        if region == 0 {
            return;
        }
        let at = rng.below(region);
        let byte = if rng.below(2) == 0 {
            DANGEROUS[rng.below(DANGEROUS.len())]
        } else {
            rng.next() as u8
        };
        match rng.below(5) {
            0 => text[at] = byte,
            1 => {
                text.insert(at, byte);
                region += 1;
            }
            2 => {
                text.remove(at);
                region -= 1;
            }
            3 => {
                let start = text[..at]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let end = text[at..region]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(region, |i| at + i + 1);
                let line = text[start..end].to_vec();
                region += line.len();
                text.splice(end..end, line);
            }
            _ => {
                text.truncate(at.max(1));
                return;
            }
        }
    }
}
