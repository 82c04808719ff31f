//! The Knative Pod Autoscaler, as `../shared/spec/kpa.md` specifies it.

pub mod config;
mod parse;
pub mod settings;
pub mod spec;

pub use config::KpaConfig;
pub use settings::KpaSettings;
pub use spec::{Algorithm, KpaSpec, Metric, Reachability};
