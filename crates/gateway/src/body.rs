//! Bodies that stream through the gateway without being collected.
//!
//! [`RequestBody`] forwards the client's body and stops it at the service's size limit.
//! [`ResponseBody`] forwards the replica's body and holds the request's [`Ticket`] until the
//! body ends or is dropped: in-flight counts are released at end of stream, not at headers,
//! so a streamed token response counts for as long as it streams.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::service::Ticket;
use crate::upstream::{Conn, Upstream};

/// The request body exceeded the service's limit.
#[derive(Debug, thiserror::Error)]
#[error("request body exceeds the limit of {limit} bytes")]
pub(crate) struct BodyTooLarge {
    pub(crate) limit: u64,
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
    type Error = Box<dyn std::error::Error + Send + Sync>;

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
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            other => other.map_err(Into::into),
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
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ResponseBody::Proxied(body) => Pin::new(body).poll_frame(cx),
            ResponseBody::Local(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Proxied(body) => body.inner.is_end_stream(),
            ResponseBody::Local(data) => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Proxied(body) => body.inner.size_hint(),
            ResponseBody::Local(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

/// A replica's response body; finishing it releases the request's slot and pools the connection.
///
/// It also drives the connection the body arrives on (see the `upstream` module).
pub struct ProxiedBody {
    inner: Incoming,
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
            .field("finished", &self.done.is_none())
            .finish()
    }
}

impl ProxiedBody {
    pub(crate) fn new(
        inner: Incoming,
        ticket: Ticket,
        conn: Conn,
        upstream: Arc<Upstream>,
    ) -> Self {
        let mut body = ProxiedBody {
            inner,
            done: Some(Finish {
                ticket,
                conn,
                upstream,
            }),
        };
        if body.inner.is_end_stream() {
            body.finish(true);
        }
        body
    }

    /// Release the slot; pool the connection only if the response was read to its end.
    fn finish(&mut self, complete: bool) {
        if let Some(Finish {
            ticket,
            conn,
            upstream,
        }) = self.done.take()
        {
            if complete {
                upstream.checkin(conn);
            }
            drop(ticket);
        }
    }
}

impl Body for ProxiedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut polled = Pin::new(&mut self.inner).poll_frame(cx);
        // The connection is driven from here: its reads feed `inner`.
        if polled.is_pending()
            && let Some(done) = &mut self.done
        {
            let _closed = done.conn.poll_drive(cx);
            polled = Pin::new(&mut self.inner).poll_frame(cx);
        }
        let result = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        match &result {
            None => self.finish(true),
            Some(Err(_)) => self.finish(false),
            Some(Ok(_)) if self.inner.is_end_stream() => self.finish(true),
            Some(Ok(_)) => {}
        }
        Poll::Ready(result)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ProxiedBody {
    fn drop(&mut self) {
        // Dropped before its end: the client went away, or hyper saw the end without polling.
        let complete = self.inner.is_end_stream();
        self.finish(complete);
    }
}
