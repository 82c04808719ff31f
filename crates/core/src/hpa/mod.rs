//! The Kubernetes Horizontal Pod Autoscaler, as `../shared/spec/hpa.md` specifies it.

pub mod spec;
