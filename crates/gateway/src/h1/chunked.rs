//! The chunked transfer coding (RFC 9112 §7.1), decoded incrementally, byte for byte.
//!
//! The decoder keeps no bytes, only its place in the grammar, so any split of the input into
//! reads gives the same result, and a hostile peer's endless extension or trailer costs
//! nothing but time. It reports where the chunk data lies in what it was given: the gateway
//! either forwards the raw bytes (HTTP/1.1 on both sides; the decoder only finds the end) or
//! the data alone (HTTP/1.0 clients, HTTP/2 clients).

use std::ops::Range;

/// Chunk sizes beyond this are refused (16 hex digits would overflow checks downstream).
const MAX_CHUNK: u64 = 1 << 60;

/// The input is not valid chunked coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid chunked encoding: {0}")]
pub(crate) struct ChunkError(pub(crate) &'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size (at least one).
    Size {
        digits: u8,
    },
    /// After the size: optional whitespace, then `;` extensions or CR.
    SizeEnd,
    /// Inside a chunk extension, up to CR.
    Extension,
    /// CR seen at the end of the size line; LF next.
    SizeLf,
    /// Chunk data still to come.
    Data,
    /// CR LF after the data.
    DataCr,
    DataLf,
    /// Start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer field line, up to CR.
    Trailer,
    TrailerLf,
    /// CR of the final empty line seen; LF ends the body.
    EndLf,
    Done,
}

/// Where one call of [`ChunkedDecoder::decode`] got to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// Bytes of the input that were used (framing and data).
    pub(crate) consumed: usize,
    /// Chunk data within `input[..consumed]`, possibly empty; it always ends at `consumed`.
    pub(crate) data: Range<usize>,
}

/// An incremental decoder of one chunked body.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// Size of the chunk being read, then the data left in it.
    remaining: u64,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            remaining: 0,
        }
    }
}

impl ChunkedDecoder {
    /// Whether the final chunk and trailers have been read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decode from the start of `input` up to the end of the next run of chunk data, the end
    /// of the body, or the end of `input`, whichever comes first.
    pub(crate) fn decode(&mut self, input: &[u8]) -> Result<Step, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Data {
                let take = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len() - i);
                self.remaining -= take as u64;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                return Ok(Step {
                    consumed: i + take,
                    data: i..i + take,
                });
            }
            if self.state == State::Done {
                break;
            }
            self.framing(input[i])?;
            i += 1;
        }
        Ok(Step {
            consumed: i,
            data: i..i,
        })
    }

    /// Whether the next byte would start a chunk's size line: a chunk written here keeps the
    /// body well formed.
    pub(crate) fn between_chunks(&self) -> bool {
        self.state == State::Size { digits: 0 }
    }

    /// Bytes of `input` that belong to the body (raw, framing included), and how many of them
    /// are chunk data; stops at the end of the body.
    pub(crate) fn skim(&mut self, input: &[u8]) -> Result<(usize, u64), ChunkError> {
        let (mut used, mut data) = (0, 0u64);
        while used < input.len() && !self.is_done() {
            let step = self.decode(&input[used..])?;
            used += step.consumed;
            data += step.data.len() as u64;
        }
        Ok((used, data))
    }

    /// One byte of framing.
    fn framing(&mut self, byte: u8) -> Result<(), ChunkError> {
        self.state = match (self.state, byte) {
            (State::Size { digits }, _) if byte.is_ascii_hexdigit() => {
                if self.remaining > MAX_CHUNK >> 4 || digits >= 16 {
                    return Err(ChunkError("chunk size too large"));
                }
                let value = (byte as char).to_digit(16).unwrap_or(0);
                self.remaining = self.remaining << 4 | u64::from(value);
                State::Size { digits: digits + 1 }
            }
            (State::Size { digits: 0 }, _) => return Err(ChunkError("expected a chunk size")),
            (State::Size { .. } | State::SizeEnd, b' ' | b'\t') => State::SizeEnd,
            (State::Size { .. } | State::SizeEnd, b';') => State::Extension,
            (State::Size { .. } | State::SizeEnd | State::Extension, b'\r') => State::SizeLf,
            (State::Extension, b'\n') => return Err(ChunkError("bare LF in a chunk extension")),
            (State::Extension, _) => State::Extension,
            (State::SizeLf, b'\n') if self.remaining == 0 => State::TrailerStart,
            (State::SizeLf, b'\n') => State::Data,
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => State::Size { digits: 0 },
            (State::TrailerStart, b'\r') => State::EndLf,
            (State::TrailerStart | State::Trailer, b'\n') => {
                return Err(ChunkError("bare LF in the trailers"));
            }
            (State::TrailerStart | State::Trailer, _) => State::Trailer,
            (State::TrailerLf, b'\n') => State::TrailerStart,
            (State::EndLf, b'\n') => State::Done,
            (State::DataCr | State::DataLf, _) => {
                return Err(ChunkError("chunk data longer than its size"));
            }
            _ => return Err(ChunkError("malformed chunk framing")),
        };
        if self.state == State::Trailer && byte == b'\r' {
            self.state = State::TrailerLf;
        }
        Ok(())
    }
}

