//! Connections to one replica: a LIFO pool of idle HTTP/1.1 keep-alive connections.
//!
//! The pool is ours rather than hyper-util's for two reasons:
//!
//! - a request is only handed to hyper once a connection exists, so a refused connect leaves it
//!   in our hands, and `try_send_request` gives it back if the connection died before a byte
//!   was written: both can go to another replica (retry only where nothing was sent);
//! - a connection is driven by the task of the request using it (hyper's `Connection` future is
//!   polled alongside the response and its body) instead of by a task of its own. A proxied
//!   request then runs in one task from the client's socket to the replica's and back, with no
//!   hand-offs between tasks — the cheapest path tokio offers.
//!
//! An idle connection is not polled; one the replica closed meanwhile (its process was killed,
//! say) is found out when it is next used: hyper reads the end of stream before it writes, and
//! the request comes back unsent, free to go elsewhere. hyper hands a request still queued on
//! a connection that ended cleanly back only when its `Connection` is dropped, so a driver that
//! has returned is dropped at once; kept, the request would wait on a closed connection until
//! `responseTimeout`.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http1};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::body::RequestBody;

/// Replicas are local or in-cluster; a connect that takes longer is as good as refused.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// hyper's state machine for one connection. Boxed: it is large, and a `Conn` moves in and
/// out of the pool.
type Driver = Pin<Box<http1::Connection<TokioIo<TcpStream>, RequestBody>>>;

/// One connection to a replica: the handle to send on and the state machine that does the I/O.
pub(crate) struct Conn {
    sender: http1::SendRequest<RequestBody>,
    /// `None` once the connection has closed (see the module docs for why it is dropped).
    driver: Option<Driver>,
    /// Came from the pool (it may have been closed by the replica while idle).
    pub(crate) reused: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Do whatever I/O the connection can do now. Ready once it is closed, and its driver dropped.
fn drive(driver: &mut Option<Driver>, cx: &mut Context<'_>) -> Poll<()> {
    let Some(running) = driver else {
        return Poll::Ready(());
    };
    let result = std::task::ready!(running.as_mut().poll(cx));
    if let Err(error) = result {
        tracing::debug!(%error, "Upstream connection ended with an error.");
    }
    // A request still queued on it is answered now, with the request given back.
    *driver = None;
    Poll::Ready(())
}

impl Conn {
    /// A connection over `stream`, which is connected to a replica.
    async fn handshake(stream: TcpStream) -> io::Result<Conn> {
        let (sender, driver) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        Ok(Conn {
            sender,
            driver: Some(Box::pin(driver)),
            reused: false,
        })
    }

    fn is_closed(&self) -> bool {
        self.driver.is_none()
    }

    /// Do whatever I/O the connection can do now. Ready once the connection is closed.
    pub(crate) fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        drive(&mut self.driver, cx)
    }

