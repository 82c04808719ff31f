//! One HTTP/1.1 connection, owned by one worker, reused while the server keeps it open.
//!
//! A deliberately small client: the request bytes are prepared by the caller, the response
//! head is parsed with `httparse` (hyper's own parser) and the body is counted and dropped.
//! Compared with hyper's connection API it costs a fraction of the CPU per request, which is
//! what lets one core generate wrk-class rates; it still gives exact control of connections
//! (one per worker, never more) and latency that includes everything the server made us wait.
//!
//! Responses handled: `Content-Length`, chunked, and close-delimited bodies; no body for
//! `HEAD`, 1xx (skipped), 204 and 304; `Connection: close` and HTTP/1.0 without keep-alive.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::stats::ErrorKind;

/// Read buffer size to start with; enough for nearly every response head.
const BUFFER: usize = 8 * 1024;
/// The buffer grows up to this for an unusually large head or chunk-size line.
const MAX_BUFFER: usize = 64 * 1024;
/// Most response headers accepted.
const MAX_HEADERS: usize = 64;

/// A response, reduced to what the statistics need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) bytes: u64,
}

/// Why an exchange failed, and whether the server had answered anything at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Failure {
    kind: ErrorKind,
    nothing_received: bool,
}

impl Failure {
    fn io(error: &io::Error, nothing_received: bool) -> Failure {
        let kind = match error.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted => ErrorKind::Reset,
            io::ErrorKind::UnexpectedEof => ErrorKind::Closed,
            _ => ErrorKind::Other,
        };
        Failure {
            kind,
            nothing_received,
        }
    }

    fn protocol() -> Failure {
        Failure {
            kind: ErrorKind::Protocol,
            nothing_received: false,
        }
    }
}

/// A lazily opened, reused connection to one address.
pub(crate) struct Connection {
    addrs: Arc<[SocketAddr]>,
    stream: Option<TcpStream>,
    /// Allocated on first use: users not yet spawned cost no memory.
    buf: Vec<u8>,
}

impl Connection {
    /// A connection to the first of `addrs` that accepts (a name may resolve to IPv6 and IPv4).
    pub(crate) fn new(addrs: Arc<[SocketAddr]>) -> Connection {
        Connection {
            addrs,
            stream: None,
            buf: Vec::new(),
        }
    }

    /// Writes `request` (a complete HTTP/1.1 request) and reads the whole response.
    ///
    /// If this future is dropped (timeout, Ctrl-C) the connection goes with it and the next
    /// request opens a fresh one. A kept-alive connection that the server closed while idle
    /// is not the request's failure: the request is sent again once on a new connection.
    pub(crate) async fn send(&mut self, request: &[u8], head: bool) -> Result<Answer, ErrorKind> {
        let reused = self.stream.is_some();
        match self.exchange(request, head).await {
            Err(failure) if reused && failure.nothing_received => self
                .exchange(request, head)
                .await
                .map_err(|failure| failure.kind),
            result => result.map_err(|failure| failure.kind),
        }
    }

    async fn exchange(&mut self, request: &[u8], head: bool) -> Result<Answer, Failure> {
        let mut stream = match self.stream.take() {
            Some(stream) => stream,
            None => self.connect().await?,
        };
        if self.buf.is_empty() {
            self.buf.resize(BUFFER, 0);
        }
        stream
            .write_all(request)
            .await
            .map_err(|e| Failure::io(&e, true))?;
        let mut reader = Reader {
            stream: &mut stream,
            buf: &mut self.buf,
            start: 0,
            end: 0,
            received: false,
        };
        let (answer, keep_alive) = reader.response(head).await?;
        if keep_alive && reader.start == reader.end {
            self.stream = Some(stream);
        }
        Ok(answer)
    }

    async fn connect(&self) -> Result<TcpStream, Failure> {
        let mut kind = ErrorKind::Connect;
        let mut connected = None;
        for addr in self.addrs.iter() {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    connected = Some(stream);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    kind = ErrorKind::ConnectionRefused;
                }
                Err(_) => kind = ErrorKind::Connect,
            }
        }
        let stream = connected.ok_or(Failure {
            kind,
            nothing_received: false,
        })?;
        // Small requests must not wait for Nagle's algorithm.
        stream.set_nodelay(true).map_err(|_| Failure {
            kind: ErrorKind::Connect,
            nothing_received: false,
        })?;
        Ok(stream)
    }
}

/// How the response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// The parts of a response head that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    framing: Framing,
    keep_alive: bool,
}

/// Parses a complete response head at the start of `buf`: `Ok(None)` when more bytes are
/// needed, otherwise the head and its length.
fn parse_head(buf: &[u8], request_was_head: bool) -> Result<Option<(Head, usize)>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let used = match response.parse(buf) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Failure::protocol()),
    };
    let status = response.code.ok_or_else(Failure::protocol)?;
    let mut keep_alive = response.version == Some(1);
    let (mut length, mut chunked) = (None, false);
    for header in response.headers.iter() {
        let value = header.value;
        if header.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(value).map_err(|_| Failure::protocol())?;
            length = Some(
                text.trim()
                    .parse::<u64>()
                    .map_err(|_| Failure::protocol())?,
            );
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if header.name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    if status == 101 {
        keep_alive = false; // the connection now speaks another protocol
    }
    let framing =
        if request_was_head || (100..200).contains(&status) || status == 204 || status == 304 {
            Framing::Empty
        } else if chunked {
            Framing::Chunked
        } else if let Some(n) = length {
            Framing::Length(n)
        } else {
            keep_alive = false;
            Framing::UntilClose
        };
    Ok(Some((
        Head {
            status,
            framing,
            keep_alive,
        },
        used,
    )))
}

