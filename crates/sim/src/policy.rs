//! The policies a run compares, and how the simulator drives each of them.
//!
//! A driver is the simulator's side of the engine's contract: it collects what the engine would
//! observe in production (through the same metric pipeline, on virtual time), hands it to the
//! *same* `ebb_core` policy value, and returns the engine's [`Decision`]. The simulator applies
//! `decision.scale_to`. No policy logic lives here.

use ebb_core::Decision;
use ebb_core::hpa::{HpaSettings, HpaSpec};
use ebb_core::kpa::KpaSpec;

use crate::cluster::{Cluster, CpuModel};
use crate::decide::DecideRecord;

mod hpa;
mod kpa;

/// One policy to simulate.
#[derive(Debug, Clone)]
pub struct PolicyDef {
    /// Name in tables and plots.
    pub name: String,
    /// What decides.
    pub kind: PolicyKind,
}

/// The decision procedure of a policy.
#[derive(Debug, Clone)]
pub enum PolicyKind {
    /// A Kubernetes HorizontalPodAutoscaler.
    Hpa {
        /// The spec (autoscaling/v2 form).
        spec: Box<HpaSpec>,
        /// kube-controller-manager's flags, including the sync period.
        settings: HpaSettings,
    },
    /// The Knative Pod Autoscaler (KServe serverless mode).
    Kpa {
        /// The resolved settings.
        spec: Box<KpaSpec>,
        /// The object it came from (InferenceService, Knative Service or ebb Autoscaler), for
        /// sweeps and `ebb decide`.
        manifest: Box<ebb_manifest::Manifest>,
    },
    /// No autoscaler: a fixed number of replicas (a baseline).
    Fixed {
        /// Replicas.
        replicas: u32,
    },
}

impl PolicyDef {
    /// Replicas at the start of a run when the user does not say: the policy's lower bound.
    pub fn default_initial_replicas(&self) -> u32 {
        match &self.kind {
            PolicyKind::Hpa { spec, .. } => spec.min().max(1) as u32,
            PolicyKind::Kpa { spec, .. } => {
                // Knative creates a revision at initial-scale, raised to min-scale.
                let n = spec.initial_scale.max(spec.min_scale).max(0);
                let n = if spec.max_scale > 0 {
                    n.min(spec.max_scale)
                } else {
                    n
                };
                n as u32
            }
            PolicyKind::Fixed { replicas } => *replicas,
        }
    }

    /// The policy's own per-replica concurrency limit (Knative's containerConcurrency), if any.
    pub fn container_concurrency(&self) -> Option<u32> {
        match &self.kind {
            PolicyKind::Kpa { spec, .. } if spec.container_concurrency > 0 => {
                Some(u32::try_from(spec.container_concurrency).unwrap_or(u32::MAX))
            }
            _ => None,
        }
    }

    /// `hpa`, `kpa` or `fixed`.
    pub fn class(&self) -> &'static str {
        match &self.kind {
            PolicyKind::Hpa { .. } => "hpa",
            PolicyKind::Kpa { .. } => "kpa",
            PolicyKind::Fixed { .. } => "fixed",
        }
    }
}

/// How the HPA's resource metrics reach it: metrics-server scrapes every `resolution` and a
/// scrape becomes readable `lag` later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsPipeline {
    /// metrics-server `--metric-resolution`, ns.
    pub resolution_ns: i64,
    /// From a scrape until the HPA can read it, ns.
    pub lag_ns: i64,
}

impl Default for MetricsPipeline {
    fn default() -> Self {
        MetricsPipeline {
            resolution_ns: 15_000_000_000,
            lag_ns: 2_000_000_000,
        }
    }
}

/// What a driver needs besides the cluster.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DriverContext {
    pub(crate) cpu: CpuModel,
    pub(crate) metrics: MetricsPipeline,
    pub(crate) record_decisions: bool,
}

/// The simulator's side of one policy.
pub(crate) trait Driver {
    /// The next time the driver wants [`Driver::wake`], ns.
    fn next_wake(&self) -> i64;
    /// Timers due at `now`: metric collection, syncs, ticks. Returns the decision to act on.
    fn wake(&mut self, now: i64, cluster: &Cluster) -> Option<Decision>;
    /// The ready count changed at `at` (the driver wakes then to look).
    fn pods_changed(&mut self, _at: i64) {}
    /// The decisions recorded as `ebb decide` scenarios, if recording.
    fn take_records(&mut self) -> Vec<DecideRecord> {
        Vec::new()
    }
}

/// The driver for `policy`.
pub(crate) fn driver(
    policy: &PolicyDef,
    ctx: DriverContext,
    slots: u32,
    initial: u32,
) -> Box<dyn Driver> {
    match &policy.kind {
        PolicyKind::Hpa { spec, settings } => Box::new(hpa::HpaDriver::new(
            &policy.name,
            (**spec).clone(),
            settings.clone(),
            ctx,
            slots,
        )),
        PolicyKind::Kpa { spec, manifest } => Box::new(kpa::KpaDriver::new(
            &policy.name,
            (**spec).clone(),
            (**manifest).clone(),
            initial,
            ctx,
        )),
        PolicyKind::Fixed { .. } => Box::new(Fixed),
    }
}

/// A fixed replica count: never wakes.
struct Fixed;

impl Driver for Fixed {
    fn next_wake(&self) -> i64 {
        i64::MAX
    }

    fn wake(&mut self, _now: i64, _cluster: &Cluster) -> Option<Decision> {
        None
    }
}
