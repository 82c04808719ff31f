//! The Knative Pod Autoscaler (the one KServe's serverless mode uses), as
//! `../shared/spec/kpa.md` specifies it: concurrency or requests-per-second targets, stable and
//! panic windows, scale to zero with its timers, and the request holder's place in the path.
//!
//! Pure: no I/O, no clock. The driver hands in every statistic and the time.
//!
//! - [`KpaConfig`] (`config-autoscaler`, §2) and [`KpaSettings`] (the revision's
//!   `autoscaling.knative.dev/*` annotations, §3) are what users write; [`KpaSpec::resolve`]
//!   turns them into the numbers the engine uses (§4).
//! - [`Stat`]s (§5) go into the [`collector::Collector`]'s per-second [`buckets`].
//!   [`RequestStats`] measures them from request events (§5.1), the [`HolderReporter`]
//!   produces the request holder's stats and its poke (§5.3), and [`scrape`] turns sampled
//!   pods into a revision total (§5.2).
//! - The [`decider`] (§6, with the scale-down [`delay`] window of §7) and the [`reconciler`]
//!   (§8) are driven through one value, [`Kpa`], whose [`KpaState`] can be saved and restored.
//! - Every call returns the shared [`crate::Decision`]; [`explain`] renders it on one line.
//! - [`replay`] drives a `Kpa` through a scenario in virtual time (`ebb decide`, tests).

pub mod buckets;
pub mod collector;
pub mod config;
pub mod decider;
pub mod delay;
pub mod explain;
pub mod holder;
mod parse;
pub mod policy;
pub mod reconciler;
pub mod replay;
pub mod request_stats;
pub mod scrape;
pub mod settings;
pub mod spec;

pub use collector::{Source, Stat};
pub use config::KpaConfig;
pub use holder::HolderReporter;
pub use policy::{Kpa, KpaState, Observation, TICK_INTERVAL, WindowValues};
pub use reconciler::{Activity, SksMode};
pub use request_stats::RequestStats;
pub use settings::KpaSettings;
pub use spec::{Algorithm, KpaSpec, Metric, Reachability};
