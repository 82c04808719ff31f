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
//! An idle connection is not polled; one the replica closed meanwhile is found out when it is
//! checked out (hyper reads the end of stream before it writes).

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

/// One connection to a replica: the handle to send on and the state machine that does the I/O.
pub(crate) struct Conn {
    sender: http1::SendRequest<RequestBody>,
    /// Boxed: hyper's connection state is large, and a `Conn` moves in and out of the pool.
    driver: Pin<Box<http1::Connection<TokioIo<TcpStream>, RequestBody>>>,
    /// The driver returned: the connection is closed.
    finished: bool,
    /// Came from the pool (it may have been closed by the replica while idle).
    pub(crate) reused: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("finished", &self.finished)
            .finish()
    }
}

impl Conn {
    /// Do whatever I/O the connection can do now. Ready once the connection is closed.
    pub(crate) fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.finished {
            return Poll::Ready(());
        }
        match self.driver.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                if let Err(error) = result {
                    tracing::debug!(%error, "Upstream connection ended with an error.");
                }
                self.finished = true;
                Poll::Ready(())
            }
        }
    }

    /// Send `req`, driving the connection until the response head arrives.
    pub(crate) async fn send(
        &mut self,
        req: Request<RequestBody>,
    ) -> Result<Response<Incoming>, TrySendError<Request<RequestBody>>> {
        let mut response = std::pin::pin!(self.sender.try_send_request(req));
        let (driver, finished) = (&mut self.driver, &mut self.finished);
        poll_fn(|cx| {
            if let Poll::Ready(result) = response.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            if !*finished && let Poll::Ready(result) = driver.as_mut().poll(cx) {
                if let Err(error) = result {
                    tracing::debug!(%error, "Upstream connection ended with an error.");
                }
                *finished = true;
            }
            // Once the driver has finished, hyper has answered every pending request.
            response.as_mut().poll(cx)
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
        if conn.finished || conn.sender.is_closed() {
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
        let (sender, driver) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        Ok(Conn {
            sender,
            driver: Box::pin(driver),
            finished: false,
            reused: false,
        })
    }
}
