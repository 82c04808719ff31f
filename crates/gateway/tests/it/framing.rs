//! HTTP/1.1 framing between the gateway and a replica, with replicas that write exact bytes:
//! chunked bodies split anywhere, bodies delimited by the connection's end, HEAD, interim
//! responses, and heads the gateway must refuse.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ebb_gateway::{GatewayConfig, REASON_HEADER, ServiceConfig};
use http::Request;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::support::*;

fn svc() -> GatewayConfig {
    GatewayConfig::new(vec![ServiceConfig::new("svc")])
}

/// What a scripted replica writes for a request (given its head), and whether it then closes.
type Script = fn(&str) -> (&'static [u8], bool);

/// A replica that answers each request as `script` says, writing `piece` bytes at a time with
/// a pause between, and records every request it read (head and body, as received).
struct Scripted {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    async fn start(script: Script, piece: usize) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (a, r) = (accepted.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(Self::serve(stream, script, piece, r.clone()));
            }
        });
        Scripted {
            addr,
            accepted,
            requests,
        }
    }

    async fn serve(
        mut stream: TcpStream,
        script: Script,
        piece: usize,
        requests: Arc<Mutex<Vec<String>>>,
    ) {
        while let Some(request) = read_request(&mut stream).await {
            let (answer, close) = script(&request);
            requests.lock().unwrap().push(request);
            for bytes in answer.chunks(piece) {
                if stream.write_all(bytes).await.is_err() {
                    return;
                }
                if piece < answer.len() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            if close {
                return;
            }
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// One request as text: its head, then a chunked body up to its last chunk or a body of its
/// content-length. `None` once the connection ends.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    let complete = |text: &[u8]| {
        let s = String::from_utf8_lossy(text);
        let Some(end) = s.find("\r\n\r\n") else {
            return false;
        };
        let head = s[..end].to_ascii_lowercase();
        if head.contains("transfer-encoding: chunked") {
            s.ends_with("0\r\n\r\n") && s.len() > end + 4
        } else if let Some(at) = head.find("content-length: ") {
            let len: usize = head[at + 16..]
                .split("\r\n")
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            s.len() >= end + 4 + len
        } else {
            true
        }
    };
    while !complete(&text) {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => text.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&text).into_owned())
}

fn get_req() -> Request<TestBody> {
    get_svc("/")
}

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
    5;ext=\"v\"\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: t\r\n\r\n";

#[tokio::test]
async fn a_chunked_response_split_at_every_byte_arrives_whole_and_keeps_its_connection() {
    let gw = TestGateway::start(svc()).await;
    let replica = Scripted::start(|_| (CHUNKED, false), 1).await;
    gw.ready_replica("svc", replica.addr);
    let mut client = connect(gw.addr).await;
    for _ in 0..2 {
        let response = within("head", client.send_request(get_req()))
            .await
            .unwrap();
        let reply = read(response).await;
        assert_eq!(
            (reply.status.as_u16(), reply.body.as_str()),
            (200, "hello world")
        );
    }
    assert_eq!(
        replica.accepted(),
        1,
        "the connection was pooled and reused"
    );
    eventually("the slot released", || gw.in_flight() == 0).await;
}

#[tokio::test]
async fn a_response_with_conflicting_lengths_is_502() {
    let gw = TestGateway::start(svc()).await;
    let script: Script = |_| {
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok";
        (answer, false)
    };
    let replica = Scripted::start(script, usize::MAX).await;
    gw.ready_replica("svc", replica.addr);
    let reply = get(gw.addr, "svc.localhost", "/").await;
    assert_eq!(reply.status.as_u16(), 502);
    assert_eq!(reply.header(REASON_HEADER), "replica-failed");
    eventually("the slot released", || gw.in_flight() == 0).await;
}

#[tokio::test]
async fn a_response_without_a_length_lasts_until_the_replica_closes() {
    let gw = TestGateway::start(svc()).await;
    let script: Script = |_| (b"HTTP/1.1 200 OK\r\n\r\nuntil the end", true);
    let replica = Scripted::start(script, 4).await;
    gw.ready_replica("svc", replica.addr);
    for _ in 0..2 {
        let reply = get(gw.addr, "svc.localhost", "/").await;
        assert_eq!(
            (reply.status.as_u16(), reply.body.as_str()),
            (200, "until the end")
        );
    }
    assert_eq!(replica.accepted(), 2, "a closed connection is not pooled");
    eventually("the slot released", || gw.in_flight() == 0).await;
}

