//! Connections to one replica: a LIFO pool of idle HTTP/1.1 keep-alive connections.
//!
//! A request is only written once a connection exists, so a refused connect leaves it in the
//! gateway's hands, free to go to another replica. A pooled connection is not watched while
//! idle; one the replica closed meanwhile (its process was killed, its keep-alive timeout
//! passed) is found out when it is taken: a read that does not block means the replica sent
//! its end of stream (or something unasked), and the connection is dropped before a byte of
//! the request is written. Checking costs nothing when tokio already knows the socket is
//! quiet, and one `read` that returns `EAGAIN` otherwise.
//!
//! The read buffer goes back to the thread's pool while the connection is idle.
//!
//! [`Conn::send`] writes a request head (made by the proxy) and streams the client's body,
//! then reads the response head; the response body is read by `body::ProxiedBody`.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::body::{Body, Frame};
use tokio::net::TcpStream;

use crate::body::{BodyReadTimeout, BodyTooLarge, BoxError, ClientBodyFailed};
use crate::buffer::ReadBuf;
use crate::h1::chunked::{LAST_CHUNK, chunk_header};
use crate::h1::head::{BadResponse, Framing, HeaderSink, parse_response};
use crate::sock::{poll_fill, poll_write_all};

/// Replicas are local or in-cluster; a connect that takes longer is as good as refused.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most bytes read ahead from a replica: a response head must fit, body bytes are passed on
/// before more are read.
pub(crate) const MAX_READ: usize = 64 * 1024;

