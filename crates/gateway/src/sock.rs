//! Socket reads and writes as the gateway does them: plain syscalls on tokio's readiness, with
//! the caller choosing what else to wait for at the same time.

use std::io::{self, IoSlice};
use std::task::{Context, Poll, ready};

use tokio::net::TcpStream;

use crate::buffer::ReadBuf;

/// Most slices written in one call.
const MAX_PARTS: usize = 4;

/// Write all of `parts` in order. `written` counts the bytes that went out, also on error, so
/// the caller can tell a request that never left from one that partly did.
pub(crate) fn poll_write_all(
    stream: &TcpStream,
    cx: &mut Context<'_>,
    parts: &[&[u8]],
    written: &mut usize,
) -> Poll<io::Result<()>> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    while *written < total {
        let mut slices = [IoSlice::new(&[]); MAX_PARTS];
        let (mut count, mut skip) = (0, *written);
        for part in parts {
            if skip >= part.len() {
                skip -= part.len();
                continue;
            }
            if count == MAX_PARTS {
                break;
            }
            slices[count] = IoSlice::new(&part[skip..]);
            skip = 0;
            count += 1;
        }
        match stream.try_write_vectored(&slices[..count]) {
            Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Ok(n) => *written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                ready!(stream.poll_write_ready(cx))?;
            }
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
    Poll::Ready(Ok(()))
}

/// Read what the socket has into `buf`, keeping at most `max` bytes pending. `Ok(0)` is the
/// end of the stream. The buffer is only taken from the pool once bytes are there to read.
pub(crate) fn poll_fill(
    stream: &TcpStream,
    buf: &mut ReadBuf,
    max: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(stream.poll_read_ready(cx))?;
        let spare = buf.spare(max);
        if spare.is_empty() {
            return Poll::Ready(Err(io::Error::other("read buffer full")));
        }
        match stream.try_read(spare) {
            Ok(n) => {
                buf.filled(n);
                buf.release();
                return Poll::Ready(Ok(n));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => buf.release(),
            Err(e) => {
                buf.release();
                return Poll::Ready(Err(e));
            }
        }
    }
}
