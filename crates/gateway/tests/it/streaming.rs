//! Streaming: response chunks pass through one by one, request bodies are not collected,
//! and a client that leaves mid-request or mid-stream gives its slot back.

use std::time::Duration;

use bytes::Bytes;
use ebb_gateway::{Answers, GatewayConfig, ServiceConfig};
use http::Request;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::support::*;

fn svc(container_concurrency: u32) -> GatewayConfig {
    let mut svc = ServiceConfig::new("svc");
    svc.container_concurrency = container_concurrency;
    GatewayConfig::new(vec![svc])
}

#[tokio::test]
async fn server_sent_events_arrive_chunk_by_chunk() {
    let gw = TestGateway::start(svc(0)).await;
    let model = FakeModel::new("m").streaming().run().await;
    gw.ready_replica("svc", model.addr);
    let req = get_svc("/v1/chat");
    let response = send(gw.addr, req).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let chunks = model.chunks().await;
    let mut body = response.into_body();
    for token in ["data: Hello\n\n", "data: world\n\n", "data: [DONE]\n\n"] {
        // Each chunk is sent only after the previous one reached the client.
        chunks.send(Bytes::from(token)).await.unwrap();
        let frame = within("the next chunk", body.frame())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(frame.into_data().unwrap(), token);
    }
    drop(chunks);
    assert!(within("end of stream", body.frame()).await.is_none());
}

#[tokio::test]
async fn request_bodies_stream_to_the_replica() {
    let gw = TestGateway::start(svc(0)).await;
    let model = FakeModel::new("m").run().await;
    let mut at_model = model.report_body_chunks();
    gw.ready_replica("svc", model.addr);
    let (tx, rx) = mpsc::channel(4);
    let req = Request::post("/v2/models/svc/infer")
        .header("host", "svc.localhost")
        .body(TestBody::Channel(rx))
        .unwrap();
    let reply = tokio::spawn(async move { read(send(gw.addr, req).await).await });
    tx.send(Bytes::from_static(b"first part;")).await.unwrap();
    // The replica has the first part while the client has not sent the second.
    let first = within("the first part at the replica", at_model.recv())
        .await
        .unwrap();
    assert_eq!(first, "first part;");
    tx.send(Bytes::from_static(b"second part")).await.unwrap();
    drop(tx);
    let reply = within("the reply", reply).await.unwrap();
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(reply.header("x-received-bytes"), "22");
}

