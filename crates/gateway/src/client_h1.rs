//! HTTP/1.x clients, served with the gateway's own codec (HTTP/2 clients go to hyper).
//!
//! One task per connection reads a request head, writes the replica's head from it in the
//! same pass (`h1::head::parse_request`), and passes both bodies through as they are when
//! the framing allows: a chunked body is copied with its framing, not re-encoded. The read
//! buffer is the thread's pooled one and goes back while the connection is idle, so an idle
//! keep-alive client costs its socket and its task.
//!
//! Limits as with hyper: the head must arrive within `headerReadTimeout` (also while idle
//! between requests) and fit in `maxHeaderBytes` (else 431); a declared body over the
//! service's limit is 413 before admission, a streamed one is cut off at the limit with 413.
//! Answers of the gateway's own that leave a request body unread close the connection.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::StatusCode;
use hyper::body::{Body, Frame, SizeHint};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::body::{BodyTooLarge, BoxError, ClientBodyFailed, ReadTimeout, ReplicaStalled};
use crate::buffer::{Out, ReadBuf};
use crate::deadline::{Stall, poll_passed};
use crate::h1::body::BodyState;
use crate::h1::chunked::{LAST_CHUNK, chunk_header};
use crate::h1::head::{
    Framing, HeadError, HeaderSink, RequestHead, parse_request, write_decimal, write_header,
};
use crate::proxy::{admit, forward};
use crate::reject::{Local, REASON_HEADER, Rejection};
use crate::service::Service;
use crate::sock::{poll_fill, poll_write_all};
use crate::upstream::{Answer, Conn, MAX_READ, Outgoing, Upstream};
use crate::{Answers, Shared};

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// How long, and how many bytes, a closing connection's unread request is drained.
const LINGER: std::time::Duration = std::time::Duration::from_secs(1);
const LINGER_BYTES: usize = 256 * 1024;

/// The client's side of one connection.
struct Client {
    stream: TcpStream,
    buf: ReadBuf,
    /// Most bytes a request head may take.
    max_head: usize,
}

impl Client {
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        poll_fill(&self.stream, &mut self.buf, self.max_head, cx)
    }

    async fn write(&self, parts: &[&[u8]]) -> io::Result<()> {
        let mut written = 0;
        poll_fn(|cx| poll_write_all(&self.stream, cx, parts, &mut written)).await
    }

    /// Before closing after an answer that left request bytes unread: end our side and read
    /// what the client still sends for a moment, so that the close is not a reset that could
    /// destroy the answer before the client reads it.
    async fn linger(&mut self) {
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut self.stream).await;
        let mut drained = 0;
        let drain = async {
            let mut scrap = vec![0u8; 4096]; // on the heap: this is a rare path
            while drained < LINGER_BYTES {
                if self.stream.readable().await.is_err() {
                    return;
                }
                match self.stream.try_read(&mut scrap) {
                    Ok(0) => return,
                    Ok(n) => drained += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    }

    /// Resolves once the client closed its end (or the socket failed). Bytes it sends
    /// meanwhile (a pipelined request) are kept.
    async fn gone(&mut self) {
        poll_fn(|cx| self.poll_gone(cx)).await
    }

    fn poll_gone(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.buf.len() >= self.max_head {
                return Poll::Pending; // not reading more: back-pressure
            }
            match ready!(self.poll_fill(cx)) {
                Ok(0) | Err(_) => return Poll::Ready(()),
                Ok(_) => {}
            }
        }
    }
}

