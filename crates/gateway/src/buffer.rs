//! Connection buffers that exist only while there is something in them.
//!
//! A keep-alive connection spends most of its life idle. Its read buffer is taken when bytes
//! arrive and given back once they are consumed, to a small free list per thread, so 10 000
//! idle clients cost no buffer memory and a busy thread reuses the same few warm buffers
//! instead of asking the allocator for 8 KiB twice per request.

use std::cell::RefCell;
use std::ops::Range;

/// Size of a pooled buffer: a request or response head nearly always fits.
pub(crate) const SIZE: usize = 8 * 1024;
/// Most free buffers a thread keeps (1 MiB).
const POOL: usize = 128;

thread_local! {
    /// Read buffers, always `SIZE` long (initialised once, when first allocated).
    static READ: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    /// Head buffers, empty with `SIZE` capacity.
    static OUT: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

fn pop(pool: &'static std::thread::LocalKey<RefCell<Vec<Vec<u8>>>>) -> Option<Vec<u8>> {
    pool.with(|free| free.borrow_mut().pop())
}

fn push(pool: &'static std::thread::LocalKey<RefCell<Vec<Vec<u8>>>>, buf: Vec<u8>) {
    // Grown buffers are freed rather than kept.
    if buf.capacity() != SIZE {
        return;
    }
    pool.with(|free| {
        let mut free = free.borrow_mut();
        if free.len() < POOL {
            free.push(buf);
        }
    });
}

/// A read buffer of [`SIZE`] bytes from this thread's free list, or a new one.
fn take_read() -> Vec<u8> {
    pop(&READ).unwrap_or_else(|| vec![0; SIZE])
}

fn give_read(buf: Vec<u8>) {
    if buf.len() == SIZE {
        push(&READ, buf);
    }
}

/// An outgoing head being written: a pooled buffer used as a growable `Vec`.
pub(crate) struct Out(pub(crate) Vec<u8>);

impl Out {
    pub(crate) fn new() -> Out {
        Out(pop(&OUT).unwrap_or_else(|| Vec::with_capacity(SIZE)))
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.0);
        buf.clear();
        push(&OUT, buf);
    }
}

/// Bytes read from a socket and not yet consumed (`start..end` of `data`).
#[derive(Default)]
pub(crate) struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    /// The unconsumed bytes.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// `range` of the unconsumed bytes.
    pub(crate) fn slice(&self, range: Range<usize>) -> &[u8] {
        &self.pending()[range]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    /// Mark `n` bytes as consumed; the buffer goes back to the pool once all are.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
        if self.start == self.end {
            self.release();
        }
    }

    /// Room to read into, after the pending bytes: moves them to the front or grows the
    /// buffer (up to `max` bytes in all) when needed. Empty when `max` bytes are pending.
    pub(crate) fn spare(&mut self, max: usize) -> &mut [u8] {
        if self.data.is_empty() {
            self.data = take_read();
        }
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.data.len() < max {
                let grown = (self.data.len() * 2).min(max).max(self.data.len());
                self.data.resize(grown, 0);
            }
        }
        let room = max.saturating_sub(self.len());
        let end = self.data.len().min(self.end + room);
        &mut self.data[self.end..end]
    }

    /// `n` bytes were read into [`spare`](Self::spare).
    pub(crate) fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.data.len());
    }

    /// Give the memory back if nothing is pending.
    pub(crate) fn release(&mut self) {
        if self.start == self.end && !self.data.is_empty() {
            give_read(std::mem::take(&mut self.data));
            (self.start, self.end) = (0, 0);
        }
    }
}

impl Drop for ReadBuf {
    fn drop(&mut self) {
        (self.start, self.end) = (0, 0);
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(buf: &mut ReadBuf, bytes: &[u8], max: usize) -> usize {
        let spare = buf.spare(max);
        let n = spare.len().min(bytes.len());
        spare[..n].copy_from_slice(&bytes[..n]);
        buf.filled(n);
        n
    }

    #[test]
    fn memory_is_held_only_while_bytes_are_pending() {
        let mut buf = ReadBuf::default();
        assert_eq!(buf.data.capacity(), 0);
        read(&mut buf, b"GET / HTTP/1.1\r\n\r\n", SIZE);
        assert_eq!(buf.pending(), b"GET / HTTP/1.1\r\n\r\n");
        buf.consume(4);
        assert_eq!(buf.pending(), b"/ HTTP/1.1\r\n\r\n");
        buf.consume(100);
        assert!(buf.is_empty());
        assert_eq!(buf.data.capacity(), 0, "released to the pool");
        // The pool hands the same allocation back.
        let again = take_read();
        assert_eq!((again.len(), again.capacity()), (SIZE, SIZE));
        give_read(again);
    }

    #[test]
    fn a_full_buffer_compacts_then_grows_up_to_the_limit() {
        let mut buf = ReadBuf::default();
        let big = vec![b'x'; 3 * SIZE];
        assert_eq!(read(&mut buf, &big, 2 * SIZE), SIZE);
        buf.consume(10);
        // Compacted: the 10 consumed bytes become room at the end.
        assert_eq!(read(&mut buf, &big, 2 * SIZE), 10);
        // Full and nothing consumed: grows, but never beyond the limit.
        assert_eq!(read(&mut buf, &big, 2 * SIZE), SIZE);
        assert_eq!(buf.len(), 2 * SIZE);
        assert!(buf.spare(2 * SIZE).is_empty());
        // A grown buffer is freed, not pooled.
        buf.consume(2 * SIZE);
        assert_eq!(buf.data.capacity(), 0);
    }

    #[test]
    fn out_buffers_come_back_empty() {
        let mut out = Out::new();
        out.0.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        drop(out);
        let out = Out::new();
        assert!(out.0.is_empty());
        assert_eq!(out.0.capacity(), SIZE);
    }
}