    /// Send `req`, driving the connection until the response head arrives.
    ///
    /// A connection that closes before it has taken `req` gives it back in the error
    /// ([`TrySendError::take_message`]): nothing was written, it may go to another connection.
    pub(crate) async fn send(
        &mut self,
        req: Request<RequestBody>,
    ) -> Result<Response<Incoming>, TrySendError<Request<RequestBody>>> {
        let mut response = std::pin::pin!(self.sender.try_send_request(req));
        let driver = &mut self.driver;
        poll_fn(|cx| {
            if let Poll::Ready(result) = response.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            match drive(driver, cx) {
                // Its driver is dropped: hyper has answered the request, one way or another.
                Poll::Ready(()) => response.as_mut().poll(cx),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Like [`ready`](Self::ready), giving up after `limit`; a timer only if not ready at once.
    async fn ready_within(&mut self, limit: Duration) -> bool {
        let mut ready = std::pin::pin!(self.ready());
        match poll_fn(|cx| Poll::Ready(ready.as_mut().poll(cx))).await {
            Poll::Ready(ready) => ready,
            Poll::Pending => tokio::time::timeout(limit, ready).await.unwrap_or(false),
        }
    }

    /// Drive the connection until it can take a request; `false` if it is closed.
    async fn ready(&mut self) -> bool {
        poll_fn(|cx| {
            if self.is_closed() {
                return Poll::Ready(false);
            }
            if self.sender.is_ready() {
                return Poll::Ready(true);
            }
            let closed = self.poll_drive(cx).is_ready();
            match self.sender.poll_ready(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(true),
                Poll::Ready(Err(_)) => Poll::Ready(false),
                Poll::Pending if closed => Poll::Ready(false),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}

/// One replica's address and idle connections.
///
/// Idle connections are kept per thread. A connection belongs to the I/O driver of the runtime
/// that opened it; when the gateway runs one current-thread runtime per core, reusing it from
/// another thread would route every wakeup through that other thread.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) addr: SocketAddr,
    idle: Box<[Mutex<Vec<Conn>>]>,
    max_idle: usize,
}

const SHARDS: usize = 16;

/// This thread's pool shard.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

/// Waiting for a pooled connection to be ready is bounded; a healthy one is ready at once.
const READY_WAIT: Duration = Duration::from_secs(1);

impl Upstream {
    pub(crate) fn new(addr: SocketAddr, max_idle: usize) -> Self {
        let idle = (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect();
        Upstream {
            addr,
            idle,
            max_idle,
        }
    }

    /// An idle pooled connection if one is usable, else a new one.
    pub(crate) async fn checkout(&self) -> io::Result<Conn> {
        while let Some(mut conn) = self.pop_idle() {
            if conn.ready_within(READY_WAIT).await {
                conn.reused = true;
                return Ok(conn);
            }
        }
        // Boxed: connecting is the rare path, and its future would otherwise enlarge every
        // request's future (which hyper keeps allocated for each client connection).
        match Box::pin(tokio::time::timeout(CONNECT_TIMEOUT, self.connect())).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection within {CONNECT_TIMEOUT:?}"),
            )),
        }
    }

    /// Put a connection whose response has ended back into the pool.
    pub(crate) fn checkin(&self, conn: Conn) {
        if conn.is_closed() || conn.sender.is_closed() {
            return;
        }
        let mut idle = self.idle[shard()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// Drop every idle connection (after one turned out dead, the others likely are too).
    pub(crate) fn clear_idle(&self) {
        for shard in &self.idle {
            let stale = std::mem::take(&mut *shard.lock().unwrap_or_else(PoisonError::into_inner));
            drop(stale);
        }
    }

    /// This thread's most recent idle connection; failing that, another thread's (tasks of a
    /// multi-threaded runtime move between threads, and their connections with them).
    fn pop_idle(&self) -> Option<Conn> {
        let own = shard();
        (0..SHARDS).find_map(|i| {
            let shard = &self.idle[(own + i) % SHARDS];
            shard.lock().unwrap_or_else(PoisonError::into_inner).pop()
        })
    }

    async fn connect(&self) -> io::Result<Conn> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        Conn::handshake(stream).await
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Mutex;

    use bytes::Bytes;
    use http_body_util::Empty;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

    use super::*;

    /// A request body as the gateway gets one from a client (here a GET's empty body), which
    /// only hyper's server can make.
    async fn client_body() -> Incoming {
        let (client_io, server_io) = tokio::io::duplex(4096);
        let (tx, rx) = oneshot::channel();
        let tx = Mutex::new(Some(tx));
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(req.into_body());
            }
            async { Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new())) }
        });
        tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(server_io), service),
        );
        let (mut sender, conn) = http1::handshake(TokioIo::new(client_io)).await.unwrap();
        tokio::spawn(conn);
        let get = Request::get("/").body(Empty::<Bytes>::new()).unwrap();
        sender.send_request(get).await.unwrap();
        rx.await.unwrap()
    }

    /// Connected to a replica that answers one request, then closes the connection in order
    /// (as the kernel does when the process is killed) once `hang_up` fires and says so.
    async fn answers_once_then_hangs_up() -> (Conn, oneshot::Sender<()>, oneshot::Receiver<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (hang_up, told) = oneshot::channel::<()>();
        let (closed, hung_up) = oneshot::channel::<()>();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let mut buf = [0u8; 1024];
                let n = stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request head");
                head.extend_from_slice(&buf[..n]);
            }
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
            stream.write_all(answer).await.unwrap();
            let _ = told.await;
            drop(stream);
            let _ = closed.send(());
        });
        let conn = Conn::handshake(TcpStream::connect(addr).await.unwrap())
            .await
            .unwrap();
        (conn, hang_up, hung_up)
    }

    async fn get() -> Request<RequestBody> {
        Request::get("/")
            .body(RequestBody::new(client_body().await, 0))
            .unwrap()
    }

    #[tokio::test]
    async fn an_idle_connection_closed_by_its_replica_gives_the_next_request_back() {
        let (mut conn, hang_up, hung_up) = answers_once_then_hangs_up().await;
        let response = conn.send(get().await).await.unwrap();
        assert_eq!(response.status(), 200);
        // Idle and ready for the next request, as a pooled connection is.
        assert!(conn.ready_within(Duration::from_secs(10)).await);
        hang_up.send(()).unwrap();
        hung_up.await.unwrap();
        // The end of stream has arrived (loopback): hyper reads it before it writes.
        let sent = tokio::time::timeout(Duration::from_secs(10), conn.send(get().await))
            .await
            .expect("an answer, not a wait on a closed connection");
        let mut error = sent.expect_err("the connection is closed");
        assert!(error.take_message().is_some(), "unsent: {error:?}");
        assert!(conn.is_closed());
    }
}
