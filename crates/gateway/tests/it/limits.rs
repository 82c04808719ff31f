//! Limits that keep a slow or hostile client from exhausting the gateway.

use std::time::Duration;

use bytes::Bytes;
use ebb_gateway::{GatewayConfig, REASON_HEADER, ServiceConfig};
use http::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::support::*;

fn config(edit: impl FnOnce(&mut GatewayConfig)) -> GatewayConfig {
    let mut svc = ServiceConfig::new("svc");
    svc.max_request_body_bytes = 16;
    let mut config = GatewayConfig::new(vec![svc]);
    edit(&mut config);
    config
}

/// Read until the peer closes; `true` if it did within [`PATIENCE`].
async fn closed_by_peer(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    within(
        "the gateway to close the connection",
        stream.read_to_end(&mut received),
    )
    .await
    .expect("read");
    received
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_413_before_admission() {
    let gw = TestGateway::start(config(|_| {})).await;
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    let req = Request::post("/")
        .header("host", "svc.localhost")
        .body(TestBody::full("x".repeat(17)))
        .unwrap();
    let reply = read(send(gw.addr, req).await).await;
    assert_eq!(reply.status.as_u16(), 413);
    assert_eq!(reply.header(REASON_HEADER), "body-too-large");
    assert_eq!(model.arrivals(), 0);
    let req = Request::post("/")
        .header("host", "svc.localhost")
        .body(TestBody::full("x".repeat(16)))
        .unwrap();
    assert_eq!(read(send(gw.addr, req).await).await.status.as_u16(), 200);
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_cut_off_with_413() {
    let gw = TestGateway::start(config(|_| {})).await;
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    let (tx, rx) = mpsc::channel(4);
    let req = Request::post("/")
        .header("host", "svc.localhost")
        .body(TestBody::Channel(rx))
        .unwrap();
    let reply = tokio::spawn(async move { read(send(gw.addr, req).await).await });
    tx.send(Bytes::from_static(b"0123456789")).await.unwrap();
    tx.send(Bytes::from_static(b"0123456789")).await.unwrap();
    drop(tx);
    let reply = within("the reply", reply).await.unwrap();
    assert_eq!(reply.status.as_u16(), 413);
    assert!(
        reply.body.contains("maxRequestBodyBytes (16 bytes)"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn oversized_headers_are_431() {
    let gw = TestGateway::start(config(|c| c.limits.max_header_bytes = 8192)).await;
    let mut raw = TcpStream::connect(gw.addr).await.unwrap();
    let big = "a".repeat(9000);
    raw.write_all(
        format!("GET / HTTP/1.1\r\nhost: svc.localhost\r\nx-big: {big}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let received = closed_by_peer(&mut raw).await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
}

#[tokio::test]
async fn a_slow_client_is_cut_off_at_the_header_read_timeout() {
    let timeout = Duration::from_millis(300);
    let gw = TestGateway::start(config(|c| c.limits.header_read_timeout = timeout)).await;
    // Silent after connecting.
    let mut silent = TcpStream::connect(gw.addr).await.unwrap();
    // Slowloris: starts a request and never finishes its headers.
    let mut slow = TcpStream::connect(gw.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nhost: svc.localhost\r\n")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    closed_by_peer(&mut silent).await;
    closed_by_peer(&mut slow).await;
    assert!(started.elapsed() >= timeout - Duration::from_millis(50));
}

#[tokio::test]
async fn a_keep_alive_client_gets_the_header_read_timeout_anew_after_each_request() {
    let timeout = Duration::from_millis(400);
    let gw = TestGateway::start(config(|c| c.limits.header_read_timeout = timeout)).await;
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    let mut sender = connect(gw.addr).await;
    let opened = tokio::time::Instant::now();
    // Each request comes within the timeout of the one before; the later ones past the
    // deadline the connection started with.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let req = get_svc("/");
        let sent = within("a reply", sender.send_request(req)).await;
        let reply = read(sent.expect("the connection is still open")).await;
        assert_eq!(reply.status.as_u16(), 200);
    }
    assert!(opened.elapsed() >= 2 * timeout);
    let idle = tokio::time::Instant::now();
    eventually("the gateway to close the idle connection", || {
        sender.is_closed()
    })
    .await;
    assert!(idle.elapsed() >= timeout - Duration::from_millis(50));
}

#[tokio::test]
async fn a_client_that_stalls_mid_body_gets_408_and_frees_the_replica() {
    let timeout = Duration::from_millis(300);
    let gw = TestGateway::start(config(|c| c.limits.body_read_timeout = timeout)).await;
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    let mut raw = TcpStream::connect(gw.addr).await.unwrap();
    raw.write_all(b"POST / HTTP/1.1\r\nhost: svc.localhost\r\ncontent-length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    eventually("the request at the gateway", || gw.in_flight() == 1).await;
    // The default responseTimeout is 300 s: the body read timeout, not it, ends this.
    let received = closed_by_peer(&mut raw).await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("x-ebb-reason: body-read-timeout"), "{text}");
    assert!(text.contains("bodyReadTimeout (300ms)"), "{text}");
    assert!(started.elapsed() >= timeout - Duration::from_millis(50));
    assert_eq!(gw.in_flight(), 0, "the replica's slot is free");
    assert!(
        gw.metrics()
            .contains("ebb_gateway_rejected_total{service=\"svc\",reason=\"body-read-timeout\"} 1"),
        "{}",
        gw.metrics()
    );
}

#[tokio::test]
async fn a_slow_but_steady_body_is_not_cut_off() {
    let timeout = Duration::from_millis(300);
    let gw = TestGateway::start(config(|c| c.limits.body_read_timeout = timeout)).await;
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    let mut raw = TcpStream::connect(gw.addr).await.unwrap();
    raw.write_all(
        b"POST / HTTP/1.1\r\nhost: svc.localhost\r\ncontent-length: 6\r\nconnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    // One byte every 150 ms: 0.9 s in all, three times the timeout, never a 300 ms gap.
    for byte in b"steady" {
        tokio::time::sleep(Duration::from_millis(150)).await;
        raw.write_all(&[*byte]).await.unwrap();
    }
    let received = closed_by_peer(&mut raw).await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(model.arrivals(), 1);
}

#[tokio::test]
async fn an_http2_client_that_stalls_mid_body_gets_408() {
    let timeout = Duration::from_millis(300);
    let gw = TestGateway::start(config(|c| c.limits.body_read_timeout = timeout)).await;
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    let (tx, rx) = mpsc::channel(1);
    tx.send(Bytes::from_static(b"abc")).await.unwrap();
    let req = Request::post("http://svc.localhost/")
        .body(TestBody::Channel(rx))
        .unwrap();
    let reply = read(send_h2(gw.addr, req).await).await;
    assert_eq!(reply.status.as_u16(), 408, "{}", reply.body);
    assert_eq!(reply.header(REASON_HEADER), "body-read-timeout");
    eventually("the slot to be free", || gw.in_flight() == 0).await;
    drop(tx);
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_one() {
    let gw = TestGateway::start(config(|c| c.limits.max_connections = 2)).await;
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    let mut first = connect(gw.addr).await;
    let mut second = connect(gw.addr).await;
    let third = tokio::spawn(get(gw.addr, "svc.localhost", "/"));
    // Both open connections still work.
    for sender in [&mut first, &mut second] {
        let req = get_svc("/");
        let reply = read(within("reply", sender.send_request(req)).await.unwrap()).await;
        assert_eq!(reply.status.as_u16(), 200);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !third.is_finished(),
        "a third connection is not served while two are open"
    );
    assert_eq!(model.arrivals(), 2);
    drop(first);
    assert_eq!(
        within("the third reply", third)
            .await
            .unwrap()
            .status
            .as_u16(),
        200
    );
}

/// A well-formed request (or two, pipelined), mangled: bytes a broken or hostile client sends.
fn mangled_request(case: u64) -> Vec<u8> {
    const GET: &[u8] = b"GET /v1/models/m:predict HTTP/1.1\r\nhost: svc.localhost\r\n\r\n";
    const POST: &[u8] = b"POST / HTTP/1.1\r\nhost: svc.localhost\r\ncontent-length: 5\r\n\r\nhello";
    const CHUNKED: &[u8] = b"POST / HTTP/1.1\r\nhost: svc.localhost\r\ntransfer-encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nx-t: 1\r\n\r\n";
    let mut rng = Seeded(case);
    let mut text = match rng.below(4) {
        0 => GET.to_vec(),
        1 => POST.to_vec(),
        2 => CHUNKED.to_vec(),
        _ => [GET, POST].concat(),
    };
    let all = text.len();
    mangle(&mut rng, &mut text, all);
    text
}

#[tokio::test]
async fn mangled_requests_get_a_status_line_or_a_close_and_leave_nothing_held() {
    // Short timeouts end the cases that stop mid-head (and idle keep-alive ones), and those
    // that stop mid-body.
    let mut svc = ServiceConfig::new("svc");
    svc.response_timeout = Duration::from_millis(500);
    let mut config = GatewayConfig::new(vec![svc]);
    config.limits.header_read_timeout = Duration::from_millis(200);
    config.limits.body_read_timeout = Duration::from_millis(200);
    let gw = TestGateway::start(config).await;
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    let addr = gw.addr;
    // Fifty at a time: the listen backlog is 128, and a connection the kernel could not queue
    // is only completed by the client's first data (SYN cookies), which an empty case lacks.
    let at_once = std::sync::Arc::new(tokio::sync::Semaphore::new(50));
    let mut cases = tokio::task::JoinSet::new();
    for case in 0..300u64 {
        let turn = at_once.clone().acquire_owned().await.unwrap();
        cases.spawn(async move {
            let _turn = turn;
            let text = mangled_request(case);
            let shown = String::from_utf8_lossy(&text).into_owned();
            let mut raw = TcpStream::connect(addr).await.unwrap();
            // The gateway may answer and close before reading everything: write errors
            // are fine, and so is a reset after a refusal.
            let _ = raw.write_all(&text).await;
            let mut received = Vec::new();
            let _ = within(
                &format!("case {case}: {shown:?}"),
                raw.read_to_end(&mut received),
            )
            .await;
            match received.get(..13) {
                None if received.is_empty() => "closed".to_string(),
                Some(
                    [
                        b'H',
                        b'T',
                        b'T',
                        b'P',
                        b'/',
                        b'1',
                        b'.',
                        b'1',
                        b' ',
                        code @ ..,
                        b' ',
                    ],
                ) if code.iter().all(u8::is_ascii_digit) => {
                    String::from_utf8_lossy(code).into_owned()
                }
                _ => panic!(
                    "case {case}: {shown:?} got {:?}",
                    String::from_utf8_lossy(&received)
                ),
            }
        });
    }
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    while let Some(status) = cases.join_next().await {
        *statuses.entry(status.unwrap()).or_default() += 1;
    }
    eventually("every admitted request to be released", || {
        gw.in_flight() == 0 && gw.held() == 0
    })
    .await;
    // Both paths were taken: requests still valid after mangling were served.
    assert!(
        statuses.contains_key("200") && statuses.contains_key("400"),
        "{statuses:?}"
    );
    assert_eq!(
        get(gw.addr, "svc.localhost", "/").await.status.as_u16(),
        200
    );
    eprintln!(
        "first statuses of 300 mangled requests: {statuses:?}, model arrivals {}",
        model.arrivals()
    );
}

#[tokio::test]
async fn a_client_that_closes_within_the_http2_preface_is_let_go_at_once() {
    // With the default 30 s header timeout: the close, not the timeout, ends these.
    let gw = TestGateway::start(GatewayConfig::new(vec![ServiceConfig::new("svc")])).await;
    for sent in [
        &b"P"[..],
        b"PRI * HTTP/2.0\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r",
    ] {
        let mut raw = TcpStream::connect(gw.addr).await.unwrap();
        raw.write_all(sent).await.unwrap();
        raw.shutdown().await.unwrap();
        assert_eq!(
            closed_by_peer(&mut raw).await,
            b"",
            "{:?}",
            String::from_utf8_lossy(sent)
        );
    }
}
