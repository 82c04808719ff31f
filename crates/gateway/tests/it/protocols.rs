//! Client protocols: HTTP/2 with prior knowledge (h2c) is accepted next to HTTP/1.1 on the
//! same port and forwarded to replicas over HTTP/1.1; hop-by-hop headers stay on their hop.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use ebb_gateway::{GatewayConfig, ServiceConfig};
use http::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

#[tokio::test]
async fn h2c_clients_are_served_over_http1_replicas() {
    let gw = TestGateway::start(GatewayConfig::new(vec![ServiceConfig::new("svc")])).await;
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    let stream = TcpStream::connect(gw.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2c handshake");
    tokio::spawn(conn);
    for _ in 0..3 {
        let req = Request::get("http://svc.localhost/v2/models/svc/ready")
            .body(TestBody::empty())
            .unwrap();
        let reply = read(
            within("h2 response", sender.send_request(req))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "m"));
    }
    let seen = model.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[0].host, "svc.localhost",
        "the :authority becomes the Host header"
    );
    assert_eq!(seen[0].path, "/v2/models/svc/ready");
}

#[tokio::test]
async fn hop_by_hop_headers_are_not_forwarded() {
    let gw = TestGateway::start(GatewayConfig::new(vec![ServiceConfig::new("svc")])).await;
    // A raw replica that echoes the request head it received as its body.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0);
            head.extend_from_slice(&buf[..n]);
        }
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nkeep-alive: timeout=5\r\nx-hop: 1\r\nconnection: x-hop\r\n\r\n",
            head.len()
        );
        stream.write_all(reply.as_bytes()).await.unwrap();
        stream.write_all(&head).await.unwrap();
    });
    gw.ready_replica("svc", addr);
    let req = Request::get("/")
        .header("host", "svc.localhost")
        .header("connection", "x-secret")
        .header("x-secret", "hop")
        .header("keep-alive", "timeout=1")
        .header("x-kept", "end-to-end")
        .body(TestBody::empty())
        .unwrap();
    let reply = read(send(gw.addr, req).await).await;
    let forwarded = reply.body.to_ascii_lowercase();
    assert!(forwarded.contains("x-kept: end-to-end"), "{forwarded}");
    for name in ["x-secret", "keep-alive"] {
        assert!(
            !forwarded.contains(name),
            "{name} reached the replica: {forwarded}"
        );
    }
    assert!(
        reply.headers.get("x-hop").is_none(),
        "named in the replica's Connection header"
    );
    assert!(reply.headers.get("keep-alive").is_none());
}

/// A client stream that stops after its first `pause_after` bytes for `pause`, then goes on.
struct Stutter {
    stream: TcpStream,
    pause_after: usize,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl tokio::io::AsyncRead for Stutter {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Stutter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.pause_after > 0 {
            let n = buf.len().min(this.pause_after);
            let n = ready!(Pin::new(&mut this.stream).poll_write(cx, &buf[..n]))?;
            this.pause_after -= n;
            return Poll::Ready(Ok(n));
        }
        if let Some(pause) = &mut this.pause {
            ready!(pause.as_mut().poll(cx));
            this.pause = None;
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn an_h2c_client_that_pauses_within_its_preface_is_still_served_over_http2() {
    let gw = TestGateway::start(GatewayConfig::new(vec![ServiceConfig::new("svc")])).await;
    let model = FakeModel::new("m").run().await;
    gw.ready_replica("svc", model.addr);
    for pause_after in [1, 16, 23] {
        let stream = TcpStream::connect(gw.addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let stutter = Stutter {
            stream,
            pause_after,
            pause: Some(Box::pin(tokio::time::sleep(Duration::from_millis(50)))),
        };
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stutter))
                .await
                .expect("h2c handshake");
        tokio::spawn(conn);
        let req = Request::get("http://svc.localhost/")
            .body(TestBody::empty())
            .unwrap();
        let reply = read(
            within("h2 response", sender.send_request(req))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            reply.status.as_u16(),
            200,
            "paused after {pause_after} bytes"
        );
    }
    assert_eq!(model.arrivals(), 3);
}