#[tokio::test]
async fn a_head_response_has_no_body_and_keeps_its_connection() {
    let gw = TestGateway::start(svc()).await;
    let script: Script = |request| {
        if request.starts_with("HEAD ") {
            (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", false)
        } else {
            (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", false)
        }
    };
    let replica = Scripted::start(script, usize::MAX).await;
    gw.ready_replica("svc", replica.addr);
    let mut client = connect(gw.addr).await;
    let head = Request::head("/")
        .header("host", "svc.localhost")
        .body(TestBody::empty())
        .unwrap();
    let reply = read(within("head", client.send_request(head)).await.unwrap()).await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, ""));
    assert_eq!(
        reply.header("content-length"),
        "5",
        "what a GET would return"
    );
    let reply = read(
        within("head", client.send_request(get_req()))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "hello"));
    assert_eq!(replica.accepted(), 1);
    eventually("the slot released", || gw.in_flight() == 0).await;
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let gw = TestGateway::start(svc()).await;
    let script: Script = |_| {
        let answer = b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n\
            HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok";
        (answer, false)
    };
    let replica = Scripted::start(script, 7).await;
    gw.ready_replica("svc", replica.addr);
    let reply = get(gw.addr, "svc.localhost", "/").await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (201, "ok"));
    assert_eq!(
        reply.header("link"),
        "",
        "the interim head's fields stay behind"
    );
}

#[tokio::test]
async fn request_bodies_are_framed_by_length_or_chunked() {
    let gw = TestGateway::start(svc()).await;
    let script: Script = |_| (b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false);
    let replica = Scripted::start(script, usize::MAX).await;
    gw.ready_replica("svc", replica.addr);
    let post = |body| {
        Request::post("/p?q=1")
            .header("host", "svc.localhost")
            .header("connection", "x-hop")
            .header("x-hop", "1")
            .body(body)
            .unwrap()
    };
    let mut with_length = post(TestBody::full("abc"));
    with_length
        .headers_mut()
        .insert("content-length", http::HeaderValue::from_static("3"));
    let reply = read(send(gw.addr, with_length).await).await;
    assert_eq!(reply.status.as_u16(), 200);
    let (tx, rx) = mpsc::channel(2);
    let streamed = tokio::spawn(send(gw.addr, post(TestBody::Channel(rx))));
    tx.send(Bytes::from_static(b"hello ")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    tx.send(Bytes::from_static(b"world")).await.unwrap();
    drop(tx);
    let reply = read(streamed.await.unwrap()).await;
    assert_eq!(reply.status.as_u16(), 200);
    let requests = replica.requests();
    assert_eq!(
        requests[0],
        "POST /p?q=1 HTTP/1.1\r\nhost: svc.localhost\r\ncontent-length: 3\r\n\r\nabc"
    );
    let (head, body) = requests[1].split_once("\r\n\r\n").unwrap();
    assert_eq!(
        head,
        "POST /p?q=1 HTTP/1.1\r\nhost: svc.localhost\r\ntransfer-encoding: chunked"
    );
    assert!(body.ends_with("0\r\n\r\n"), "{body:?}");
    let data: String = body
        .split("\r\n")
        .collect::<Vec<_>>()
        .chunks(2)
        .filter_map(|pair| pair.get(1).copied())
        .collect();
    assert_eq!(data, "hello world");
}

#[tokio::test]
async fn the_replica_gets_the_host_the_client_named_or_an_empty_one() {
    let gw = TestGateway::start(svc()).await;
    let script: Script = |_| (b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false);
    let replica = Scripted::start(script, usize::MAX).await;
    gw.ready_replica("svc", replica.addr);
    let exchange = |request: &'static str| async move {
        let mut raw = TcpStream::connect(gw.addr).await.unwrap();
        raw.write_all(request.as_bytes()).await.unwrap();
        let mut received = Vec::new();
        within("the answer and close", raw.read_to_end(&mut received))
            .await
            .unwrap();
        String::from_utf8_lossy(&received).into_owned()
    };
    // HTTP/1.0 may name no host; the replica's HTTP/1.1 hop needs one, empty then.
    let text = exchange("GET /a HTTP/1.0\r\n\r\n").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // An absolute-form target's authority replaces the Host header (RFC 9112 §3.2.2).
    let text = exchange(
        "GET http://svc.localhost/b HTTP/1.1\r\nhost: other.test\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // HTTP/1.1 without any host is refused, as RFC 9112 §3.2 requires.
    let text = exchange("GET /c HTTP/1.1\r\n\r\n").await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("needs a Host header"), "{text}");
    assert_eq!(
        replica.requests(),
        [
            "GET /a HTTP/1.1\r\nhost: \r\n\r\n",
            "GET /b HTTP/1.1\r\nhost: svc.localhost\r\n\r\n",
        ]
    );
}

#[tokio::test]
async fn a_replica_answering_before_the_body_is_all_sent_is_passed_on() {
    let gw = TestGateway::start(svc()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0);
            seen.extend_from_slice(&buf[..n]);
        }
        // Refuses the body at once; then neither reads on nor closes.
        let answer = b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 8\r\n\r\ntoo big\n";
        stream.write_all(answer).await.expect("write");
        tokio::time::sleep(PATIENCE * 2).await;
    });
    gw.ready_replica("svc", addr);
    let (tx, rx) = mpsc::channel(1);
    let req = Request::post("/")
        .header("host", "svc.localhost")
        .body(TestBody::Channel(rx))
        .unwrap();
    tx.send(Bytes::from_static(b"the start of a body that never ends"))
        .await
        .unwrap();
    let reply = read(send(gw.addr, req).await).await;
    assert_eq!(
        (reply.status.as_u16(), reply.body.as_str()),
        (413, "too big\n")
    );
    eventually("the slot released", || gw.in_flight() == 0).await;
    drop(tx);
}

