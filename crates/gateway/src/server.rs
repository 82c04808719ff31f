//! Accepting client connections: the connection limit, HTTP/1.1 or h2c, graceful shutdown.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::Shared;
use crate::buffer::ReadBuf;
use crate::config::Limits;
use crate::sock::poll_fill;
use crate::{client_h1, proxy};

/// How long open connections get to finish their requests after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Back-off after a failed accept (out of file descriptors): let connections close first.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// The HTTP/2 client preface; anything else is taken as HTTP/1.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub(crate) async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let permits = shared.connection_permits.clone();
    // hyper's connections (HTTP/2) are told to finish by `graceful`, the gateway's own
    // (HTTP/1) by `stop`; each of those holds a receiver until it ends.
    let graceful = GracefulShutdown::new();
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Taking the permit before accepting leaves excess connections in the listen backlog.
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "Accepting a connection failed.");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let open = OpenConnection::new(permit, shared.metrics.connections.clone());
        tokio::spawn(serve_connection(
            shared.clone(),
            stream,
            graceful.watcher(),
            stopping.clone(),
            open,
        ));
    }
    drop(listener);
    drop(stopping);
    stop.send_replace(true);
    let finished = async {
        tokio::join!(graceful.shutdown(), stop.closed());
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, finished)
        .await
        .is_err()
    {
        tracing::warn!("Connections still open after the shutdown grace period; closing them.");
    }
    Ok(())
}

async fn serve_connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    watcher: Watcher,
    stop: watch::Receiver<bool>,
    _open: OpenConnection,
) {
    let _ = stream.set_nodelay(true);
    let mut first = ReadBuf::default();
    let limits = &shared.limits;
    let sniffed = sniff_h2(
        &stream,
        &mut first,
        limits.max_header_bytes,
        limits.header_read_timeout,
    );
    let is_h2 = match sniffed.await {
        Ok(Some(is_h2)) => is_h2,
        Ok(None) => return,
        Err(error) => {
            tracing::debug!(%error, "Client connection failed before its first request.");
            return;
        }
    };
    if is_h2 {
        drop(stop);
        let stream = Replay::new(first.pending().to_vec(), stream);
        drop(first);
        // Boxed: hyper's HTTP/2 state is large; unboxed it would be part of every
        // connection's task, HTTP/1 ones included.
        Box::pin(serve_h2(shared, stream, watcher)).await;
    } else {
        drop(watcher);
        client_h1::serve(shared, stream, first, stop).await;
    }
}

async fn serve_h2(shared: Arc<Shared>, stream: Replay, watcher: Watcher) {
    let limits = shared.limits.clone();
    // Boxed: hyper keeps one request future allocated per connection for the connection's
    // life; the box keeps that to a pointer.
    let service = service_fn(move |req| {
        let shared = shared.clone();
        Box::pin(async move { Ok::<_, Infallible>(proxy::handle(&shared, req).await) })
    });
    let io = TokioIo::new(stream);
    let result = watcher
        .watch(h2_builder(&limits).serve_connection(io, service))
        .await;
    if let Err(error) = result {
        tracing::debug!(%error, "Client connection ended with an error.");
    }
}

fn h2_builder(limits: &Limits) -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(limits.header_read_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    builder
}

/// Read the first bytes into `buf` and tell HTTP/2 prior knowledge (h2c) from HTTP/1.
/// `None`: the client closed, or had not sent enough to tell within `timeout`.
///
/// Read, not peeked: a client that stops within the preface ("P", "PRI * ...") is then
/// waited for like any other, on the socket's readiness (a peek would see the same bytes
/// again at once, and could not see the client close after them).
async fn sniff_h2(
    stream: &TcpStream,
    buf: &mut ReadBuf,
    max_head: usize,
    timeout: Duration,
) -> io::Result<Option<bool>> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let first = &buf.pending()[..buf.len().min(H2_PREFACE.len())];
        if *first != H2_PREFACE[..first.len()] {
            return Ok(Some(false));
        }
        if first.len() == H2_PREFACE.len() {
            return Ok(Some(true));
        }
        let read = poll_fn(|cx| poll_fill(stream, buf, max_head, cx));
        match tokio::time::timeout_at(deadline, read).await {
            Ok(Ok(0)) | Err(_) => return Ok(None),
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(error),
        }
    }
}

/// An HTTP/2 client's stream whose first bytes were read to tell its protocol: hyper reads
/// them again first.
struct Replay {
    first: Vec<u8>,
    at: usize,
    stream: TcpStream,
}

impl Replay {
    fn new(first: Vec<u8>, stream: TcpStream) -> Replay {
        Replay {
            first,
            at: 0,
            stream,
        }
    }
}

impl AsyncRead for Replay {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.first.len() {
            let n = out.remaining().min(this.first.len() - this.at);
            out.put_slice(&this.first[this.at..this.at + n]);
            this.at += n;
            if this.at == this.first.len() {
                this.first = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, out)
    }
}

impl AsyncWrite for Replay {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Holds a connection-limit permit and the open-connections gauge for the connection's lifetime.
struct OpenConnection {
    _permit: OwnedSemaphorePermit,
    gauge: Gauge,
}

impl OpenConnection {
    fn new(permit: OwnedSemaphorePermit, gauge: Gauge) -> Self {
        gauge.inc();
        OpenConnection {
            _permit: permit,
            gauge,
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}
