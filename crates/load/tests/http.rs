//! The HTTP/1.1 client against hand-written servers on 127.0.0.1 that answer with every
//! framing a real server may use, in pieces, and that misbehave.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ebb_load::{Mode, RunOptions, Summary, run};
use support::config;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How the raw server answers each request.
#[derive(Clone)]
struct Script {
    /// Written in this many pieces, 5 ms apart, so the client sees partial reads.
    pieces: Vec<&'static [u8]>,
    /// Close the connection after each response.
    close: bool,
}

struct RawServer {
    url: String,
    connections: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn raw_server(script: Script) -> RawServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let (c, r) = (connections.clone(), requests.clone());
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream, script.clone(), r.clone()));
        }
    });
    RawServer {
        url,
        connections,
        requests,
        task,
    }
}

async fn serve(mut stream: TcpStream, script: Script, requests: Arc<AtomicU64>) {
    let mut buf = Vec::new();
    loop {
        // Read one request head (these tests send no bodies).
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        buf.drain(..end);
        requests.fetch_add(1, Ordering::SeqCst);
        for piece in &script.pieces {
            if stream.write_all(piece).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if script.close {
            return;
        }
    }
}

async fn load(url: &str, workers: u32, requests: u64) -> Summary {
    let mut config = config(url, Mode::Concurrency { workers });
    config.max_requests = Some(requests);
    config.timeout = Duration::from_secs(5);
    run(config, RunOptions::default(), CancellationToken::new())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_bodies_with_trailers_arriving_in_pieces() {
    let server = raw_server(Script {
        pieces: vec![
            b"HTTP/1.1 200 OK\r\nTransfer-",
            b"Encoding: chunked\r\n\r\n5\r\nhel",
            b"lo\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: yes\r\n",
            b"\r\n",
        ],
        close: false,
    })
    .await;
    let summary = load(&server.url, 2, 20).await;
    assert_eq!(summary.status_codes.get(&200), Some(&20), "{summary:?}");
    assert_eq!(summary.bytes_received, 20 * 12);
    assert_eq!(server.connections.load(Ordering::SeqCst), 2, "kept alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_delimited_and_connection_close_responses() {
    let http10 = raw_server(Script {
        pieces: vec![b"HTTP/1.0 200 OK\r\n\r\nbody until ", b"the end"],
        close: true,
    })
    .await;
    let summary = load(&http10.url, 2, 10).await;
    assert_eq!(summary.status_codes.get(&200), Some(&10), "{summary:?}");
    assert_eq!(summary.bytes_received, 10 * 18);
    assert_eq!(http10.connections.load(Ordering::SeqCst), 10);

    let closing = raw_server(Script {
        pieces: vec![b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy"],
        close: true,
    })
    .await;
    let summary = load(&closing.url, 1, 5).await;
    assert_eq!(summary.status_codes.get(&503), Some(&5), "{summary:?}");
    assert_eq!(summary.requests.failed, 5, "5xx responses are failures");
    assert_eq!(closing.connections.load(Ordering::SeqCst), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interim_responses_are_skipped() {
    let server = raw_server(Script {
        pieces: vec![
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
        ],
        close: false,
    })
    .await;
    let summary = load(&server.url, 1, 4).await;
    assert_eq!(summary.status_codes.get(&201), Some(&4), "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_closed_while_idle_is_reopened_without_an_error() {
    // Says nothing about closing, then closes: the next request finds a dead connection.
    let server = raw_server(Script {
        pieces: vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
        close: true,
    })
    .await;
    let summary = load(&server.url, 1, 6).await;
    assert_eq!(summary.status_codes.get(&200), Some(&6), "{summary:?}");
    assert!(summary.errors.is_empty(), "{summary:?}");
    assert_eq!(server.requests.load(Ordering::SeqCst), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_responses_are_counted_by_kind() {
    let garbage = raw_server(Script {
        pieces: vec![b"SSH-2.0-OpenSSH_9.2\r\n\r\n"],
        close: false,
    })
    .await;
    let summary = load(&garbage.url, 1, 3).await;
    assert_eq!(summary.errors.get("protocol"), Some(&3), "{summary:?}");

    let cut = raw_server(Script {
        pieces: vec![b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"],
        close: true,
    })
    .await;
    let summary = load(&cut.url, 1, 3).await;
    assert_eq!(summary.errors.get("closed"), Some(&3), "{summary:?}");
    assert!(summary.status_codes.is_empty());
}

/// A response with a padding header of `size` bytes (leaked: a test lives as long as it needs).
fn padded(size: usize) -> &'static [u8] {
    let mut head = b"HTTP/1.1 200 OK\r\nX-Padding: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', size));
    head.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\nok");
    head.leak()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_heads_grow_the_buffer_up_to_a_limit() {
    let server = raw_server(Script {
        pieces: vec![padded(20_000)],
        close: false,
    })
    .await;
    let summary = load(&server.url, 1, 3).await;
    assert_eq!(summary.status_codes.get(&200), Some(&3), "{summary:?}");

    let server = raw_server(Script {
        pieces: vec![padded(100_000)],
        close: false,
    })
    .await;
    let summary = load(&server.url, 1, 2).await;
    assert_eq!(summary.errors.get("protocol"), Some(&2), "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_finds_the_address_that_listens() {
    let server = raw_server(Script {
        pieces: vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
        close: false,
    })
    .await;
    // The server listens on 127.0.0.1 only; localhost may resolve to ::1 first.
    let url = server.url.replace("127.0.0.1", "localhost");
    let summary = load(&url, 2, 10).await;
    assert_eq!(summary.status_codes.get(&200), Some(&10), "{summary:?}");
}