/// Serve HTTP/1.x requests on `stream`, whose first bytes are in `first`, until the client
/// leaves, an answer closes the connection, or `stop` turns true (at once while idle, else
/// after the current response).
pub(crate) async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    first: ReadBuf,
    mut stop: watch::Receiver<bool>,
) {
    let limits = &shared.limits;
    let mut client = Client {
        stream,
        buf: first,
        max_head: limits.max_header_bytes,
    };
    // The replica's head is written into a pooled buffer taken per request: an idle
    // connection holds no buffer.
    let mut replica_head: Option<Out> = None;
    // One timer for the connection's life, armed at or before each request's deadline.
    let mut header_timer = std::pin::pin!(tokio::time::sleep(limits.header_read_timeout));
    loop {
        let deadline = tokio::time::Instant::now() + limits.header_read_timeout;
        let head = loop {
            if !client.buf.is_empty() {
                let out = replica_head.get_or_insert_with(Out::new);
                match parse_request(client.buf.pending(), &mut out.0) {
                    Ok(Some(head)) => break head,
                    Ok(None) if client.buf.len() >= client.max_head => {
                        let too_large = head_error(HeadError::TooManyHeaders);
                        let _ = Box::pin(write_local(&mut client, &too_large, false, false)).await;
                        return;
                    }
                    Ok(None) => {}
                    Err(error) => {
                        let refused = head_error(error);
                        let _ = Box::pin(write_local(&mut client, &refused, false, false)).await;
                        return;
                    }
                }
            }
            let idle = client.buf.is_empty();
            let read = tokio::select! {
                biased;
                read = poll_fn(|cx| client.poll_fill(cx)) => read,
                () = poll_fn(|cx| poll_passed(header_timer.as_mut(), cx, deadline)) => return,
                _ = stop.changed(), if idle => return,
            };
            match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let Some(out) = replica_head.take() else {
            return; // a head was parsed into it
        };
        // Boxed: the exchange's future is large, and unboxed it would be part of every
        // connection's task, idle or not (about 3 KiB each).
        let keep_alive = Box::pin(exchange(&shared, &mut client, head, &out.0)).await;
        drop(out);
        if !keep_alive || *stop.borrow() {
            return;
        }
    }
}

/// The local answer to a request head the gateway refuses.
fn head_error(error: HeadError) -> Local {
    match error {
        HeadError::TooManyHeaders => Local::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "header-too-large",
            "the request head is too large".to_string(),
        ),
        HeadError::Malformed(what) => {
            Local::new(StatusCode::BAD_REQUEST, "bad-request", what.to_string())
        }
        HeadError::Unsupported(what) => Local::new(
            StatusCode::NOT_IMPLEMENTED,
            "not-implemented",
            what.to_string(),
        ),
    }
}

/// Answer one request whose head is at the start of the client's buffer; whether the
/// connection may carry another.
async fn exchange(
    shared: &Shared,
    client: &mut Client,
    head: RequestHead,
    replica_head: &[u8],
) -> bool {
    let pending = client.buf.pending();
    let host = head
        .host
        .clone()
        .and_then(|r| std::str::from_utf8(&pending[r]).ok());
    let path = std::str::from_utf8(&pending[head.path.clone()]).unwrap_or("/");
    let routed = shared
        .router
        .route(host, path)
        .and_then(|i| shared.services.get(i));
    let Some(service) = routed else {
        shared.metrics.unrouted.inc();
        let body = shared.router.not_found_body(host, path);
        client.buf.consume(head.len);
        let local = Local::new(StatusCode::NOT_FOUND, "unknown-service", body);
        let keep_alive = head.keep_alive && head.framing == Framing::Empty;
        return write_local(client, &local, head.is_head, keep_alive).await && keep_alive;
    };
    let service = service.clone();
    client.buf.consume(head.len);
    match proxy(&service, client, &head, replica_head).await {
        Ok(keep_alive) => keep_alive,
        Err((rejection, body_read)) => {
            service.metrics.rejected(rejection.label());
            let local = rejection.into_local(&service.name, service.limits.answers);
            service.metrics.answered(local.status.as_u16());
            let keep_alive = head.keep_alive && body_read;
            write_local(client, &local, head.is_head, keep_alive).await && keep_alive
        }
    }
}