/// One connection to a replica.
pub(crate) struct Conn {
    stream: TcpStream,
    /// Bytes the replica sent that have not been passed on.
    pub(crate) buf: ReadBuf,
    /// Came from the pool.
    pub(crate) reused: bool,
    /// The thread that opened it (see [`this_thread`]).
    home: usize,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("reused", &self.reused)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl Conn {
    fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: ReadBuf::default(),
            reused: false,
            home: this_thread(),
        }
    }

    /// An idle connection is usable if reading it would block: the replica neither closed it
    /// nor sent anything unasked. The read asks the kernel only if epoll reported the socket
    /// readable since the response was read (which emptied it): a close seen by then is caught
    /// without a syscall per request.
    fn is_quiet(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Write `parts`; see [`poll_write_all`] for `written`.
    pub(crate) fn poll_write(
        &self,
        cx: &mut Context<'_>,
        parts: &[&[u8]],
        written: &mut usize,
    ) -> Poll<io::Result<()>> {
        poll_write_all(&self.stream, cx, parts, written)
    }

    /// Read more of the response into [`buf`](Self::buf); `Ok(0)` at end of stream.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        poll_fill(&self.stream, &mut self.buf, MAX_READ, cx)
    }

    async fn write(&self, parts: &[&[u8]], written: &mut usize) -> io::Result<()> {
        poll_fn(|cx| self.poll_write(cx, parts, written)).await
    }

    /// Send `req` and read the response head; the response body is left in the connection.
    ///
    /// The body's first chunk, when the client has already sent it, goes out with the head in
    /// one write (and a body over the limit is found before anything is sent).
    pub(crate) async fn send<B: RequestBodyLike>(
        &mut self,
        req: &mut Outgoing<'_, B>,
        sink: &mut impl HeaderSink,
    ) -> Result<Answer, SendError> {
        if !req.polled {
            req.polled = true;
            let first = poll_fn(|cx| Poll::Ready(Pin::new(&mut req.body).poll_frame(cx))).await;
            match first {
                Poll::Ready(None) => req.ended = true,
                Poll::Ready(Some(frame)) => req.first = frame_data(frame)?,
                Poll::Pending => {}
            }
        }
        let mut size = Vec::new();
        let mut parts: [&[u8]; 4] = [req.head, &[], &[], &[]];
        let mut count = 1;
        if let Some(data) = &req.first {
            if req.chunked {
                chunk_header(data.len(), &mut size);
                parts[1..4].copy_from_slice(&[&size, data, b"\r\n"]);
                count = 4;
            } else {
                parts[1] = data;
                count = 2;
            }
        }
        let mut written = 0;
        if let Err(error) = self.write(&parts[..count], &mut written).await {
            return Err(if written == 0 {
                SendError::Unsent(error)
            } else {
                SendError::Failed(error.into())
            });
        }
        req.first = None;
        let early = if !req.ended {
            self.send_body(&mut req.body, req.chunked, req.is_head)
                .await?
        } else if req.chunked {
            self.write_or_answer(&[LAST_CHUNK], req.is_head).await?
        } else {
            false
        };
        let mut answer = self.read_head(req.is_head, sink).await?;
        if early {
            // The rest of the request is not sent: this connection is out of step.
            answer.keep_alive = false;
        }
        Ok(answer)
    }

    /// Stream the rest of the body; `true` if the replica answered before it was all sent
    /// (as a replica refusing a large upload does), which ends the sending.
    async fn send_body<B: RequestBodyLike>(
        &mut self,
        body: &mut B,
        chunked: bool,
        is_head: bool,
    ) -> Result<bool, SendError> {
        let mut size = Vec::new();
        loop {
            let frame = poll_fn(|cx| {
                if let Poll::Ready(frame) = Pin::new(&mut *body).poll_frame(cx) {
                    return Poll::Ready(Ok(frame));
                }
                self.poll_answer(cx, is_head).map(|r| r.map(|()| None))
            })
            .await?;
            let data = match frame {
                None => break,
                Some(frame) => match frame_data(frame)? {
                    Some(data) => data,
                    None => continue,
                },
            };
            let early = if chunked {
                size.clear();
                chunk_header(data.len(), &mut size);
                self.write_or_answer(&[&size, &data, b"\r\n"], is_head)
                    .await?
            } else {
                self.write_or_answer(&[&data], is_head).await?
            };
            if early {
                return Ok(true);
            }
        }
        if chunked {
            return self.write_or_answer(&[LAST_CHUNK], is_head).await;
        }
        Ok(false)
    }

    /// Write `parts`, unless the replica answers first (`true`).
    async fn write_or_answer(&mut self, parts: &[&[u8]], is_head: bool) -> Result<bool, SendError> {
        let mut written = 0;
        poll_fn(
            |cx| match poll_write_all(&self.stream, cx, parts, &mut written) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(false)),
                Poll::Ready(Err(error)) => Poll::Ready(Err(SendError::Failed(error.into()))),
                Poll::Pending => self.poll_answer(cx, is_head).map(|r| r.map(|()| true)),
            },
        )
        .await
    }

    /// Ready once a final response head is in the buffer (interim ones are dropped), while
    /// the request is still being sent.
    fn poll_answer(&mut self, cx: &mut Context<'_>, is_head: bool) -> Poll<Result<(), SendError>> {
        loop {
            if !self.buf.is_empty() {
                match parse_response(self.buf.pending(), is_head, &mut Ignore) {
                    Err(error) => return Poll::Ready(Err(SendError::Failed(error.into()))),
                    Ok(Some(head)) if head.status < 200 => {
                        self.buf.consume(head.len);
                        continue;
                    }
                    Ok(Some(_)) => return Poll::Ready(Ok(())),
                    Ok(None) => {}
                }
            }
            match std::task::ready!(self.poll_fill(cx)) {
                Ok(0) => {
                    let closed = "the replica closed the connection before its response head";
                    return Poll::Ready(Err(SendError::Failed(closed.into())));
                }
                Ok(_) => {}
                Err(error) => return Poll::Ready(Err(SendError::Failed(error.into()))),
            }
        }
    }

    /// Read the response head, skipping interim (1xx) ones.
    async fn read_head(
        &mut self,
        is_head: bool,
        sink: &mut impl HeaderSink,
    ) -> Result<Answer, SendError> {
        loop {
            if !self.buf.is_empty() {
                let parsed = parse_response(self.buf.pending(), is_head, sink)
                    .map_err(|e| SendError::Failed(e.into()))?;
                if let Some(head) = parsed {
                    self.buf.consume(head.len);
                    if head.status < 200 {
                        continue;
                    }
                    let status = StatusCode::from_u16(head.status)
                        .map_err(|_| SendError::Failed(BadResponse("invalid status").into()))?;
                    return Ok(Answer {
                        status,
                        framing: head.framing,
                        keep_alive: head.keep_alive,
                    });
                }
            }
            match poll_fn(|cx| self.poll_fill(cx)).await {
                Ok(0) => {
                    let closed = "the replica closed the connection before its response head";
                    return Err(SendError::Failed(closed.into()));
                }
                Ok(_) => {}
                Err(error) => return Err(SendError::Failed(error.into())),
            }
        }
    }
}

