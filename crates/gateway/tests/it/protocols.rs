//! Client protocols: HTTP/2 with prior knowledge (h2c) is accepted next to HTTP/1.1 on the
//! same port and forwarded to replicas over HTTP/1.1; hop-by-hop headers stay on their hop.

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
