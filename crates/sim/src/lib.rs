//! `ebb sim`: what would an autoscaling policy have done on this traffic?
//!
//! A discrete-event simulator on virtual time that drives the *same* `ebb_core` engines that
//! scale replicas in production: the HPA through the resource-metrics pipeline of a cluster
//! (metrics-server resolution and lag, the sync period), the Knative autoscaler through
//! per-second statistics, its 2-second tick and the request holder at zero. No policy logic is
//! copied here: a [`policy`] driver only collects what the engine would observe and applies the
//! replica count it decides.
//!
//! - [`workload`]: requests from a trace (read by `ebb_trace`) or a seeded [`arrivals`]
//!   generator, each with a service time from a [`dist`]ribution or from its tokens;
//! - [`cluster`]: replicas with request slots, cold starts, CPU, drain on scale-down, and the
//!   gateway queue that holds requests while nothing is ready;
//! - [`engine`]: the event loop; [`stats`]: what a run measures;
//! - [`decide`]: any decision of a run as an `ebb decide` scenario.

pub mod arrivals;
pub mod cluster;
pub mod decide;
pub mod dist;
pub mod engine;
pub mod manifest;
pub mod plot;
pub mod policy;
pub mod report;
pub mod spec;
pub mod stats;
pub mod workload;

pub use engine::{RunResult, ScaleRecord, SimConfig, run};
pub use policy::{MetricsPipeline, PolicyDef, PolicyKind};
pub use stats::{LittleCheck, Row, Summary};
pub use workload::{Request, ServiceModel, Workload};
