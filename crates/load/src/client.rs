//! One HTTP/1.1 connection, owned by one worker, reused while the server keeps it open.
//!
//! Built on hyper's connection API with hyper-util's tokio adapter rather than a pooled client:
//! the generator decides exactly how many connections exist (a pool opens more whenever all
//! are busy, which would hide a saturated open loop), and the connection is driven in the
//! worker's own task, so a request costs no hand-off between tasks.

use std::net::SocketAddr;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::stats::ErrorKind;

type Io = TokioIo<TcpStream>;
/// The two halves of an open HTTP/1 connection: the request handle and the I/O driver.
type Open = (
    http1::SendRequest<Full<Bytes>>,
    http1::Connection<Io, Full<Bytes>>,
);

/// A response, reduced to what the statistics need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) bytes: u64,
}

/// A lazily opened, reused connection to one address.
pub(crate) struct Connection {
    addr: SocketAddr,
    open: Option<Open>,
}

impl Connection {
    pub(crate) fn new(addr: SocketAddr) -> Connection {
        Connection { addr, open: None }
    }

    /// Sends `request` and reads the whole response, opening a connection first if needed.
    ///
    /// Cancel-safe in the way that matters: if this future is dropped (timeout, Ctrl-C), the
    /// connection is dropped with it and the next request opens a fresh one.
    pub(crate) async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<Answer, ErrorKind> {
        let (mut sender, mut conn) = match self.open.take() {
            Some((mut sender, mut conn)) => {
                // A kept-alive connection the server has since closed is not this request's
                // failure: open a new one instead.
                let ready = tokio::select! {
                    biased;
                    ready = sender.ready() => ready.is_ok(),
                    _ = &mut conn => false,
                };
                if ready {
                    (sender, conn)
                } else {
                    self.connect().await?
                }
            }
            None => self.connect().await?,
        };
        let (answer, connection_alive) = {
            let exchange = async {
                let response = sender.send_request(request).await.map_err(classify)?;
                let status = response.status().as_u16();
                let mut body = response.into_body();
                let mut bytes = 0u64;
                while let Some(frame) = body.frame().await {
                    let frame = frame.map_err(classify)?;
                    bytes += frame.data_ref().map_or(0, |d| d.len() as u64);
                }
                Ok(Answer { status, bytes })
            };
            let mut exchange = std::pin::pin!(exchange);
            // The connection future does the actual reading and writing; poll it alongside.
            tokio::select! {
                biased;
                answer = &mut exchange => (answer, true),
                _ = &mut conn => (exchange.await, false),
            }
        };
        if answer.is_ok() && connection_alive {
            self.open = Some((sender, conn));
        }
        answer
    }

    async fn connect(&self) -> Result<Open, ErrorKind> {
        let stream = TcpStream::connect(self.addr).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::ConnectionRefused {
                ErrorKind::ConnectionRefused
            } else {
                ErrorKind::Connect
            }
        })?;
        // Small requests must not wait for Nagle's algorithm.
        stream.set_nodelay(true).map_err(|_| ErrorKind::Connect)?;
        http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| ErrorKind::Connect)
    }
}

/// Maps hyper's error to the kinds the summary reports.
fn classify(error: hyper::Error) -> ErrorKind {
    if error.is_timeout() {
        return ErrorKind::Timeout;
    }
    if error.is_parse() || error.is_parse_status() || error.is_parse_too_large() {
        return ErrorKind::Protocol;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
                    ErrorKind::Reset
                }
                std::io::ErrorKind::UnexpectedEof => ErrorKind::Closed,
                _ => ErrorKind::Other,
            };
        }
        source = e.source();
    }
    if error.is_incomplete_message() || error.is_closed() || error.is_canceled() {
        return ErrorKind::Closed;
    }
    ErrorKind::Other
}
