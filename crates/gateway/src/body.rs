//! Bodies that stream through the gateway without being collected.
//!
//! [`RequestBody`] forwards the client's body and stops it at the service's size limit;
//! [`ReadTimeout`] stops a client's body that stalls.
//! [`ResponseBody`] forwards the replica's body and holds the request's [`Ticket`] until the
//! body ends or is dropped: in-flight counts are released at end of stream, not at headers,
//! so a streamed token response counts for as long as it streams.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::Answers;
use crate::deadline::Stall;
use crate::h1::body::BodyState;
use crate::h1::head::Framing;
use crate::service::Ticket;
use crate::upstream::{Conn, Upstream};

/// Errors of bodies in either direction.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request body exceeded the service's limit.
#[derive(Debug, thiserror::Error)]
#[error("request body exceeds the limit of {limit} bytes")]
pub(crate) struct BodyTooLarge {
    pub(crate) limit: u64,
}

/// The client's request body could not be read: malformed framing, or the client went away
/// before its end. Its fault, not the replica's: the answer is 400, never a 502.
#[derive(Debug, thiserror::Error)]
#[error("the request body could not be read: {0}")]
pub(crate) struct ClientBodyFailed(pub(crate) String);

impl ClientBodyFailed {
    pub(crate) fn boxed(cause: impl std::fmt::Display) -> BoxError {
        Box::new(ClientBodyFailed(cause.to_string()))
    }
}

/// The client sent nothing for `limits.bodyReadTimeout` while its body was awaited.
#[derive(Debug, thiserror::Error)]
#[error("the client sent no request body bytes for {timeout:?}")]
pub(crate) struct BodyReadTimeout {
    pub(crate) timeout: Duration,
}

/// A client's request body that fails with [`BodyReadTimeout`] after `timeout` of waiting
/// without a frame. Only waiting on the client counts: while a replica is slow to take what
/// was read, the body is not polled and the clock does not run.
pub(crate) struct ReadTimeout<B> {
    inner: B,
    stall: Stall,
}

impl<B> ReadTimeout<B> {
    pub(crate) fn new(inner: B, timeout: Duration) -> Self {
        ReadTimeout {
            inner,
            stall: Stall::new(timeout),
        }
    }