/// Forward one request and pass the response back. `Err` carries whether the request body
/// was read to its end (else the connection cannot carry another request).
async fn proxy(
    service: &Arc<Service>,
    client: &mut Client,
    head: &RequestHead,
    replica_head: &[u8],
) -> Result<bool, (Rejection, bool)> {
    let limit = service.limits.max_request_body_bytes;
    let no_body = head.framing == Framing::Empty;
    if let Framing::Length(n) = head.framing
        && n > limit
    {
        return Err((Rejection::BodyTooLarge { limit }, false));
    }
    let admitted = if no_body {
        tokio::select! {
            admitted = admit(service) => admitted,
            // Gone while held: its place in the queue is freed.
            () = client.gone() => return Ok(false),
        }
    } else {
        admit(service).await
    };
    let (mut ticket, upstream) = admitted.map_err(|r| (r, no_body))?;
    let mut sink = Lines(Out::new());
    let (forwarded, body_read) = if no_body {
        let mut req = Outgoing::new(replica_head, NoBody, false, head.is_head);
        let forwarding = forward(&mut ticket, upstream, &mut req, &mut sink);
        tokio::select! {
            forwarded = forwarding => (forwarded.map_err(|r| (r, true)), true),
            // Gone while waiting: drop the request (and its slot).
            () = client.gone() => return Ok(false),
        }
    } else {
        let body = ClientBody {
            stream: &client.stream,
            buf: &mut client.buf,
            state: BodyState::new(head.framing),
            limit,
            seen: 0,
            max: client.max_head.max(MAX_READ),
            continue_written: head.expect_continue.then_some(0),
        };
        let body = ReadTimeout::new(body, service.limits.body_read_timeout);
        // The body goes as it came: parse_request wrote its framing into the replica's head.
        let mut req = Outgoing::new(replica_head, body, false, head.is_head);
        let forwarded = forward(&mut ticket, upstream, &mut req, &mut sink).await;
        let body_read = req.body.get_ref().state.is_done();
        (forwarded.map_err(|r| (r, body_read)), body_read)
    };
    let (answer, conn, upstream) = forwarded?;
    service.metrics.answered(answer.status.as_u16());
    // A replica may answer before the whole body was sent; what the client still sends of
    // it would be taken for its next request, so the connection closes after this one.
    let replica = Replica {
        conn,
        upstream: &upstream,
        service,
    };
    let done = respond(client, head, body_read, answer, sink, replica).await;
    drop(ticket);
    Ok(done)
}

/// Where a response comes from: the connection its head came on, and the service (its limit
/// on the replica's silences, its metrics).
struct Replica<'a> {
    conn: Conn,
    upstream: &'a Upstream,
    service: &'a Service,
}

