//! ebb's local replicas: a service's replicas as processes on this machine.
//!
//! [`Supervisor::start`] sweeps replicas left behind by an earlier ebb that died, then
//! [`Supervisor::add_service`] gives a [`ReplicaSet`] per service, built from a plain
//! [`ReplicaSpec`] (the local image of a Deployment's container). One call reconciles:
//! [`ReplicaSet::set_desired`] starts replicas or takes the least busy ones out of the pool.
//!
//! Each replica:
//! - gets a free loopback port (`PORT`, and `{port}` in its arguments);
//! - is probed (startupProbe, readinessProbe, livenessProbe; default readiness: TCP connect),
//!   every 5 ms (exec probes: 100 ms) until it first answers, then on the probe's period, so
//!   ebb knows a replica is ready a few milliseconds after it is; readiness changes are
//!   published at once on [`ReplicaSet::watch`] with start and ready timestamps;
//! - is restarted after a crash with the kubelet's backoff, shown as `CrashLoopBackOff`;
//! - stops in order: out of the pool (`Terminating`), drained by the caller
//!   ([`ReplicaSet::drained`]) or until its grace period ends, SIGTERM, SIGKILL;
//! - runs in its own process group, with a parent-death signal and a watchdog process, so it
//!   dies with ebb even when ebb is SIGKILLed; records in the [`StateDir`] let the next ebb
//!   kill anything that still survived;
//! - writes stdout and stderr to a log file in the state directory ([`logs`] reads them);
//! - has its CPU (summed over its process group) and memory sampled from /proc
//!   ([`ReplicaSet::usage`]), as metrics-server reports pods to the HPA.
//!
//! ```no_run
//! use ebb_supervisor::{HttpGet, Probe, ProbeAction, ReplicaSpec, StateDir, Supervisor, SupervisorConfig};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let supervisor = Supervisor::start(SupervisorConfig::new(StateDir::default_root()))?;
//! let mut spec = ReplicaSpec::new("ebb", ["model-server", "--port", "{port}"]);
//! spec.readiness_probe = Some(Probe::new(ProbeAction::HttpGet(HttpGet::path("/health_check"))));
//! let model = supervisor.add_service("custom-model", spec)?;
//!
//! let mut pool = model.watch(); // the gateway's view: who is ready, where
//! model.set_desired(2, |_replica| 0); // startup is the diff from nothing
//! pool.wait_for(|replicas| replicas.iter().filter(|r| r.ready).count() == 2).await?;
//!
//! // Scale-down: the least busy replica leaves the pool at once...
//! let in_flight = |replica: &str| if replica == "custom-model-1" { 3 } else { 0 };
//! let change = model.set_desired(1, in_flight);
//! assert_eq!(change.stopping, ["custom-model-2"]);
//! // ...and once the gateway has drained it, gets SIGTERM (SIGKILL after its grace period).
//! model.drained("custom-model-2");
//!
//! supervisor.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Linux only (process groups, `PR_SET_PDEATHSIG`, /proc).

mod backoff;
mod check;
pub mod logs;
mod os;
mod plan;
mod probe;
mod replica;
mod set;
mod spawner;
mod spec;
mod state;
mod status;
mod supervisor;
mod usage;
mod watchdog;

pub use backoff::BackoffPolicy;
pub use set::{ReplicaSet, ScaleChange};
pub use spec::{
    DEFAULT_TERMINATION_GRACE_PERIOD, HttpGet, Probe, ProbeAction, ProbeKind, ReplicaSpec,
};
pub use state::{Leftover, StateDir, replica_name};
pub use status::{EventKind, LastExit, ReplicaEvent, ReplicaPhase, ReplicaStatus};
pub use supervisor::{Error, Supervisor, SupervisorConfig};
pub use usage::ReplicaUsage;
