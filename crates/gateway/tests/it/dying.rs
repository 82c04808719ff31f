//! A replica that dies (its process killed: the kernel closes its sockets) at any point of an
//! exchange: every request still gets an answer, and its slot is released.
//!
//! The replicas here are raw TCP servers, so each test chooses the exact moment of death and
//! how the connection ends (FIN, as for a connection with nothing unread, or RST).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ebb_gateway::{GatewayConfig, ServiceConfig};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::support::*;

fn svc() -> GatewayConfig {
    // The default responseTimeout (300 s) is far beyond PATIENCE: a request the gateway holds
    // on a dead connection fails the test instead of ending in a 504.
    GatewayConfig::new(vec![ServiceConfig::new("svc")])
}

/// How a connection ends when its replica dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hangup {
    /// Nothing unread: the kernel closes it in order.
    Fin,
    /// Reset, as when unread bytes were left behind.
    Reset,
}

/// Read one request head (these tests send no bodies); false if the connection ended first.
async fn read_head(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    true
}

fn hang_up(stream: TcpStream, how: Hangup) {
    if how == Hangup::Reset {
        let _ = stream.set_zero_linger();
    }
    drop(stream);
}

/// A replica that answers `ok` on keep-alive connections until told to hang up the ones it
/// has open, which it then does while they sit idle in the gateway's pool.
struct KeepAliveReplica {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    hangup: watch::Sender<Option<Hangup>>,
}

impl KeepAliveReplica {
    async fn start() -> KeepAliveReplica {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (hangup, _) = watch::channel(None);
        let (accepted, open) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (signal, a, o) = (hangup.clone(), accepted.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                o.fetch_add(1, Ordering::SeqCst);
                let mut told = signal.subscribe();
                told.borrow_and_update();
                let o = o.clone();
                tokio::spawn(async move {
                    Self::serve(stream, told).await;
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        KeepAliveReplica {
            addr,
            accepted,
            open,
            hangup,
        }
    }

    async fn serve(mut stream: TcpStream, mut told: watch::Receiver<Option<Hangup>>) {
        loop {
            tokio::select! {
                more = read_head(&mut stream) => if !more { return },
                _ = told.changed() => {
                    let how = (*told.borrow()).unwrap_or(Hangup::Fin);
                    hang_up(stream, how);
                    return;
                }
            }
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if stream.write_all(answer).await.is_err() {
                return;
            }
        }
    }

    /// Hang up every open connection and wait until they are closed.
    async fn hang_up_idle_connections(&self, how: Hangup) {
        self.hangup.send_replace(Some(how));
        eventually("the replica to hang up", || {
            self.open.load(Ordering::SeqCst) == 0
        })
        .await;
    }
}

#[tokio::test]
async fn a_pooled_connection_whose_replica_hung_up_while_idle_is_replaced() {
    for how in [Hangup::Fin, Hangup::Reset] {
        let gw = TestGateway::start(svc()).await;
        let replica = KeepAliveReplica::start().await;
        gw.ready_replica("svc", replica.addr);
        let reply = get(gw.addr, "svc.localhost", "/").await;
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "ok"));
        // The connection is idle in the pool; the replica's end of it closes.
        replica.hang_up_idle_connections(how).await;
        let reply = get(gw.addr, "svc.localhost", "/").await;
        assert_eq!(
            (reply.status.as_u16(), reply.body.as_str()),
            (200, "ok"),
            "{how:?}: {reply:?}"
        );
        assert_eq!(replica.accepted.load(Ordering::SeqCst), 2, "{how:?}");
        eventually("the slot released", || gw.in_flight() == 0).await;
    }
}

#[tokio::test]
async fn with_every_pooled_connection_hung_up_requests_go_to_new_ones() {
    // Several pooled connections, all dead at once (a killed replica), then a burst.
    let gw = TestGateway::start(svc()).await;
    let replica = KeepAliveReplica::start().await;
    gw.ready_replica("svc", replica.addr);
    let burst = |n| {
        let addr = gw.addr;
        futures::future::join_all((0..n).map(move |_| get(addr, "svc.localhost", "/")))
    };
    for reply in burst(8).await {
        assert_eq!(reply.status.as_u16(), 200, "{reply:?}");
    }
    let pooled = replica.accepted.load(Ordering::SeqCst);
    replica.hang_up_idle_connections(Hangup::Fin).await;
    for reply in burst(8).await {
        assert_eq!(
            (reply.status.as_u16(), reply.body.as_str()),
            (200, "ok"),
            "{reply:?}"
        );
    }
    assert!(replica.accepted.load(Ordering::SeqCst) > pooled);
    eventually("every slot released", || gw.in_flight() == 0).await;
}

/// Where in the exchange a replica dies.
#[derive(Debug, Clone, Copy)]
enum Death {
    /// The response head was sent (`content-length: 10`), none of the body.
    AfterHead,
    /// Half of the body was sent.
    MidBody,
}

/// A replica that reads each request, answers as far as `death` says and hangs up.
async fn dies(death: Death, how: Hangup) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                if !read_head(&mut stream).await {
                    return;
                }
                let sent: &[u8] = match death {
                    Death::AfterHead => b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n",
                    Death::MidBody => b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf.",
                };
                if stream.write_all(sent).await.is_ok() {
                    hang_up(stream, how);
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_replica_dying_during_its_response_ends_the_response_with_an_error() {
    for death in [Death::AfterHead, Death::MidBody] {
        for how in [Hangup::Fin, Hangup::Reset] {
            let gw = TestGateway::start(svc()).await;
            gw.ready_replica("svc", dies(death, how).await);
            let req = get_svc("/");
            let mut client = connect(gw.addr).await;
            // The gateway passed the replica's head on: it cannot answer 502 any more, it can
            // only cut the response short (before its head left, or in its body).
            match within("the response head", client.send_request(req)).await {
                Ok(response) => {
                    assert_eq!(response.status().as_u16(), 200, "{death:?} {how:?}");
                    let body = within("the body to end", response.into_body().collect()).await;
                    assert!(body.is_err(), "{death:?} {how:?}: {body:?}");
                }
                Err(error) => assert!(error.is_incomplete_message(), "{death:?} {how:?}: {error}"),
            }
            eventually("the slot released", || gw.in_flight() == 0).await;
        }
    }
}
