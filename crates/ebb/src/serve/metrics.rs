//! Prometheus metrics of the autoscalers and replicas, `ebb_autoscaler_*`, labelled by service.
//! Request counts, durations and queue depth come from the gateway (`ebb_gateway_*`).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    namespace: String,
    service: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn cold_start_histogram() -> Histogram {
    // 5 ms to about 40 s: a tiny model server up to a large model loading its weights.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Every autoscaler metric family, registered once.
pub(crate) struct ServeMetrics {
    desired: Family<ServiceLabels, Gauge>,
    actual: Family<ServiceLabels, Gauge>,
    ready: Family<ServiceLabels, Gauge>,
    stable_concurrency: Family<ServiceLabels, FloatGauge>,
    panic_concurrency: Family<ServiceLabels, FloatGauge>,
    stable_rps: Family<ServiceLabels, FloatGauge>,
    panic_rps: Family<ServiceLabels, FloatGauge>,
    panic_mode: Family<ServiceLabels, Gauge>,
    cold_starts: Family<ServiceLabels, Counter>,
    cold_start_seconds: Family<ServiceLabels, Histogram, fn() -> Histogram>,
    restarts: Family<ServiceLabels, Counter>,
}

/// One app's handles into the families.
#[derive(Clone)]
pub(crate) struct AppMetrics {
    pub(crate) desired: Gauge,
    pub(crate) actual: Gauge,
    pub(crate) ready: Gauge,
    pub(crate) stable_concurrency: FloatGauge,
    pub(crate) panic_concurrency: FloatGauge,
    pub(crate) stable_rps: FloatGauge,
    pub(crate) panic_rps: FloatGauge,
    pub(crate) panic_mode: Gauge,
    pub(crate) cold_starts: Counter,
    pub(crate) cold_start_seconds: Histogram,
    pub(crate) restarts: Counter,
}

impl ServeMetrics {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let m = ServeMetrics {
            desired: Family::default(),
            actual: Family::default(),
            ready: Family::default(),
            stable_concurrency: Family::default(),
            panic_concurrency: Family::default(),
            stable_rps: Family::default(),
            panic_rps: Family::default(),
            panic_mode: Family::default(),
            cold_starts: Family::default(),
            cold_start_seconds: Family::new_with_constructor(cold_start_histogram),
            restarts: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("ebb_autoscaler");
        r.register(
            "desired_replicas",
            "Replicas the autoscaler asks for",
            m.desired.clone(),
        );
        r.register(
            "actual_replicas",
            "Replicas that exist and are not terminating",
            m.actual.clone(),
        );
        r.register(
            "ready_replicas",
            "Replicas that pass their readiness probe",
            m.ready.clone(),
        );
        r.register(
            "stable_concurrency",
            "Knative: stable-window average of concurrent requests (revision total)",
            m.stable_concurrency.clone(),
        );
        r.register(
            "panic_concurrency",
            "Knative: panic-window average of concurrent requests (revision total)",
            m.panic_concurrency.clone(),
        );
        r.register(
            "stable_requests_per_second",
            "Knative: stable-window average of requests per second",
            m.stable_rps.clone(),
        );
        r.register(
            "panic_requests_per_second",
            "Knative: panic-window average of requests per second",
            m.panic_rps.clone(),
        );
        r.register(
            "panic_mode",
            "Knative: 1 while in panic mode",
            m.panic_mode.clone(),
        );
        r.register(
            "cold_starts",
            "Replicas that became ready while the service had none ready",
            m.cold_starts.clone(),
        );
        r.register(
            "cold_start_duration_seconds",
            "From the wake-up (or scale-up order) to the first ready replica",
            m.cold_start_seconds.clone(),
        );
        r.register(
            "replica_restarts",
            "Replica processes restarted after a crash or failed liveness probe",
            m.restarts.clone(),
        );
        m
    }

    pub(crate) fn app(&self, namespace: &str, service: &str) -> AppMetrics {
        let l = ServiceLabels {
            namespace: namespace.to_string(),
            service: service.to_string(),
        };
        AppMetrics {
            desired: self.desired.get_or_create(&l).clone(),
            actual: self.actual.get_or_create(&l).clone(),
            ready: self.ready.get_or_create(&l).clone(),
            stable_concurrency: self.stable_concurrency.get_or_create(&l).clone(),
            panic_concurrency: self.panic_concurrency.get_or_create(&l).clone(),
            stable_rps: self.stable_rps.get_or_create(&l).clone(),
            panic_rps: self.panic_rps.get_or_create(&l).clone(),
            panic_mode: self.panic_mode.get_or_create(&l).clone(),
            cold_starts: self.cold_starts.get_or_create(&l).clone(),
            cold_start_seconds: self.cold_start_seconds.get_or_create(&l).clone(),
            restarts: self.restarts.get_or_create(&l).clone(),
        }
    }
}