/// Frame `len` bytes of data as one chunk: the size line before it.
pub(crate) fn chunk_header(len: usize, out: &mut Vec<u8>) {
    crate::h1::head::write_hex(out, len);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk and the end of the body (no trailers).
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode `input` fed in pieces of `step` bytes; the data, and whether the body ended
    /// exactly at `input`'s end.
    fn decode_in_pieces(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut decoder = ChunkedDecoder::default();
        let mut data = Vec::new();
        let mut used = 0;
        for piece in input.chunks(step) {
            let mut at = 0;
            while at < piece.len() && !decoder.is_done() {
                let s = decoder.decode(&piece[at..])?;
                data.extend_from_slice(&piece[at..][s.data]);
                at += s.consumed;
            }
            used += at;
            if decoder.is_done() {
                break;
            }
        }
        assert!(decoder.is_done(), "body incomplete");
        Ok((data, used))
    }

    #[test]
    fn any_split_decodes_the_same() {
        let body =
            b"5\r\nhello\r\n1;name=\"v\"\r\n \r\nA \r\n0123456789\r\n0\r\nx-t: 1\r\n\r\nNEXT";
        for step in 1..=body.len() {
            let (data, used) = decode_in_pieces(body, step).unwrap();
            assert_eq!(data, b"hello 0123456789", "step {step}");
            assert_eq!(used, body.len() - 4, "stops before the next message");
        }
    }

    #[test]
    fn skim_counts_raw_and_data_bytes() {
        let mut decoder = ChunkedDecoder::default();
        let (used, data) = decoder.skim(b"3\r\nabc\r\n0\r\n\r\nGET").unwrap();
        assert_eq!((used, data, decoder.is_done()), (13, 3, true));
        let mut decoder = ChunkedDecoder::default();
        assert_eq!(decoder.skim(b"3\r\nab").unwrap(), (5, 2));
        assert!(!decoder.is_done());
    }

    #[test]
    fn between_chunks_only_where_a_new_chunk_may_start() {
        let mut decoder = ChunkedDecoder::default();
        assert!(decoder.between_chunks(), "at the start");
        let mut seen = Vec::new();
        for &byte in b"3\r\nabc\r\n2\r\nde\r\n" {
            decoder.skim(&[byte]).unwrap();
            seen.push(decoder.between_chunks());
        }
        // Only after each chunk's closing CR LF.
        let at: Vec<usize> = (0..seen.len()).filter(|&i| seen[i]).collect();
        assert_eq!(at, [7, 14]);
    }

    #[test]
    fn malformed_framing_is_refused() {
        for bad in [
            &b"\r\n"[..],
            b"g\r\n",
            b"3\r\nabcd\r\n",
            b"3\nabc\r\n",
            b"3\r\nabc\n0\r\n\r\n",
            b"11111111111111111\r\n",
            b"0\r\nx\n",
            b"3;ext\nabc",
        ] {
            let mut decoder = ChunkedDecoder::default();
            assert!(
                decoder.skim(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use proptest::sample::select;

        /// A chunked body as senders write it: sizes in either case or zero-padded,
        /// extensions, trailers; then the start of the next message.
        fn encoded() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
            let chunk = (
                prop::collection::vec(any::<u8>(), 1..40),
                select(vec!["{:x}", "{:X}", "{:04x}"]),
                prop::option::of("[ \t]{0,2};[a-z]{1,5}(=[!-~]{0,6})?"),
            );
            let chunks = prop::collection::vec(chunk, 0..6);
            let trailers = prop::collection::vec("x-[a-z]{1,6}: [ -~]{0,8}", 0..3);
            (chunks, trailers).prop_map(|(chunks, trailers)| {
                let (mut body, mut data) = (Vec::new(), Vec::new());
                for (bytes, size, extension) in chunks {
                    let size = match size {
                        "{:x}" => format!("{:x}", bytes.len()),
                        "{:X}" => format!("{:X}", bytes.len()),
                        _ => format!("{:04x}", bytes.len()),
                    };
                    body.extend_from_slice(size.as_bytes());
                    body.extend_from_slice(extension.unwrap_or_default().as_bytes());
                    body.extend_from_slice(b"\r\n");
                    body.extend_from_slice(&bytes);
                    body.extend_from_slice(b"\r\n");
                    data.extend_from_slice(&bytes);
                }
                body.extend_from_slice(b"0\r\n");
                for trailer in trailers {
                    body.extend_from_slice(trailer.as_bytes());
                    body.extend_from_slice(b"\r\n");
                }
                body.extend_from_slice(b"\r\nNEXT");
                (body, data)
            })
        }

        /// Bytes that look like chunked coding, or almost.
        fn chunked_like() -> impl Strategy<Value = Vec<u8>> {
            let piece = prop_oneof![
                3 => select(vec![
                    &b"0"[..], b"5", b"a", b"F", b"ffffffffffffffff", b"\r\n", b"\r", b"\n", b";",
                    b";x=\"y\"", b" ", b"\t", b"hello", b"x-t: 1",
                ])
                .prop_map(<[u8]>::to_vec),
                1 => prop::collection::vec(any::<u8>(), 1..4),
            ];
            prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            /// However the reads split it, a body decodes to its data and ends where it ends.
            #[test]
            fn a_chunked_body_decodes_to_its_data_at_any_split((body, data) in encoded(), step in 1usize..64) {
                let (decoded, used) = decode_in_pieces(&body, step).unwrap();
                prop_assert_eq!(decoded, data);
                prop_assert_eq!(used, body.len() - 4);
            }

            /// On any input the decoder moves forward or stops with an error or at the end,
            /// and says where the data is within what it took.
            #[test]
            fn any_input_is_decoded_or_refused_in_bounds(input in chunked_like(), step in 1usize..8) {
                let mut decoder = ChunkedDecoder::default();
                'pieces: for piece in input.chunks(step) {
                    let mut at = 0;
                    while at < piece.len() {
                        let Ok(s) = decoder.decode(&piece[at..]) else {
                            break 'pieces;
                        };
                        prop_assert!(s.consumed <= piece.len() - at);
                        prop_assert!(s.data.start <= s.data.end && s.data.end == s.consumed);
                        if decoder.is_done() {
                            prop_assert_eq!(decoder.decode(&piece[at + s.consumed..]).unwrap().consumed, 0);
                            break 'pieces;
                        }
                        prop_assert!(s.consumed > 0, "stalled on {:?}", &piece[at..]);
                        at += s.consumed;
                    }
                }
            }
        }
    }

    #[test]
    fn chunk_headers_are_hex() {
        let mut out = Vec::new();
        chunk_header(0x1f3, &mut out);
        assert_eq!(out, b"1f3\r\n");
    }
}