/// A request body as [`Conn::send`] takes it: the client's, from hyper or read by the gateway.
pub(crate) trait RequestBodyLike: Body<Data = Bytes, Error = BoxError> + Unpin {}

impl<B: Body<Data = Bytes, Error = BoxError> + Unpin> RequestBodyLike for B {}

/// The data of a request body frame, if any (trailers are not passed on).
fn frame_data(frame: Result<Frame<Bytes>, BoxError>) -> Result<Option<Bytes>, SendError> {
    match frame {
        Ok(frame) => Ok(frame.into_data().ok().filter(|d| !d.is_empty())),
        Err(error) => Err(match error.downcast::<BodyTooLarge>() {
            Ok(too_large) => SendError::BodyTooLarge(too_large.limit),
            Err(error) => match error.downcast::<ClientBodyFailed>() {
                Ok(failed) => SendError::Client(failed.0),
                Err(error) => match error.downcast::<BodyReadTimeout>() {
                    Ok(stalled) => SendError::ClientStalled(stalled.timeout),
                    Err(error) => SendError::Failed(error),
                },
            },
        }),
    }
}

/// A request on its way to a replica: the head as the proxy wrote it, and the client's body.
/// It survives a failed attempt that sent nothing, for the next one.
pub(crate) struct Outgoing<'a, B> {
    pub(crate) head: &'a [u8],
    pub(crate) body: B,
    /// The head says `transfer-encoding: chunked`.
    pub(crate) chunked: bool,
    pub(crate) is_head: bool,
    /// The body was polled once before the head was written.
    polled: bool,
    /// What that poll gave, not sent yet.
    first: Option<Bytes>,
    /// That poll found the body's end.
    ended: bool,
}

impl<'a, B> Outgoing<'a, B> {
    pub(crate) fn new(head: &'a [u8], body: B, chunked: bool, is_head: bool) -> Self {
        Outgoing {
            head,
            body,
            chunked,
            is_head,
            polled: false,
            first: None,
            ended: false,
        }
    }
}

/// A replica's response head; its fields went to the caller's [`HeaderSink`].
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) framing: Framing,
    /// The connection may carry another request once the body has been read.
    pub(crate) keep_alive: bool,
}

/// Why [`Conn::send`] failed.
#[derive(Debug)]
pub(crate) enum SendError {
    /// Not a byte of the request was written: it may go to another connection.
    Unsent(io::Error),
    /// The client's body went over the service's limit (this many bytes).
    BodyTooLarge(u64),
    /// The client's body could not be read (why).
    Client(String),
    /// The client sent nothing of its body for this long.
    ClientStalled(Duration),
    /// Failed after the request, or part of it, was written.
    Failed(BoxError),
}

/// Drops header fields (a head looked at, not yet taken).
struct Ignore;

impl HeaderSink for Ignore {
    fn header(&mut self, _: &[u8], _: &[u8]) {}
}

