//! HTTP/1.x clients as they come, written byte for byte: HTTP/1.0, keep-alive and pipelining,
//! `Expect: 100-continue`, and heads the gateway refuses.

use ebb_gateway::{GatewayConfig, REASON_HEADER, ServiceConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

fn svc() -> GatewayConfig {
    GatewayConfig::new(vec![ServiceConfig::new("svc")])
}

/// A replica answering every request on a connection with `answer` (requests have no body,
/// or a 3-byte one).
async fn replica(answer: &'static [u8]) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                        let body = if head.contains("content-length: 3") {
                            3
                        } else {
                            0
                        };
                        if seen.len() < end + 4 + body {
                            break;
                        }
                        seen.drain(..end + 4 + body);
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
            });
        }
    });
    addr
}

/// Everything the gateway sends until it closes the connection.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    within("the gateway to close", stream.read_to_end(&mut received))
        .await
        .expect("read");
    String::from_utf8_lossy(&received).into_owned()
}

/// Read until `count` responses of `body` have arrived (the connection stays open).
async fn read_until(stream: &mut TcpStream, text: &str, count: usize) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while String::from_utf8_lossy(&received).matches(text).count() < count {
        let n = within("more of the response", stream.read(&mut buf))
            .await
            .expect("read");
        assert!(
            n > 0,
            "closed early: {}",
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn http10_clients_get_a_closed_connection_unless_they_ask_to_keep_it() {
    let gw = TestGateway::start(svc()).await;
    let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    gw.ready_replica("svc", replica(chunked).await);
    let mut raw = TcpStream::connect(gw.addr).await.unwrap();
    raw.write_all(b"GET / HTTP/1.0\r\nhost: svc.localhost\r\n\r\n")
        .await
        .unwrap();
    let text = until_closed(&mut raw).await;
    // No chunked coding for HTTP/1.0: the data, ended by the close.
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(!text.contains("transfer-encoding"), "{text}");
    assert!(text.ends_with("\r\n\r\nok"), "{text}");

    let gw = TestGateway::start(svc()).await;
    gw.ready_replica(
        "svc",
        replica(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await,
    );
    let mut raw = TcpStream::connect(gw.addr).await.unwrap();
    let get = b"GET / HTTP/1.0\r\nhost: svc.localhost\r\nconnection: keep-alive\r\n\r\n";
    raw.write_all(get).await.unwrap();
    let text = read_until(&mut raw, "\r\n\r\nok", 1).await;
    assert!(text.contains("connection: keep-alive\r\n"), "{text}");
    raw.write_all(get).await.unwrap();
    read_until(&mut raw, "\r\n\r\nok", 1).await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let gw = TestGateway::start(svc()).await;
    gw.ready_replica(
        "svc",
        replica(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await,
    );
    let mut raw = TcpStream::connect(gw.addr).await.unwrap();
    let three = "GET / HTTP/1.1\r\nhost: svc.localhost\r\n\r\n".repeat(3);
    raw.write_all(three.as_bytes()).await.unwrap();
    let text = read_until(&mut raw, "HTTP/1.1 200 OK", 3).await;
    assert_eq!(text.matches("\r\n\r\nok").count(), 3, "{text}");
    eventually("every slot released", || gw.in_flight() == 0).await;
}

#[tokio::test]
async fn a_client_expecting_100_continue_gets_it_then_the_answer() {
    let gw = TestGateway::start(svc()).await;
    gw.ready_replica(
        "svc",
        replica(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await,
    );
    let mut raw = TcpStream::connect(gw.addr).await.unwrap();
    raw.write_all(
        b"POST / HTTP/1.1\r\nhost: svc.localhost\r\ncontent-length: 3\r\nexpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    let go_ahead = read_until(&mut raw, "\r\n\r\n", 1).await;
    assert_eq!(go_ahead, "HTTP/1.1 100 Continue\r\n\r\n");
    raw.write_all(b"abc").await.unwrap();
    let text = read_until(&mut raw, "\r\n\r\nok", 1).await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
}

#[tokio::test]
async fn ambiguous_or_malformed_requests_are_refused_and_the_connection_closed() {
    let gw = TestGateway::start(svc()).await;
    gw.ready_replica(
        "svc",
        replica(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await,
    );
    for (request, status) in [
        (
            "POST / HTTP/1.1\r\nhost: svc.localhost\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
            "400",
        ),
        ("GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n", "400"),
        ("GET /\x01 HTTP/1.1\r\n\r\n", "400"),
        ("CONNECT a:443 HTTP/1.1\r\nhost: a\r\n\r\n", "501"),
    ] {
        let mut raw = TcpStream::connect(gw.addr).await.unwrap();
        raw.write_all(request.as_bytes()).await.unwrap();
        let text = until_closed(&mut raw).await;
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status} ")),
            "{request:?}: {text}"
        );
        assert!(text.contains(REASON_HEADER), "{text}");
    }
}

#[tokio::test]
async fn an_idle_keep_alive_client_is_closed_at_shutdown() {
    let mut registry = prometheus_client::registry::Registry::default();
    let (gateway, _wakeups) = ebb_gateway::Gateway::new(svc(), &mut registry).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = gateway.clone();
    let server = tokio::spawn(async move {
        gateway
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    let model = replica(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
    let id = handle.add_replica("svc", model).unwrap();
    handle.set_ready(id, true).unwrap();
    // One exchange, then the client keeps the connection open and says nothing.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nhost: svc.localhost\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut idle, "\r\n\r\nok", 1).await;
    stop.send(()).unwrap();
    assert_eq!(until_closed(&mut idle).await, "");
    within("serve to return", server).await.unwrap().unwrap();
}

/// A replica that reads whatever comes and never answers: what the client sent decides.
async fn silent_replica() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_broken_request_body_is_the_clients_400_not_the_replicas_502() {
    let gw = TestGateway::start(svc()).await;
    gw.ready_replica("svc", silent_replica().await);
    let head = "POST / HTTP/1.1\r\nhost: svc.localhost\r\n";
    for (request, half_close) in [
        // Not a chunk size.
        (
            format!("{head}transfer-encoding: chunked\r\n\r\nZZ\r\nabc\r\n"),
            false,
        ),
        // The client stops sending halfway through its declared body.
        (format!("{head}content-length: 10\r\n\r\nabc"), true),
    ] {
        let mut raw = TcpStream::connect(gw.addr).await.unwrap();
        raw.write_all(request.as_bytes()).await.unwrap();
        if half_close {
            raw.shutdown().await.unwrap();
        }
        let text = until_closed(&mut raw).await;
        assert!(text.starts_with("HTTP/1.1 400 "), "{request:?}: {text}");
        assert!(
            text.contains(&format!("{REASON_HEADER}: bad-request-body")),
            "{request:?}: {text}"
        );
        assert!(text.contains("could not be read"), "{request:?}: {text}");
    }
}