/// Write the response head and pass the body through; whether the client connection may
/// carry another request.
async fn respond(
    client: &mut Client,
    request: &RequestHead,
    body_read: bool,
    answer: Answer,
    sink: Lines,
    replica: Replica<'_>,
) -> bool {
    let Replica {
        mut conn,
        upstream,
        service,
    } = replica;
    let mut stall = service.limits.response_idle_timeout.map(Stall::new);
    // The replica's chunked body goes as it is to an HTTP/1.1 client; an HTTP/1.0 client gets
    // its data, delimited by closing the connection, as does any close-delimited body.
    let raw = !(request.http10 && answer.framing == Framing::Chunked);
    let keep_alive =
        request.keep_alive && body_read && raw && answer.framing != Framing::UntilClose;
    let mut out = sink.0;
    let mut status_line = Out::new();
    write_status_line(&mut status_line.0, answer.status);
    match answer.framing {
        Framing::Length(n) => {
            out.0.extend_from_slice(b"content-length: ");
            write_decimal(&mut out.0, n);
            out.0.extend_from_slice(b"\r\n");
        }
        Framing::Chunked if raw => out.0.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        _ => {}
    }
    if !keep_alive {
        out.0.extend_from_slice(b"connection: close\r\n");
    } else if request.http10 {
        out.0.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.0.extend_from_slice(b"\r\n");

    let mut state = BodyState::new(answer.framing);
    let mut first = true;
    loop {
        // What the replica sent so far goes out, the head with the first of it.
        let (used, data) = if conn.buf.is_empty() {
            (0, 0..0)
        } else if raw {
            match state.skim(conn.buf.pending()) {
                Ok((used, _)) => (used, 0..used),
                Err(_) => return false,
            }
        } else {
            match state.decode(conn.buf.pending()) {
                Ok(step) => (step.consumed, step.data),
                Err(_) => return false,
            }
        };
        let body = &conn.buf.pending()[data];
        let sent = if first {
            client.write(&[&status_line.0, &out.0, body]).await
        } else if !body.is_empty() {
            client.write(&[body]).await
        } else {
            Ok(())
        };
        first = false;
        if sent.is_err() {
            return false;
        }
        conn.buf.consume(used);
        if state.is_done() {
            break;
        }
        if !conn.buf.is_empty() {
            continue;
        }
        // More from the replica, unless the client leaves first or the replica stalls.
        let read = poll_fn(|cx| {
            if let Poll::Ready(read) = conn.poll_fill(cx) {
                return Poll::Ready(Waited::Read(read));
            }
            if let Some(stall) = &mut stall
                && stall.poll_waited_out(cx).is_ready()
            {
                let timeout = stall.timeout();
                return Poll::Ready(Waited::Stalled(ReplicaStalled { timeout }));
            }
            client.poll_gone(cx).map(|()| Waited::ClientGone)
        })
        .await;
        match read {
            Waited::Read(Ok(0)) => {
                // The replica closed: the end of a close-delimited body, else a cut one.
                let _ = state.end_of_stream();
                return false;
            }
            Waited::Read(Ok(_)) => {
                if let Some(stall) = &mut stall {
                    stall.progressed();
                }
            }
            Waited::Stalled(stalled) => {
                tracing::warn!(replica = %upstream.addr, "{stalled}");
                service.metrics.responses_cut.inc();
                if service.limits.answers == Answers::Knative {
                    end_with_message(client, &state, raw, &stalled).await;
                }
                return false;
            }
            Waited::Read(Err(_)) | Waited::ClientGone => return false,
        }
    }
    if answer.keep_alive {
        upstream.checkin(conn);
    }
    keep_alive
}

/// What ended a wait for more of a replica's response.
enum Waited {
    Read(io::Result<usize>),
    Stalled(ReplicaStalled),
    ClientGone,
}

/// Knative's ending of a response cut at `responseIdleTimeout`: `stalled` as the last data,
/// and the body ended as if complete, where the client's framing allows it (the caller then
/// closes the connection). A body of declared length, or a chunked one cut mid-chunk, cannot
/// take more data and is left cut.
async fn end_with_message(
    client: &mut Client,
    state: &BodyState,
    raw: bool,
    stalled: &ReplicaStalled,
) {
    let message = format!("{stalled}\n");
    let mut out = Vec::with_capacity(message.len() + 16);
    match state {
        BodyState::Chunked(decoder) if raw => {
            if !decoder.between_chunks() {
                return;
            }
            chunk_header(message.len(), &mut out);
            out.extend_from_slice(message.as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(LAST_CHUNK);
        }
        // Delimited by closing the connection, which the caller does next.
        BodyState::Chunked(_) | BodyState::UntilClose => out.extend_from_slice(message.as_bytes()),
        BodyState::Length(_) | BodyState::Done => return,
    }
    let _ = client.write(&[&out]).await;
}

/// Write an answer of the gateway's own; `false` if the client could not be written to.
async fn write_local(client: &mut Client, local: &Local, is_head: bool, keep_alive: bool) -> bool {
    let mut out = Out::new();
    let o = &mut out.0;
    write_status_line(o, local.status);
    write_header(o, b"content-type", b"text/plain; charset=utf-8");
    write_header(o, REASON_HEADER.as_bytes(), local.reason.as_bytes());
    if local.retry_after {
        write_header(o, b"retry-after", b"1");
    }
    o.extend_from_slice(b"content-length: ");
    write_decimal(o, local.message.len() as u64);
    o.extend_from_slice(b"\r\n");
    if !keep_alive {
        write_header(o, b"connection", b"close");
    }
    o.extend_from_slice(b"\r\n");
    let body = if is_head {
        &[][..]
    } else {
        local.message.as_bytes()
    };
    let written = client.write(&[&out.0, body]).await.is_ok();
    if !keep_alive {
        client.linger().await;
    }
    written
}

fn write_status_line(out: &mut Vec<u8>, status: StatusCode) {
    out.extend_from_slice(b"HTTP/1.1 ");
    write_decimal(out, u64::from(status.as_u16()));
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Response header fields for an HTTP/1 client, as lines.
struct Lines(Out);

impl HeaderSink for Lines {
    fn header(&mut self, name: &[u8], value: &[u8]) {
        write_header(&mut self.0.0, name, value);
    }
}

/// A request without a body.
struct NoBody;

impl Body for NoBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        true
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(0)
    }
}

/// The client's request body, read from its connection and passed on with its framing.
struct ClientBody<'a> {
    stream: &'a TcpStream,
    buf: &'a mut ReadBuf,
    state: BodyState,
    limit: u64,
    /// Data bytes so far.
    seen: u64,
    /// Most bytes read ahead.
    max: usize,
    /// `Expect: 100-continue`: bytes of the go-ahead written so far, until all are.
    continue_written: Option<usize>,
}