#[tokio::test]
async fn a_client_that_disconnects_while_waiting_releases_its_slot() {
    let gw = TestGateway::start(svc(1)).await;
    let model = FakeModel::new("m").held().run().await;
    gw.ready_replica("svc", model.addr);
    let mut raw = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nhost: svc.localhost\r\n\r\n")
        .await
        .unwrap();
    eventually("the request at the replica", || model.arrivals() == 1).await;
    assert_eq!(gw.in_flight(), 1);
    drop(raw);
    eventually("the slot released", || gw.in_flight() == 0).await;
    // containerConcurrency 1: the next request gets the slot instead of waiting forever.
    let next = tokio::spawn(get(gw.addr, "svc.localhost", "/"));
    eventually("the next request at the replica", || model.arrivals() == 2).await;
    model.release(2);
    assert_eq!(
        within("next reply", next).await.unwrap().status.as_u16(),
        200
    );
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_releases_its_slot() {
    let gw = TestGateway::start(svc(0)).await;
    let model = FakeModel::new("m").streaming().run().await;
    gw.ready_replica("svc", model.addr);
    let req = get_svc("/");
    let mut sender = connect(gw.addr).await;
    let response = within("headers", sender.send_request(req)).await.unwrap();
    let chunks = model.chunks().await;
    let mut body = response.into_body();
    chunks
        .send(Bytes::from_static(b"data: 1\n\n"))
        .await
        .unwrap();
    within("a chunk", body.frame()).await.unwrap().unwrap();
    assert_eq!(gw.in_flight(), 1);
    drop(body);
    drop(sender);
    eventually("the slot released", || gw.in_flight() == 0).await;
    // The model notices too: its stream's receiver is gone once the gateway closed upstream.
    within("the replica to see the stream closed", async {
        while chunks
            .send(Bytes::from_static(b"data: more\n\n"))
            .await
            .is_ok()
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

fn with_idle_timeout(timeout: Duration) -> GatewayConfig {
    let mut svc = ServiceConfig::new("svc");
    svc.response_idle_timeout = Some(timeout);
    GatewayConfig::new(vec![svc])
}

/// Read `count` chunks of a stream the test feeds one by one, `gap` apart.
async fn feed(
    chunks: &mpsc::Sender<Bytes>,
    body: &mut hyper::body::Incoming,
    count: usize,
    gap: Duration,
) {
    for i in 0..count {
        tokio::time::sleep(gap).await;
        let token = format!("data: {i}\n\n");
        chunks.send(Bytes::from(token.clone())).await.unwrap();
        let frame = within("the next chunk", body.frame())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(frame.into_data().unwrap(), token);
    }
}

/// A streamed response from `model` through `gw`, over h2c or HTTP/1.1: the sender of the
/// replica's chunks and the body as the client reads it.
async fn open_stream(
    gw: &TestGateway,
    model: &RunningModel,
    http2: bool,
) -> (mpsc::Sender<Bytes>, hyper::body::Incoming) {
    let req = Request::get("http://svc.localhost/v1/chat")
        .body(TestBody::empty())
        .unwrap();
    let response = if http2 {
        send_h2(gw.addr, req).await
    } else {
        send(gw.addr, req).await
    };
    (model.chunks().await, response.into_body())
}

#[tokio::test]
async fn a_replica_that_stalls_mid_stream_is_cut_off_at_the_idle_timeout() {
    let timeout = Duration::from_millis(300);
    let gw = TestGateway::start(with_idle_timeout(timeout)).await;
    let model = FakeModel::new("m").streaming().run().await;
    gw.ready_replica("svc", model.addr);
    for http2 in [false, true] {
        let (chunks, mut body) = open_stream(&gw, &model, http2).await;
        // Slower than the timeout in all, never a gap as long.
        feed(&chunks, &mut body, 4, Duration::from_millis(150)).await;
        // Then nothing, with the replica's stream still open.
        let stalled = tokio::time::Instant::now();
        let end = within("the cut", body.frame()).await;
        assert!(
            matches!(end, Some(Err(_))),
            "http2 {http2}: a cut stream is an error, not a clean end: {end:?}"
        );
        assert!(stalled.elapsed() >= timeout - Duration::from_millis(50));
        eventually("the slot to be free", || gw.in_flight() == 0).await;
        drop(chunks);
    }
    assert_eq!(
        gw.sample("ebb_gateway_responses_cut_total{service=\"svc\"}"),
        Some(2.0)
    );
}

#[tokio::test]
async fn with_knatives_answers_a_stalled_stream_ends_with_the_message() {
    // queue-proxy's ending: the message as the last data, and a body that ends cleanly.
    let timeout = Duration::from_millis(300);
    let mut config = with_idle_timeout(timeout);
    config.answers = Answers::Knative;
    let gw = TestGateway::start(config).await;
    let model = FakeModel::new("m").streaming().run().await;
    gw.ready_replica("svc", model.addr);
    for http2 in [false, true] {
        let (chunks, mut body) = open_stream(&gw, &model, http2).await;
        feed(&chunks, &mut body, 2, Duration::from_millis(50)).await;
        let stalled = tokio::time::Instant::now();
        let rest = within("the cut", body.collect())
            .await
            .unwrap_or_else(|e| panic!("http2 {http2}: the body ends cleanly, got {e}"));
        assert!(stalled.elapsed() >= timeout - Duration::from_millis(50));
        let rest = String::from_utf8(rest.to_bytes().to_vec()).unwrap();
        assert!(
            rest.contains("sent nothing for 300ms (responseIdleTimeout)"),
            "http2 {http2}: {rest:?}"
        );
        eventually("the slot to be free", || gw.in_flight() == 0).await;
        drop(chunks);
    }
    assert_eq!(
        gw.sample("ebb_gateway_responses_cut_total{service=\"svc\"}"),
        Some(2.0)
    );
}