    pub(crate) fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B: Body<Data = Bytes, Error = BoxError> + Unpin> Body for ReadTimeout<B> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.stall.progressed();
            return Poll::Ready(frame);
        }
        ready!(this.stall.poll_waited_out(cx));
        let timeout = this.stall.timeout();
        Poll::Ready(Some(Err(Box::new(BodyReadTimeout { timeout }))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client's body on its way to a replica, cut off at `limit` bytes.
#[derive(Debug)]
pub(crate) struct RequestBody {
    inner: Incoming,
    limit: u64,
    seen: u64,
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming, limit: u64) -> Self {
        RequestBody {
            inner,
            limit,
            seen: 0,
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.seen = self.seen.saturating_add(data.len() as u64);
                    if self.seen > self.limit {
                        return Poll::Ready(Some(Err(BodyTooLarge { limit: self.limit }.into())));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(ClientBodyFailed::boxed(e)))),
            other => other.map_err(ClientBodyFailed::boxed),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What the gateway sends back to a client.
#[derive(Debug)]
pub enum ResponseBody {
    /// A replica's response, streamed.
    Proxied(ProxiedBody),
    /// An answer of the gateway's own (404, 503, ...).
    Local(Option<Bytes>),
}

impl ResponseBody {
    pub(crate) fn text(text: impl Into<Bytes>) -> Self {
        ResponseBody::Local(Some(text.into()))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ResponseBody::Proxied(body) => Pin::new(body).poll_frame(cx),
            ResponseBody::Local(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Proxied(body) => body.is_end_stream(),
            ResponseBody::Local(data) => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Proxied(body) => body.size_hint(),
            ResponseBody::Local(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

/// The replica sent nothing of its response body for the service's `responseIdleTimeout`.
#[derive(Debug, thiserror::Error)]
#[error("the replica sent nothing for {timeout:?} (responseIdleTimeout): the response is cut off")]
pub(crate) struct ReplicaStalled {
    pub(crate) timeout: Duration,
}

/// A replica's response body, read from its connection; finishing it releases the request's
/// slot and pools the connection.
pub struct ProxiedBody {
    state: BodyState,
    /// The replica keeps the connection after this response.
    keep_alive: bool,
    /// The service's `responseIdleTimeout`, if it has one.
    stall: Option<Stall>,
    done: Option<Finish>,
}

struct Finish {
    ticket: Ticket,
    conn: Conn,
    upstream: Arc<Upstream>,
}

impl std::fmt::Debug for ProxiedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxiedBody")
            .field("state", &self.state)
            .field("finished", &self.done.is_none())
            .finish()
    }
}

impl ProxiedBody {
    pub(crate) fn new(
        framing: Framing,
        keep_alive: bool,
        ticket: Ticket,
        conn: Conn,
        upstream: Arc<Upstream>,
    ) -> Self {
        let stall = ticket
            .service()
            .limits
            .response_idle_timeout
            .map(Stall::new);
        let mut body = ProxiedBody {
            state: BodyState::new(framing),
            keep_alive,
            stall,
            done: Some(Finish {
                ticket,
                conn,
                upstream,
            }),
        };
        if body.state.is_done() {
            body.finish();
        }
        body
    }

    /// Release the slot; pool the connection only if its response was read to the end.
    fn finish(&mut self) {
        if let Some(Finish {
            ticket,
            conn,
            upstream,
        }) = self.done.take()
        {
            if self.state.is_done() && self.keep_alive {
                upstream.checkin(conn);
            }
            drop(ticket);
        }
    }

    /// A failure ends the body; the connection is closed.
    fn fail(&mut self, error: BoxError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.keep_alive = false;
        self.finish();
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for ProxiedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            let Some(done) = &mut this.done else {
                return Poll::Ready(None);
            };
            let conn = &mut done.conn;
            if !conn.buf.is_empty() {
                let step = match this.state.decode(conn.buf.pending()) {
                    Ok(step) => step,
                    Err(error) => return this.fail(error.into()),
                };
                let data = Bytes::copy_from_slice(conn.buf.slice(step.data));
                conn.buf.consume(step.consumed);
                if this.state.is_done() {
                    this.finish();
                }
                if !data.is_empty() {
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                if this.done.is_none() {
                    return Poll::Ready(None);
                }
                continue;
            }
            let filled = match conn.poll_fill(cx) {
                Poll::Ready(filled) => filled,
                Poll::Pending => {
                    if let Some(stall) = &mut this.stall
                        && stall.poll_waited_out(cx).is_ready()
                    {
                        let stalled = ReplicaStalled {
                            timeout: stall.timeout(),
                        };
                        tracing::warn!(replica = %done.upstream.addr, "{stalled}");
                        let service = done.ticket.service();
                        service.metrics.responses_cut.inc();
                        // Knative's ending, where a declared length does not forbid it: the
                        // message as the last data, then the end of the body.
                        if service.limits.answers == Answers::Knative
                            && !matches!(this.state, BodyState::Length(_))
                        {
                            this.keep_alive = false;
                            this.finish();
                            let message = Bytes::from(format!("{stalled}\n"));
                            return Poll::Ready(Some(Ok(Frame::data(message))));
                        }
                        return this.fail(stalled.into());
                    }
                    return Poll::Pending;
                }
            };
            if let Some(stall) = &mut this.stall {
                stall.progressed();
            }
            match filled {
                Ok(0) => {
                    return match this.state.end_of_stream() {
                        Ok(()) => {
                            // Closed by the replica: nothing to pool.
                            this.keep_alive = false;
                            this.finish();
                            Poll::Ready(None)
                        }
                        Err(truncated) => this.fail(truncated.into()),
                    };
                }
                Ok(_) => {}
                Err(error) => return this.fail(error.into()),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            BodyState::Done => SizeHint::with_exact(0),
            BodyState::Length(left) => SizeHint::with_exact(*left),
            BodyState::Chunked(_) | BodyState::UntilClose => SizeHint::default(),
        }
    }
}

impl Drop for ProxiedBody {
    fn drop(&mut self) {
        // Dropped before its end (the client went away): the connection is closed.
        self.finish();
    }
}