impl HeaderSink for HeaderMap {
    fn header(&mut self, name: &[u8], value: &[u8]) {
        // httparse checked the syntax; `http` is stricter about a few bytes, skip those.
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            self.append(name, value);
        }
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

/// A number for this thread, unique in the process.
fn this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static THREAD: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    THREAD.with(|thread| *thread)
}

/// This thread's pool shard.
fn shard() -> usize {
    this_thread() % SHARDS
}

/// Whether the current runtime's threads share one I/O driver (a multi-threaded runtime), so
/// that a connection one of them opened serves any of them without a cross-thread wakeup.
fn driver_is_shared() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread)
}

impl Upstream {
    pub(crate) fn new(addr: SocketAddr, max_idle: usize) -> Self {
        let idle = (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect();
        Upstream {
            addr,
            idle,
            max_idle,
        }
    }

    /// A usable idle connection, if the pool has one.
    pub(crate) fn take_idle(&self) -> Option<Conn> {
        while let Some(mut conn) = self.pop_idle() {
            if conn.is_quiet() {
                conn.reused = true;
                return Some(conn);
            }
        }
        None
    }

    /// A new connection. Boxed: connecting is the rare path, and its future would otherwise
    /// enlarge every request's.
    pub(crate) async fn connect(&self) -> io::Result<Conn> {
        Box::pin(self.connect_unboxed()).await
    }

    async fn connect_unboxed(&self) -> io::Result<Conn> {
        let connecting = async {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            Ok(Conn::new(stream))
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no connection within {CONNECT_TIMEOUT:?}"),
            )),
        }
    }

    /// Keep a connection whose response has been read to its end, if the replica keeps it.
    pub(crate) fn checkin(&self, mut conn: Conn) {
        if !conn.buf.is_empty() {
            return; // more than the response came: the connection is out of step
        }
        conn.buf.release();
        conn.reused = false;
        let mut idle = self.idle[shard()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// This thread's most recent idle connection; on a multi-threaded runtime, failing that,
    /// another thread's (its tasks move between threads, and their connections with them).
    ///
    /// A current-thread runtime takes only connections it opened: a socket stays registered
    /// with the runtime that opened it, and another runtime using it would be woken through
    /// that runtime's thread on every event (an eventfd write and a context switch per read).
    fn pop_idle(&self) -> Option<Conn> {
        let own = shard();
        if driver_is_shared() {
            return (0..SHARDS).find_map(|i| {
                let shard = &self.idle[(own + i) % SHARDS];
                shard.lock().unwrap_or_else(PoisonError::into_inner).pop()
            });
        }
        let me = this_thread();
        let mut idle = self.idle[own]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let at = idle.iter().rposition(|conn| conn.home == me)?;
        Some(idle.remove(at))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

    use std::sync::Arc;

    use super::*;

    /// A replica that answers one request, then closes the connection in order (as the kernel
    /// does when the process is killed) once told to, and says when it has.
    async fn answers_once_then_hangs_up() -> (SocketAddr, oneshot::Sender<()>, oneshot::Receiver<()>)
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (hang_up, told) = oneshot::channel::<()>();
        let (closed, hung_up) = oneshot::channel::<()>();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request");
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            let _ = told.await;
            drop(stream);
            let _ = closed.send(());
        });
        (addr, hang_up, hung_up)
    }

    async fn exchange(conn: &mut Conn) {
        let mut written = 0;
        std::future::poll_fn(|cx| conn.poll_write(cx, &[b"GET / HTTP/1.1\r\n\r\n"], &mut written))
            .await
            .unwrap();
        let n = std::future::poll_fn(|cx| conn.poll_fill(cx)).await.unwrap();
        assert!(n > 0);
        let len = conn.buf.len();
        conn.buf.consume(len);
    }

    #[tokio::test]
    async fn an_idle_connection_closed_by_its_replica_is_not_handed_out() {
        let (addr, hang_up, hung_up) = answers_once_then_hangs_up().await;
        let upstream = Upstream::new(addr, 4);
        assert!(upstream.take_idle().is_none());
        let mut conn = upstream.connect().await.unwrap();
        exchange(&mut conn).await;
        upstream.checkin(conn);
        let conn = upstream
            .take_idle()
            .expect("the replica has not closed it yet");
        assert!(conn.reused);
        upstream.checkin(conn);
        hang_up.send(()).unwrap();
        hung_up.await.unwrap();
        // The end of stream arrives on loopback at once; allow the kernel a moment anyway.
        let mut found = None;
        for _ in 0..100 {
            let conn = upstream.take_idle();
            match conn {
                Some(conn) => upstream.checkin(conn),
                None => {
                    found = Some(());
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            found.is_some(),
            "the closed connection was dropped, not handed out"
        );
    }

    /// A replica that answers every request with an empty 200, on every connection; on plain
    /// threads, so that it answers while a test's runtime waits for another thread.
    fn answers_always() -> SocketAddr {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while stream.read(&mut buf).is_ok_and(|n| n > 0) {
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if stream.write_all(ok).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    /// A connection pooled after one exchange by another thread: on `handle`'s runtime if
    /// given, else on a current-thread runtime of its own, returned so that it outlives the
    /// test's checks (a connection of a runtime that was shut down is unusable anyway).
    fn pool_one_from_another_thread(
        upstream: &Arc<Upstream>,
        handle: Option<tokio::runtime::Handle>,
    ) -> Option<tokio::runtime::Runtime> {
        let upstream = upstream.clone();
        std::thread::spawn(move || {
            let own = handle.is_none().then(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
            });
            let work = async {
                let mut conn = upstream.connect().await.unwrap();
                exchange(&mut conn).await;
                upstream.checkin(conn);
            };
            match (&own, handle) {
                (Some(runtime), _) => runtime.block_on(work),
                (None, Some(handle)) => handle.block_on(work),
                (None, None) => unreachable!(),
            }
            own
        })
        .join()
        .unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_current_thread_runtime_takes_only_connections_it_opened() {
        let upstream = Arc::new(Upstream::new(answers_always(), 4));
        let other = pool_one_from_another_thread(&upstream, None);
        assert!(
            upstream.take_idle().is_none(),
            "another runtime's connection was handed out"
        );
        let mut conn = upstream.connect().await.unwrap();
        exchange(&mut conn).await;
        upstream.checkin(conn);
        assert!(upstream.take_idle().is_some(), "its own connection");
        other.unwrap().shutdown_background();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_multi_threaded_runtime_takes_another_threads_connection() {
        let upstream = Arc::new(Upstream::new(answers_always(), 4));
        let handle = tokio::runtime::Handle::current();
        pool_one_from_another_thread(&upstream, Some(handle));
        assert!(upstream.take_idle().is_some());
    }

    #[tokio::test]
    async fn a_connection_with_unread_bytes_is_not_pooled() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            // One response, and the start of another nobody asked for.
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200")
                .await;
            let _ = stream.read(&mut buf).await;
        });
        let upstream = Upstream::new(addr, 4);
        let mut conn = upstream.connect().await.unwrap();
        let mut written = 0;
        std::future::poll_fn(|cx| conn.poll_write(cx, &[b"GET / HTTP/1.1\r\n\r\n"], &mut written))
            .await
            .unwrap();
        while !conn.buf.pending().ends_with(b"HTTP/1.1 200") {
            std::future::poll_fn(|cx| conn.poll_fill(cx)).await.unwrap();
        }
        conn.buf.consume(38);
        upstream.checkin(conn);
        assert!(upstream.take_idle().is_none());
    }

    #[tokio::test]
    async fn a_refused_connect_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let error = Upstream::new(addr, 4).connect().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
    }
}
