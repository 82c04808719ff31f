//! ebb's policy engine: the Kubernetes HPA and Knative KPA decision procedures as pure code.
//!
//! Nothing here does I/O or reads a clock. A driver (the simulator, the local runtime, the
//! Kubernetes controller, `ebb decide`) hands the engine everything it needs, including the
//! time, and gets back a [`Decision`] that carries its own explanation.
//!
//! - [`hpa`]: the Horizontal Pod Autoscaler (`../shared/spec/hpa.md`).
//! - [`kpa`]: the Knative Pod Autoscaler (`../shared/spec/kpa.md`).
//! - [`decision`]: the answer shared by every policy, and its renderer for people.
//! - [`units`]: Kubernetes quantities and Go durations.
//! - [`time`]: the engine's notion of an instant.

pub mod decision;
pub mod hpa;
pub mod kpa;
pub mod time;
pub mod units;
pub mod validation;

pub use decision::{Condition, ConditionStatus, Decision, Event, EventType, PolicyClass, Step};
pub use time::Instant;
pub use units::{KubeDuration, Quantity};
pub use validation::FieldError;
