//! Connections to one replica: a LIFO pool of idle HTTP/1.1 keep-alive connections.
//!
//! The pool is ours rather than hyper-util's so that a request is only handed to hyper once a
//! connection exists: a refused connect leaves the request in our hands, and
//! `try_send_request` gives it back if the connection died before a byte was written. Both
//! cases can then go to another replica (retry only where nothing was sent).

use std::io;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::body::RequestBody;

/// The sending half of one upstream connection.
pub(crate) type Sender = http1::SendRequest<RequestBody>;

/// A connection checked out of the pool.
pub(crate) struct Conn {
    pub(crate) sender: Sender,
    /// Came from the pool (it may have been closed by the replica while idle).
    pub(crate) reused: bool,
}

/// One replica's address and idle connections.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) addr: SocketAddr,
    idle: Mutex<Vec<Sender>>,
    max_idle: usize,
}

/// A pooled connection that just finished a response may need a moment to become ready again.
const READY_WAIT: Duration = Duration::from_secs(1);

impl Upstream {
    pub(crate) fn new(addr: SocketAddr, max_idle: usize) -> Self {
        Upstream {
            addr,
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// An idle pooled connection if one is usable, else a new one.
    pub(crate) async fn checkout(&self) -> io::Result<Conn> {
        while let Some(mut sender) = self.pop_idle() {
            if sender.is_closed() {
                continue;
            }
            if sender.is_ready()
                || matches!(
                    tokio::time::timeout(READY_WAIT, sender.ready()).await,
                    Ok(Ok(()))
                )
            {
                return Ok(Conn {
                    sender,
                    reused: true,
                });
            }
        }
        self.connect().await.map(|sender| Conn {
            sender,
            reused: false,
        })
    }

    /// Put a connection whose response has ended back into the pool.
    pub(crate) fn checkin(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(sender);
        }
    }

    /// Drop every idle connection (after one turned out dead, the others likely are too).
    pub(crate) fn clear_idle(&self) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn pop_idle(&self) -> Option<Sender> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    async fn connect(&self) -> io::Result<Sender> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "Upstream connection ended with an error.");
            }
        });
        Ok(sender)
    }
}
