//! Retries only where nothing was sent: refused connects and connections that died idle.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ebb_gateway::{GatewayConfig, REASON_HEADER, ServiceConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::*;

fn svc() -> GatewayConfig {
    GatewayConfig::new(vec![ServiceConfig::new("svc")])
}

#[tokio::test]
async fn a_refused_connection_goes_to_another_replica() {
    let gw = TestGateway::start(svc()).await;
    let model = FakeModel::new("alive").run().await;
    gw.ready_replica("svc", refused_addr().await);
    gw.ready_replica("svc", model.addr);
    for _ in 0..20 {
        let reply = get(gw.addr, "svc.localhost", "/").await;
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "alive"));
    }
    assert_eq!(model.arrivals(), 20);
    // Both replicas are idle for every request, so the refusing one is drawn about half the
    // time; never drawing it in 20 tries has probability 2^-20.
    let text = gw.metrics();
    assert!(
        !text.contains("ebb_gateway_retries_total{service=\"svc\"} 0"),
        "{text}"
    );
}

#[tokio::test]
async fn with_no_other_replica_a_refused_connection_is_502() {
    let gw = TestGateway::start(svc()).await;
    let dead = refused_addr().await;
    gw.ready_replica("svc", dead);
    let reply = get(gw.addr, "svc.localhost", "/").await;
    assert_eq!(reply.status.as_u16(), 502);
    assert_eq!(reply.header(REASON_HEADER), "replica-unreachable");
    assert!(reply.body.contains(&dead.to_string()), "{}", reply.body);
    eventually("the slot released", || gw.in_flight() == 0).await;
}

/// A server that answers each connection once, then closes it without saying so
/// (no `connection: close`), like a model server with a short keep-alive timeout.
async fn answers_once_per_connection() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nonce")
                    .await;
            });
        }
    });
    (addr, connections)
}

#[tokio::test]
async fn a_pooled_connection_closed_by_the_replica_is_replaced_transparently() {
    let gw = TestGateway::start(svc()).await;
    let (addr, connections) = answers_once_per_connection().await;
    gw.ready_replica("svc", addr);
    for _ in 0..5 {
        let reply = get(gw.addr, "svc.localhost", "/").await;
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "once"));
    }
    assert_eq!(connections.load(Ordering::SeqCst), 5);
}

/// A server that reads the request and hangs up without answering.
async fn hangs_up_after_reading(seen: Arc<AtomicUsize>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                if matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_request_that_was_sent_is_never_retried() {
    let gw = TestGateway::start(svc()).await;
    let seen = Arc::new(AtomicUsize::new(0));
    gw.ready_replica("svc", hangs_up_after_reading(seen.clone()).await);
    gw.ready_replica("svc", hangs_up_after_reading(seen.clone()).await);
    let reply = get(gw.addr, "svc.localhost", "/").await;
    assert_eq!(reply.status.as_u16(), 502);
    assert_eq!(reply.header(REASON_HEADER), "replica-failed");
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "one replica saw it, the other never did"
    );
}