/// What a mangling replica answers to the request tagged `tag`: one of a few responses whose
/// body is `<tag>`, a third of them followed by a whole response nobody asked for, with the
/// heads mangled (seeded by the tag) and the body left alone, so that a reply can be matched
/// to its request. `true`: the replica closes after it.
fn mangled_answer(tag: u64) -> (Vec<u8>, bool) {
    let mut rng = Seeded(tag);
    let body = format!("<{tag:04}>");
    let (head, framed, close) = match rng.below(5) {
        0 => (
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()),
            body,
            false,
        ),
        1 => (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_string(),
            format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()),
            false,
        ),
        2 => (
            format!(
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                body.len()
            ),
            body,
            false,
        ),
        3 => (
            format!(
                "HTTP/1.1 204 No Content\r\ncontent-length: {}\r\n\r\n",
                body.len()
            ),
            body,
            false,
        ),
        _ => ("HTTP/1.0 200 OK\r\n\r\n".to_string(), body, true),
    };
    let mut answer = head.into_bytes();
    let head_len = answer.len();
    mangle(&mut rng, &mut answer, head_len);
    answer.extend_from_slice(framed.as_bytes());
    if rng.below(3) == 0 {
        answer.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n<9999>");
    }
    (answer, close)
}

#[tokio::test]
async fn mangled_responses_reach_only_their_own_client_and_leave_nothing_held() {
    let mut svc = ServiceConfig::new("svc");
    svc.response_timeout = Duration::from_millis(300);
    let gw = TestGateway::start(GatewayConfig::new(vec![svc])).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Idle for 100 ms, the replica closes: that ends a body the gateway reads to
                // the connection's end because its framing was mangled away.
                let idle = Duration::from_millis(100);
                while let Ok(Some(request)) =
                    tokio::time::timeout(idle, read_request(&mut stream)).await
                {
                    let tag = request.lines().find_map(|l| l.strip_prefix("x-tag: "));
                    let (answer, close) = match tag.and_then(|t| t.trim().parse().ok()) {
                        Some(tag) => mangled_answer(tag),
                        None => (
                            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nclean".to_vec(),
                            false,
                        ),
                    };
                    if stream.write_all(&answer).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    gw.ready_replica("svc", addr);
    // Eight clients one after another each, so that pooled replica connections are reused.
    let mut lanes = tokio::task::JoinSet::new();
    for lane in 0..8u64 {
        lanes.spawn(async move {
            let mut seen = Vec::new();
            for tag in (lane..200).step_by(8) {
                let req = Request::get("/")
                    .header("host", "svc.localhost")
                    .header("x-tag", tag.to_string())
                    .body(TestBody::empty())
                    .unwrap();
                let mut sender = connect(gw.addr).await;
                let response = within("response headers", sender.send_request(req)).await;
                let Ok(response) = response else {
                    seen.push("closed".to_string());
                    continue;
                };
                let status = response.status().as_u16();
                // A body cut short ends in an error; what arrived is checked all the same.
                let mut body = response.into_body();
                let mut text = String::new();
                while let Some(Ok(frame)) =
                    within(&format!("the body for {tag}"), body.frame()).await
                {
                    if let Ok(data) = frame.into_data() {
                        text += &String::from_utf8_lossy(&data);
                    }
                }
                let own = format!("<{tag:04}>");
                let whole_tags = text.match_indices('<').filter_map(|(at, _)| {
                    let tag = text.get(at..at + 6)?;
                    (tag.ends_with('>') && tag[1..5].bytes().all(|b| b.is_ascii_digit()))
                        .then_some(tag)
                });
                // The unasked-for response may only arrive inside this request's own answer
                // (read to the connection's end); anything else is an answer out of step.
                let unasked = "<9999>";
                for other in whole_tags.filter(|t| *t != own) {
                    let after_own = text.find(&own).is_some_and(|at| text[at..].contains(other));
                    assert!(
                        other == unasked && after_own,
                        "request {tag} got {status} with the body of {other}: {text:?}"
                    );
                }
                seen.push(if text == own {
                    format!("{status} own body")
                } else {
                    status.to_string()
                });
            }
            seen
        });
    }
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    while let Some(seen) = lanes.join_next().await {
        for outcome in seen.unwrap() {
            *outcomes.entry(outcome).or_default() += 1;
        }
    }
    eventually("every request to be released", || gw.in_flight() == 0).await;
    assert!(
        outcomes.contains_key("200 own body") && outcomes.contains_key("502"),
        "{outcomes:?}"
    );
    let clean = get(gw.addr, "svc.localhost", "/").await;
    assert_eq!((clean.status.as_u16(), clean.body.as_str()), (200, "clean"));
    eprintln!("outcomes of 200 mangled responses: {outcomes:?}");
}
