//! The gateway end to end: real sockets on 127.0.0.1, in-test model servers, a real client.

mod support;

mod balancing;
mod clients;
mod counting;
mod draining;
mod dying;
mod framing;
mod holding;
mod limits;
mod protocols;
mod queueing;
mod retrying;
mod routing;
mod streaming;
mod threads;
