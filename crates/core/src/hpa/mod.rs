//! The Kubernetes Horizontal Pod Autoscaler, as `../shared/spec/hpa.md` specifies it.
//!
//! - [`spec`]: the HPA spec as users write it, its defaulting and validation (§2);
//! - [`observe`]: what a sync reads (scale, pods, metrics);
//! - [`replicas`]: one proposal per metric (§4);
//! - [`normalize`]: stabilization, rate limits and bounds (§5, §6);
//! - [`controller`]: the reconcile with its conditions and events (§3, §7, §8);
//! - [`status`]: the status and kubectl's presentation of it (§2.4, §9).

pub mod controller;
pub mod normalize;
pub mod observe;
pub mod replicas;
pub mod spec;
pub mod status;

#[cfg(test)]
mod tests;

pub use controller::{Hpa, HpaSettings, HpaState, Plan};
pub use observe::HpaObservation;
pub use spec::HpaSpec;
pub use status::HpaStatus;
