//! How much of a message body is still to come, whatever its framing.

use crate::h1::chunked::{ChunkError, ChunkedDecoder, Step};
use crate::h1::head::Framing;

/// The body ended before its framing said it would (the peer closed the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection closed before the end of the body")]
pub(crate) struct Truncated;

/// Where a body being passed through stands.
#[derive(Debug, Clone)]
pub(crate) enum BodyState {
    /// This many bytes still to come.
    Length(u64),
    Chunked(ChunkedDecoder),
    /// Everything until the connection closes.
    UntilClose,
    Done,
}

impl BodyState {
    pub(crate) fn new(framing: Framing) -> BodyState {
        match framing {
            Framing::Empty | Framing::Length(0) => BodyState::Done,
            Framing::Length(n) => BodyState::Length(n),
            Framing::Chunked => BodyState::Chunked(ChunkedDecoder::default()),
            Framing::UntilClose => BodyState::UntilClose,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self, BodyState::Done)
    }

    /// The bytes at the start of `input` that belong to this body, framing included (to be
    /// passed on as they are), and how many of them are data.
    pub(crate) fn skim(&mut self, input: &[u8]) -> Result<(usize, u64), ChunkError> {
        let (raw, data) = match self {
            BodyState::Length(left) => {
                let n = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                *left -= n as u64;
                (n, n as u64)
            }
            BodyState::Chunked(decoder) => decoder.skim(input)?,
            BodyState::UntilClose => (input.len(), input.len() as u64),
            BodyState::Done => (0, 0),
        };
        self.settle();
        Ok((raw, data))
    }

    /// The next run of data at the start of `input` (for a receiver that gets data, not
    /// framing): bytes used, and where the data lies in them.
    pub(crate) fn decode(&mut self, input: &[u8]) -> Result<Step, ChunkError> {
        let step = match self {
            BodyState::Chunked(decoder) => decoder.decode(input)?,
            _ => {
                let (n, _) = self.skim(input)?;
                Step {
                    consumed: n,
                    data: 0..n,
                }
            }
        };
        self.settle();
        Ok(step)
    }

    /// The peer closed the connection: the end of a close-delimited body, else too early.
    pub(crate) fn end_of_stream(&mut self) -> Result<(), Truncated> {
        match self {
            BodyState::UntilClose | BodyState::Done => {
                *self = BodyState::Done;
                Ok(())
            }
            _ => Err(Truncated),
        }
    }

    fn settle(&mut self) {
        let done = match self {
            BodyState::Length(left) => *left == 0,
            BodyState::Chunked(decoder) => decoder.is_done(),
            _ => false,
        };
        if done {
            *self = BodyState::Done;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_stops_at_its_end() {
        let mut body = BodyState::new(Framing::Length(5));
        assert_eq!(body.skim(b"hel").unwrap(), (3, 3));
        assert_eq!(body.skim(b"loGET /").unwrap(), (2, 2));
        assert!(body.is_done());
        assert_eq!(body.skim(b"more").unwrap(), (0, 0));
    }

    #[test]
    fn chunked_bodies_skim_raw_and_decode_data() {
        let mut raw = BodyState::new(Framing::Chunked);
        assert_eq!(raw.skim(b"2\r\nhi\r\n0\r\n\r\nnext").unwrap(), (12, 2));
        assert!(raw.is_done());
        let mut data = BodyState::new(Framing::Chunked);
        let step = data.decode(b"2\r\nhi\r\n0\r\n\r\n").unwrap();
        assert_eq!((step.consumed, step.data), (5, 3..5));
        assert!(!data.is_done());
        assert_eq!(data.decode(b"\r\n0\r\n\r\n").unwrap().consumed, 7);
        assert!(data.is_done());
    }

    #[test]
    fn only_a_close_delimited_body_may_end_with_the_connection() {
        let mut body = BodyState::new(Framing::UntilClose);
        assert_eq!(body.skim(b"abc").unwrap(), (3, 3));
        assert_eq!(body.end_of_stream(), Ok(()));
        assert!(body.is_done());
        assert_eq!(
            BodyState::new(Framing::Length(1)).end_of_stream(),
            Err(Truncated)
        );
        assert_eq!(
            BodyState::new(Framing::Chunked).end_of_stream(),
            Err(Truncated)
        );
        assert!(BodyState::new(Framing::Empty).is_done());
    }
}