/// Buffered reading of one response.
struct Reader<'a> {
    stream: &'a mut TcpStream,
    buf: &'a mut Vec<u8>,
    start: usize,
    end: usize,
    received: bool,
}

impl Reader<'_> {
    /// Reads more bytes after what is buffered; false at end of stream.
    async fn more(&mut self) -> Result<bool, Failure> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            } else if self.buf.len() < MAX_BUFFER {
                self.buf.resize(self.buf.len() * 2, 0);
            } else {
                return Err(Failure::protocol()); // a head or chunk line larger than 64 KiB
            }
        }
        let n = self
            .stream
            .read(&mut self.buf[self.end..])
            .await
            .map_err(|e| Failure::io(&e, !self.received))?;
        self.received |= n > 0;
        self.end += n;
        Ok(n > 0)
    }

    /// Like [`Reader::more`], but the end of the stream is an error here.
    async fn more_or_closed(&mut self) -> Result<(), Failure> {
        if self.more().await? {
            Ok(())
        } else {
            Err(Failure {
                kind: ErrorKind::Closed,
                nothing_received: !self.received,
            })
        }
    }

    /// Reads one response; returns it and whether the connection may be reused.
    async fn response(&mut self, request_was_head: bool) -> Result<(Answer, bool), Failure> {
        let head = loop {
            match parse_head(&self.buf[self.start..self.end], request_was_head)? {
                Some((head, used)) => {
                    self.start += used;
                    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
                    if (100..200).contains(&head.status) && head.status != 101 {
                        continue;
                    }
                    break head;
                }
                None => self.more_or_closed().await?,
            }
        };
        let bytes = match head.framing {
            Framing::Empty => 0,
            Framing::Length(n) => {
                self.skip(n).await?;
                n
            }
            Framing::Chunked => self.chunked().await?,
            Framing::UntilClose => {
                let mut total = (self.end - self.start) as u64;
                self.start = self.end;
                while self.more().await? {
                    total += (self.end - self.start) as u64;
                    self.start = self.end;
                }
                total
            }
        };
        Ok((
            Answer {
                status: head.status,
                bytes,
            },
            head.keep_alive,
        ))
    }

    /// Consumes `n` body bytes.
    async fn skip(&mut self, mut n: u64) -> Result<(), Failure> {
        loop {
            let take = n.min((self.end - self.start) as u64);
            self.start += take as usize;
            n -= take;
            if n == 0 {
                return Ok(());
            }
            self.more_or_closed().await?;
        }
    }

    /// Consumes a chunked body and its trailers; returns the data length.
    async fn chunked(&mut self) -> Result<u64, Failure> {
        let mut total = 0u64;
        loop {
            let size = match httparse::parse_chunk_size(&self.buf[self.start..self.end]) {
                Ok(httparse::Status::Complete((used, size))) => {
                    self.start += used;
                    size
                }
                Ok(httparse::Status::Partial) => {
                    self.more_or_closed().await?;
                    continue;
                }
                Err(_) => return Err(Failure::protocol()),
            };
            if size == 0 {
                return self.trailers().await.map(|()| total);
            }
            self.skip(size).await?;
            total += size;
            self.expect_crlf().await?;
        }
    }

    async fn expect_crlf(&mut self) -> Result<(), Failure> {
        while self.end - self.start < 2 {
            self.more_or_closed().await?;
        }
        if &self.buf[self.start..self.start + 2] != b"\r\n" {
            return Err(Failure::protocol());
        }
        self.start += 2;
        Ok(())
    }

    /// Skips trailer lines up to the empty line that ends the message.
    async fn trailers(&mut self) -> Result<(), Failure> {
        loop {
            let pending = &self.buf[self.start..self.end];
            match pending.windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.start += 2;
                    return Ok(());
                }
                Some(line) => self.start += line + 2,
                None => self.more_or_closed().await?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        parse_head(text.as_bytes(), false).unwrap().unwrap().0
    }

    #[test]
    fn framing_follows_the_headers() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(
            (h.status, h.framing, h.keep_alive),
            (200, Framing::Length(12), true)
        );
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        let h = head("HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert_eq!((h.status, h.keep_alive), (503, false));
        let h = head("HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        let h = head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n");
        assert!(h.keep_alive);
        assert_eq!(
            head("HTTP/1.1 204 No Content\r\n\r\n").framing,
            Framing::Empty
        );
        let h = head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Empty, false));
        let (h, used) = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true)
            .unwrap()
            .unwrap();
        assert_eq!((h.framing, used), (Framing::Empty, 38));
    }

    #[test]
    fn partial_and_broken_heads() {
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-", false), Ok(None));
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n", false).is_err());
    }
}