impl Body for ClientBody<'_> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.state.is_done() {
                return Poll::Ready(None);
            }
            if !this.buf.is_empty() {
                let (raw, data) = match this.state.skim(this.buf.pending()) {
                    Ok(skimmed) => skimmed,
                    Err(error) => return Poll::Ready(Some(Err(ClientBodyFailed::boxed(error.0)))),
                };
                this.seen = this.seen.saturating_add(data);
                if this.seen > this.limit {
                    let too_large = BodyTooLarge { limit: this.limit };
                    return Poll::Ready(Some(Err(too_large.into())));
                }
                let bytes = Bytes::copy_from_slice(&this.buf.pending()[..raw]);
                this.buf.consume(raw);
                if raw > 0 {
                    return Poll::Ready(Some(Ok(Frame::data(bytes))));
                }
                continue;
            }
            if let Some(written) = &mut this.continue_written {
                if let Err(error) = ready!(poll_write_all(this.stream, cx, &[CONTINUE], written)) {
                    return Poll::Ready(Some(Err(ClientBodyFailed::boxed(error))));
                }
                this.continue_written = None;
            }
            match ready!(poll_fill(this.stream, this.buf, this.max, cx)) {
                Ok(0) => {
                    let truncated = crate::h1::body::Truncated;
                    return Poll::Ready(Some(Err(ClientBodyFailed::boxed(truncated))));
                }
                Ok(_) => {}
                Err(error) => return Poll::Ready(Some(Err(ClientBodyFailed::boxed(error)))),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.state.is_done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection's task holds this future: it must stay small (the exchange is boxed).
    #[test]
    fn a_connection_future_is_small() {
        let mut registry = prometheus_client::registry::Registry::default();
        let config = crate::GatewayConfig::new(vec![crate::ServiceConfig::new("svc")]);
        let (gateway, _wakeups) = crate::Gateway::new(config, &mut registry).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let stream = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (_stop, stopping) = watch::channel(false);
            let future = serve(gateway.shared.clone(), stream, ReadBuf::default(), stopping);
            let size = std::mem::size_of_val(&future);
            assert!(size <= 1024, "{size} bytes");
        });
    }
}
