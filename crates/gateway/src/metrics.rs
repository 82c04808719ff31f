//! The gateway's Prometheus metrics, registered in a registry the caller passes in.
//!
//! Families are resolved to per-service and per-replica handles once, when the service or
//! replica is created, so the request path only touches atomics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ServiceLabels {
    pub(crate) service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CodeLabels {
    pub(crate) service: String,
    pub(crate) code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReasonLabels {
    pub(crate) service: String,
    pub(crate) reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ReplicaLabels {
    pub(crate) service: String,
    pub(crate) replica: String,
}

fn duration_histogram() -> Histogram {
    // 1 ms .. ~65 s: inference latency spans token streams of a minute.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

fn wait_histogram() -> Histogram {
    // 1 ms .. ~9 min: a request held at zero waits out a model's load, minutes on a GPU.
    Histogram::new(exponential_buckets(0.001, 2.0, 20))
}

/// Every family the gateway exports.
#[derive(Debug, Clone)]
pub(crate) struct GatewayMetrics {
    requests: Family<CodeLabels, Counter>,
    rejected: Family<ReasonLabels, Counter>,
    duration: Family<ServiceLabels, Histogram, fn() -> Histogram>,
    wait: Family<ServiceLabels, Histogram, fn() -> Histogram>,
    in_flight: Family<ServiceLabels, Gauge>,
    held: Family<ServiceLabels, Gauge>,
    average_concurrency: Family<ServiceLabels, Gauge<f64, AtomicU64>>,
    wakeups: Family<ServiceLabels, Counter>,
    retries: Family<ServiceLabels, Counter>,
    responses_cut: Family<ServiceLabels, Counter>,
    replica_in_flight: Family<ReplicaLabels, Gauge>,
    replica_completed: Family<ReplicaLabels, Counter>,
    pub(crate) connections: Gauge,
    pub(crate) unrouted: Counter,
}

impl GatewayMetrics {
    /// Create the families and register them under `ebb_gateway_`.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = GatewayMetrics {
            requests: Family::default(),
            rejected: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            wait: Family::new_with_constructor(wait_histogram),
            in_flight: Family::default(),
            held: Family::default(),
            average_concurrency: Family::default(),
            wakeups: Family::default(),
            retries: Family::default(),
            responses_cut: Family::default(),
            replica_in_flight: Family::default(),
            replica_completed: Family::default(),
            connections: Gauge::default(),
            unrouted: Counter::default(),
        };
        let r = registry.sub_registry_with_prefix("ebb_gateway");
        r.register(
            "requests",
            "Requests answered, by service and status code",
            m.requests.clone(),
        );
        r.register(
            "rejected",
            "Requests the gateway answered itself, by reason",
            m.rejected.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time from admission to the end of the response body",
            m.duration.clone(),
        );
        r.register(
            "wait_seconds",
            "Time a request that found no replica free waited for one (held at zero, or queued at containerConcurrency), until it got one, timed out or left",
            m.wait.clone(),
        );
        r.register(
            "in_flight",
            "Requests admitted and not finished, waiting ones included",
            m.in_flight.clone(),
        );
        r.register(
            "held",
            "Requests waiting for a replica slot",
            m.held.clone(),
        );
        r.register(
            "average_concurrency",
            "Time-weighted average in-flight requests over the last observation period",
            m.average_concurrency.clone(),
        );
        r.register(
            "wakeups",
            "Wakeups sent to the autoscaler for a service at zero",
            m.wakeups.clone(),
        );
        r.register(
            "retries",
            "Requests moved to another replica before anything was sent",
            m.retries.clone(),
        );
        r.register(
            "responses_cut",
            "Responses cut off because the replica sent nothing for responseIdleTimeout",
            m.responses_cut.clone(),
        );
        r.register(
            "replica_in_flight",
            "Requests in flight at a replica",
            m.replica_in_flight.clone(),
        );
        r.register(
            "replica_completed",
            "Requests completed by a replica",
            m.replica_completed.clone(),
        );
        r.register(
            "connections",
            "Open client connections",
            m.connections.clone(),
        );
        r.register(
            "unrouted",
            "Requests that matched no service (answered 404)",
            m.unrouted.clone(),
        );
        m
    }

    pub(crate) fn service(&self, name: &str) -> ServiceMetrics {
        let labels = ServiceLabels {
            service: name.to_string(),
        };
        ServiceMetrics {
            name: name.to_string(),
            requests: self.requests.clone(),
            rejected: self.rejected.clone(),
            duration: self.duration.get_or_create_owned(&labels),
            wait: self.wait.get_or_create_owned(&labels),
            in_flight: self.in_flight.get_or_create_owned(&labels),
            held: self.held.get_or_create_owned(&labels),
            average_concurrency: self.average_concurrency.get_or_create_owned(&labels),
            wakeups: self.wakeups.get_or_create_owned(&labels),
            retries: self.retries.get_or_create_owned(&labels),
            responses_cut: self.responses_cut.get_or_create_owned(&labels),
            ok: self.requests.get_or_create_owned(&CodeLabels {
                service: name.to_string(),
                code: 200,
            }),
        }
    }

    pub(crate) fn replica(&self, service: &str, replica: String) -> ReplicaMetrics {
        let labels = ReplicaLabels {
            service: service.to_string(),
            replica,
        };
        ReplicaMetrics {
            in_flight: self.replica_in_flight.get_or_create_owned(&labels),
            completed: self.replica_completed.get_or_create_owned(&labels),
            labels,
        }
    }

    /// Stop exporting a removed replica.
    pub(crate) fn forget_replica(&self, metrics: &ReplicaMetrics) {
        self.replica_in_flight.remove(&metrics.labels);
        self.replica_completed.remove(&metrics.labels);
    }
}

/// One service's handles.
#[derive(Debug, Clone)]
pub(crate) struct ServiceMetrics {
    name: String,
    requests: Family<CodeLabels, Counter>,
    rejected: Family<ReasonLabels, Counter>,
    /// The common case, resolved once.
    ok: Counter,
    pub(crate) duration: Histogram,
    pub(crate) wait: Histogram,
    pub(crate) in_flight: Gauge,
    pub(crate) held: Gauge,
    pub(crate) average_concurrency: Gauge<f64, AtomicU64>,
    pub(crate) wakeups: Counter,
    pub(crate) retries: Counter,
    pub(crate) responses_cut: Counter,
}

impl ServiceMetrics {
    pub(crate) fn answered(&self, code: u16) {
        if code == 200 {
            self.ok.inc();
        } else {
            self.requests
                .get_or_create(&CodeLabels {
                    service: self.name.clone(),
                    code,
                })
                .inc();
        }
    }

    pub(crate) fn rejected(&self, reason: &'static str) {
        self.rejected
            .get_or_create(&ReasonLabels {
                service: self.name.clone(),
                reason,
            })
            .inc();
    }
}

/// One replica's handles.
#[derive(Debug, Clone)]
pub(crate) struct ReplicaMetrics {
    labels: ReplicaLabels,
    pub(crate) in_flight: Gauge,
    pub(crate) completed: Counter,
}
