//! ebb's load generator: the traffic that makes an autoscaler move.
//!
//! Four ways to offer load, the ones users know from their tools:
//! - closed-loop users with think time, like locust ([`Mode::Users`]);
//! - a fixed number of workers sending back to back, like hey ([`Mode::Concurrency`]);
//! - an open-loop arrival schedule, like wrk2 or vegeta: a constant or stepped rate, or a
//!   recorded trace replayed at its own offsets ([`Mode::OpenLoop`] with a [`Schedule`]).
//!
//! In open loop, latency is measured from the *intended* send time, so a slow server cannot
//! hide its slowness by slowing the generator down (coordinated omission). When every
//! connection is busy at a request's intended time, the request goes out late, its wait is
//! part of its latency, and the summary says how many requests waited.
//!
//! The pure parts ([`schedule`], [`trace`], [`wait`], [`body`], [`stats`], [`summary`]) take
//! time as a value; [`run()`] is the only part that does I/O.

pub mod body;
mod civil;
mod client;
pub mod config;
mod progress;
pub mod run;
pub mod schedule;
pub mod stats;
pub mod summary;
mod timeline;
pub mod trace;
pub mod wait;

pub use body::{BodySource, SentimentShape};
pub use config::{Config, ConfigError, Mode, RequestTemplate, Target};
pub use progress::ProgressMode;
pub use run::{RunError, RunOptions, run};
pub use schedule::{RatePlan, RateStep, Schedule};
pub use stats::{ErrorKind, Stats};
pub use summary::Summary;
pub use trace::{InvalidSpeed, Trace, TraceFormat};
pub use wait::WaitTime;
