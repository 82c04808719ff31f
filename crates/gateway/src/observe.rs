//! What the gateway saw, once per observation period: the inputs of the KPA engine.
//!
//! Plain data. Averages are time-weighted over the period, as Knative's queue-proxy reports
//! them (kpa.md §5.1); service values include requests waiting in the queue, as the
//! activator's do (§5.3), so a service at zero or at its concurrency limit still shows its
//! true demand. Rates are per second of the actual period.

use std::net::SocketAddr;
use std::time::Duration;

use crate::service::{ReplicaId, ReplicaState};

/// One observation of every service.
#[derive(Debug, Clone)]
pub struct Observations {
    /// When the period ended, on tokio's clock.
    pub at: tokio::time::Instant,
    /// One entry per configured service, in configuration order.
    pub services: Vec<ServiceObservation>,
}

/// One service over one period.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceObservation {
    /// The service's name.
    pub service: String,
    /// Length of the period these values cover.
    pub period: Duration,
    /// Time-weighted average of admitted, unfinished requests (waiting ones included).
    pub average_concurrency: f64,
    /// Requests completed per second (response body ended or request abandoned).
    pub requests_per_second: f64,
    /// Requests admitted per second; Knative's `RequestCount` counts these.
    pub arrivals_per_second: f64,
    /// Admitted and unfinished at the end of the period.
    pub in_flight: u32,
    /// Waiting for a replica slot at the end of the period (held at zero or queued).
    pub held: u32,
    /// Replicas in state [`ReplicaState::Ready`].
    pub ready_replicas: u32,
    /// Every replica the service has, whatever its state.
    pub replicas: Vec<ReplicaObservation>,
}

/// One replica over one period.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaObservation {
    /// The replica.
    pub id: ReplicaId,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Whether it takes new requests.
    pub state: ReplicaState,
    /// Time-weighted average of requests in flight at this replica.
    pub average_concurrency: f64,
    /// Requests it completed per second.
    pub requests_per_second: f64,
    /// Requests sent to it per second.
    pub arrivals_per_second: f64,
    /// In flight at the end of the period.
    pub in_flight: u32,
}
