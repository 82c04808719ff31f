//! The gateway's own HTTP/1.1: the pure parts of both hops (heads, body framing).
//!
//! Why not hyper here: on the request path hyper's generic machinery (a `HeaderMap` per
//! message on each side, dispatch state machines, buffers kept for the life of a connection)
//! cost about twice nginx's instructions per proxied request and 16 KiB per idle client
//! (docs/benchmarks.md). The gateway only needs to pass messages through: it parses each head
//! once into byte ranges, writes the next hop's head in the same pass, and copies bodies
//! without decoding them when both sides speak HTTP/1.1. hyper still serves HTTP/2 clients.

pub(crate) mod body;
pub(crate) mod chunked;
pub(crate) mod head;
