//! ebb on Kubernetes: the `Autoscaler` custom resource and `ebb controller`, which runs the same
//! HPA and KPA engines as `ebb serve` and `ebb sim` against a cluster.
//!
//! - [`crd`]: the resource (`ebb.dev/v1alpha1`, namespaced, status subresource); its CRD is
//!   generated from the Rust types ([`crd_yaml`]) and checked in as `deploy/crd.yaml`.
//! - [`api`]: every request the controller sends, with the exact paths and patch types.
//! - [`sync`]: one sync of one Autoscaler (class hpa here, class kpa in [`kpa_sync`]).
//! - [`status`]: the status ⇄ the engines' memory, so a restart changes nothing.
//! - [`leader`]: the Lease, and the [`leader::Fence`] every write goes through.
//! - [`controller`]: the watch loop that schedules syncs.
//! - [`gateway`]: `ebb gateway --kube`, the request holder and meter of class-kpa services, and
//!   [`gateway_stats`], how the controller reads what it measured.

pub mod api;
pub mod clock;
pub mod controller;
pub mod crd;
pub mod error;
pub mod gateway;
pub mod gateway_stats;
pub mod knative_config;
pub mod kpa_sync;
pub mod leader;
pub mod metrics_api;
pub mod observe;
pub mod prometheus;
pub mod status;
pub mod sync;

pub use error::{Error, Result};

use kube::CustomResourceExt;

/// The controller's client for `config`. kube retries 429/503/504 answers up to 15 times with
/// backoff by default; a sync must fail fast instead (a metrics API that answers 503 is the
/// `<unknown>` target of upstream, and the next sync comes one sync period later).
pub fn client(mut config: kube::Config) -> Result<kube::Client> {
    config.default_retry = false;
    kube::Client::try_from(config)
        .map_err(|e| Error::Api(format!("cannot build the Kubernetes client: {e}")))
}

/// The CRD of [`crd::Autoscaler`] as YAML, as checked in at `deploy/crd.yaml`.
pub fn crd_yaml() -> String {
    let crd = serde_json::to_value(crd::Autoscaler::crd()).unwrap_or_default();
    format!(
        "# Generated from crates/kube/src/crd.rs by `ebb controller crd`; do not edit.\n{}",
        ebb_manifest::yaml::to_yaml(&crd)
    )
}
