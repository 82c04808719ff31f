//! `ebb gateway --kube`: ebb's gateway ([`ebb_gateway`]) inside a cluster, in front of the
//! class-kpa Autoscalers' workloads — Knative's activator and queue-proxy in one.
//!
//! - **Routes**: one per class-kpa Autoscaler, read at start. Requests are told apart as the
//!   gateway does locally: Host `{name}.{namespace}.{domain}` or the model name in KServe v1/v2
//!   paths. When the set of class-kpa Autoscalers changes (checked every 10 s), the gateway
//!   stops accepting, finishes its open requests and starts again with the new routes.
//! - **Replicas**: the EndpointSlices of the Service named like the scale target (or the
//!   Autoscaler's `ebb.dev/service` annotation) on its only port (or the port named by
//!   `ebb.dev/port`); read every second. Ready endpoints take requests, unready ones stop taking
//!   new ones, vanished ones are drained and forgotten.
//! - **At zero** the gateway holds requests (bounded queue, deadline) until an endpoint is ready.
//!   Its statistics show them as `held`, which the controller reads within a second and
//!   answers by scaling the target up: the wake-up goes through the controller.
//! - **Statistics** for the controller: `GET /ebb/v1/stats/{namespace}/{name}` on the stats
//!   port, cumulative counters ([`crate::gateway_stats`]); `/metrics` in Prometheus' format
//!   and `/healthz` on the same port.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ebb_gateway::{
    Answers, Balancing, Gateway, GatewayConfig, Limits, ReplicaId, ServiceConfig,
    ServiceObservation,
};
use ebb_manifest::kinds::autoscaler::AutoscalerClass;
use ebb_manifest::timeouts::RequestTimeouts;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::crd::Autoscaler;
use crate::error::{Error, Result};
use crate::gateway_stats::ServiceCounters;

/// Annotation naming the Service whose endpoints are the replicas.
pub const SERVICE_ANNOTATION: &str = "ebb.dev/service";
/// Annotation naming the Service port to send requests to.
pub const PORT_ANNOTATION: &str = "ebb.dev/port";
/// How often endpoints are read and statistics accumulated.
const TICK: Duration = Duration::from_secs(1);
/// How often the Autoscalers are read again to notice new or removed routes.
const ROUTES_EVERY: u32 = 10;
/// Longest a vanished replica may take to finish its requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// One class-kpa Autoscaler as the gateway serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The Autoscaler's namespace.
    pub namespace: String,
    /// The Autoscaler's name: the service name in hosts and model paths.
    pub name: String,
    /// The Kubernetes Service whose EndpointSlices are the replicas.
    pub endpoints_service: String,
    /// The port to use, by name; `None`: the only port.
    pub port_name: Option<String>,
    /// `containerConcurrency`: the hard limit of requests per replica (0: none).
    pub container_concurrency: u32,
    /// The revision's request timeouts, from the `ebb.dev/*-timeout-seconds` annotations
    /// `ebb convert` writes.
    pub timeouts: RequestTimeouts,
}

/// The routes of class-kpa Autoscalers, sorted. Names must be unique: the gateway addresses a
/// service by name.
pub fn routes(autoscalers: &[Autoscaler]) -> Result<Vec<Route>> {
    let mut routes: Vec<Route> = autoscalers
        .iter()
        .filter(|a| a.spec.0.class == AutoscalerClass::Kpa)
        .map(|a| {
            let annotations = a.annotations();
            let timeouts = RequestTimeouts::from_annotations(annotations).unwrap_or_else(|why| {
                tracing::warn!(autoscaler = %a.name_any(), "{why}; using the default timeouts");
                RequestTimeouts::default()
            });
            Route {
                namespace: a.namespace().unwrap_or_else(|| "default".into()),
                name: a.name_any(),
                endpoints_service: annotations
                    .get(SERVICE_ANNOTATION)
                    .cloned()
                    .unwrap_or_else(|| a.spec.0.scale_target_ref.name.clone()),
                port_name: annotations.get(PORT_ANNOTATION).cloned(),
                container_concurrency: a
                    .spec
                    .0
                    .kpa
                    .as_ref()
                    .and_then(|k| k.container_concurrency)
                    .and_then(|c| u32::try_from(c).ok())
                    .unwrap_or(0),
                timeouts,
            }
        })
        .collect();
    routes.sort_by(|a, b| (&a.name, &a.namespace).cmp(&(&b.name, &b.namespace)));
    let clashes: Vec<String> = routes
        .windows(2)
        .filter(|w| w[0].name == w[1].name)
        .map(|w| format!("{} in {} and {}", w[0].name, w[0].namespace, w[1].namespace))
        .collect();
    if !clashes.is_empty() {
        return Err(Error::Api(format!(
            "class-kpa Autoscalers share a name across namespaces ({}); run one gateway per namespace (--namespace)",
            clashes.join("; ")
        )));
    }
    Ok(routes)
}

/// The gateway's configuration for `routes`.
pub fn gateway_config(routes: &[Route], options: &Options) -> GatewayConfig {
    let mut config = GatewayConfig::new(
        routes
            .iter()
            .map(|r| {
                let mut s = ServiceConfig::new(r.name.clone());
                s.namespace = r.namespace.clone();
                s.container_concurrency = r.container_concurrency;
                let t = r.timeouts;
                s.apply_knative_timeouts(t.request, t.response_start, t.idle);
                s
            })
            .collect(),
    );
    config.domain = options.domain.clone();
    config.answers = options.answers;
    config.balancing = options.balancing;
    config.limits = options.limits.clone();
    config
}

/// Every endpoint of `slices` on the port named `port_name` (or their only port), with its
/// readiness, deduplicated.
pub fn endpoint_states(
    slices: &[EndpointSlice],
    port_name: Option<&str>,
) -> BTreeMap<SocketAddr, bool> {
    let mut out = BTreeMap::new();
    for slice in slices {
        let ports = slice.ports.as_deref().unwrap_or_default();
        let port = match port_name {
            Some(name) => ports.iter().find(|p| p.name.as_deref() == Some(name)),
            None => (ports.len() == 1).then(|| &ports[0]),
        }
        .and_then(|p| p.port)
        .and_then(|p| u16::try_from(p).ok());
        let Some(port) = port else { continue };
        for e in &slice.endpoints {
            let c = e.conditions.as_ref();
            // Upstream: a nil `ready` means ready; a terminating endpoint takes no new requests.
            let ready = c.and_then(|c| c.ready).unwrap_or(true)
                && !c.and_then(|c| c.terminating).unwrap_or(false);
            for a in &e.addresses {
                if let Ok(ip) = a.parse::<std::net::IpAddr>() {
                    let entry = out.entry(SocketAddr::new(ip, port)).or_insert(false);
                    *entry |= ready;
                }
            }
        }
    }
    out
}

/// What to do to the gateway's replicas of one service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicaChanges {
    /// New endpoints, with their readiness.
    pub add: Vec<(SocketAddr, bool)>,
    /// Known endpoints whose readiness changed.
    pub set_ready: Vec<(SocketAddr, bool)>,
    /// Endpoints that are gone: drain, then forget.
    pub remove: Vec<SocketAddr>,
}

/// The changes that take `current` (address → ready) to `desired`.
pub fn replica_changes(
    current: &BTreeMap<SocketAddr, bool>,
    desired: &BTreeMap<SocketAddr, bool>,
) -> ReplicaChanges {
    let mut changes = ReplicaChanges::default();
    for (addr, ready) in desired {
        match current.get(addr) {
            None => changes.add.push((*addr, *ready)),
            Some(was) if was != ready => changes.set_ready.push((*addr, *ready)),
            Some(_) => {}
        }
    }
    changes.remove = current
        .keys()
        .filter(|a| !desired.contains_key(a))
        .copied()
        .collect();
    changes
}

/// Cumulative counters of every route, keyed by (namespace, name).
#[derive(Debug, Clone, Default)]
pub struct Counters {
    by_service: HashMap<(String, String), ServiceCounters>,
}

impl Counters {
    /// Adds one observation period of `service` (in `namespace`).
    pub fn add(&mut self, namespace: &str, o: &ServiceObservation) {
        let c = self
            .by_service
            .entry((namespace.to_string(), o.service.clone()))
            .or_default();
        let seconds = o.period.as_secs_f64();
        c.requests += (o.arrivals_per_second * seconds).round() as u64;
        c.concurrency_seconds += o.average_concurrency * seconds;
        c.in_flight = u64::from(o.in_flight);
        c.held = u64::from(o.held);
    }

    /// Starts the counters of a routed service at zero.
    pub fn route(&mut self, namespace: &str, name: &str) {
        self.by_service
            .entry((namespace.to_string(), name.to_string()))
            .or_default();
    }

    /// The counters of a service, if it is routed.
    pub fn get(&self, namespace: &str, name: &str) -> Option<ServiceCounters> {
        self.by_service
            .get(&(namespace.to_string(), name.to_string()))
            .copied()
    }
}

/// How `ebb gateway --kube` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Serve the class-kpa Autoscalers of this namespace only (default: all).
    pub namespace: Option<String>,
    /// Domain of `{name}.{namespace}.{domain}` hosts.
    pub domain: String,
    /// Threads serving requests, each with its own runtime and listener
    /// ([`Gateway::serve_on_threads`], as `ebb serve` runs it).
    pub threads: usize,
    /// The gateway's answers where ebb differs from Knative.
    pub answers: Answers,
    /// How the gateway chooses a replica among those with a free slot.
    pub balancing: Balancing,
    /// Limits on client connections.
    pub limits: Limits,
}

struct StatsState {
    counters: Mutex<Counters>,
    registry: Registry,
}

/// Serves requests on `proxy` until `shutdown` is cancelled (`Ok(false)`) or the routes change
/// (`Ok(true)`: the caller starts it again, with new listeners on the same ports).
pub async fn run(
    client: Client,
    options: Options,
    proxy: SocketAddr,
    stats: TcpListener,
    shutdown: CancellationToken,
) -> Result<bool> {
    let autoscalers: Api<Autoscaler> = match &options.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let list = |api: Api<Autoscaler>| async move {
        api.list(&ListParams::default())
            .await
            .map(|l| l.items)
            .map_err(|e| Error::Api(format!("cannot list Autoscalers: {e}")))
    };
    let routes = routes(&list(autoscalers.clone()).await?)?;
    let mut registry = Registry::default();
    let (gateway, mut wakeups) = Gateway::new(gateway_config(&routes, &options), &mut registry)
        .map_err(|e| Error::Api(e.to_string()))?;
    tracing::info!(routes = ?routes.iter().map(|r| format!("{}/{}", r.namespace, r.name)).collect::<Vec<_>>(), "Serving.");

    // The request path runs on its own threads, away from this runtime's API calls.
    let (serve_stop, serving) = tokio::sync::watch::channel(false);
    let workers = gateway
        .serve_on_threads(proxy, options.threads, serving)
        .map_err(|error| Error::Listen { addr: proxy, error })?;
    tracing::info!(addr = %workers.local_addr(), threads = options.threads, "Serving requests.");

    let mut counters = Counters::default();
    for r in &routes {
        counters.route(&r.namespace, &r.name);
    }
    let state = Arc::new(StatsState {
        counters: Mutex::new(counters),
        registry,
    });
    let stop = shutdown.clone();
    let app = Router::new()
        .route("/ebb/v1/stats/{namespace}/{name}", get(stats_handler))
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state.clone());
    let stats_server = tokio::spawn(async move {
        let _ = axum::serve(stats, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
    });
    let mut replicas: Vec<BTreeMap<SocketAddr, (ReplicaId, bool)>> =
        vec![BTreeMap::new(); routes.len()];
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u32 = 0;
    let restart = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break false,
            Some(w) = wakeups.recv() => tracing::debug!(service = %w.service, "A request is held at zero; the controller sees it in the next statistics."),
            _ = ticker.tick() => {
                ticks = ticks.wrapping_add(1);
                let observed = gateway.observe();
                if let Ok(mut counters) = state.counters.lock() {
                    for (o, r) in observed.services.iter().zip(&routes) {
                        counters.add(&r.namespace, o);
                    }
                }
                sync_replicas(&client, &gateway, &routes, &mut replicas).await;
                if ticks.is_multiple_of(ROUTES_EVERY) {
                    match list(autoscalers.clone()).await.and_then(|l| self::routes(&l)) {
                        Ok(now) if now != routes => {
                            tracing::info!("The class-kpa Autoscalers changed: finishing open requests, then restarting with the new routes.");
                            break true;
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, "Cannot read the Autoscalers."),
                    }
                }
            }
        }
    };
    serve_stop.send_replace(true);
    match tokio::task::spawn_blocking(move || workers.join()).await {
        Ok(Err(error)) => tracing::error!(%error, "The gateway stopped serving."),
        Err(error) => tracing::error!(%error, "The gateway's threads could not be joined."),
        Ok(Ok(())) => {}
    }
    shutdown.cancel();
    let _ = stats_server.await;
    Ok(restart)
}

async fn sync_replicas(
    client: &Client,
    gateway: &Gateway,
    routes: &[Route],
    replicas: &mut [BTreeMap<SocketAddr, (ReplicaId, bool)>],
) {
    for (route, known) in routes.iter().zip(replicas.iter_mut()) {
        let api: Api<EndpointSlice> = Api::namespaced(client.clone(), &route.namespace);
        let selector = format!("kubernetes.io/service-name={}", route.endpoints_service);
        let slices = match api.list(&ListParams::default().labels(&selector)).await {
            Ok(l) => l.items,
            Err(error) => {
                tracing::warn!(service = %route.endpoints_service, %error, "Cannot read the endpoints; keeping the replicas as they were.");
                continue;
            }
        };
        let desired = endpoint_states(&slices, route.port_name.as_deref());
        let current: BTreeMap<SocketAddr, bool> =
            known.iter().map(|(a, (_, r))| (*a, *r)).collect();
        let changes = replica_changes(&current, &desired);
        for (addr, ready) in changes.add {
            match gateway.add_replica(&route.name, addr) {
                Ok(id) => {
                    let _ = gateway.set_ready(id, ready);
                    known.insert(addr, (id, ready));
                    tracing::info!(service = %route.name, %addr, ready, "Replica added.");
                }
                Err(error) => {
                    tracing::warn!(service = %route.name, %error, "Cannot add a replica.")
                }
            }
        }
        for (addr, ready) in changes.set_ready {
            if let Some((id, r)) = known.get_mut(&addr)
                && gateway.set_ready(*id, ready).is_ok()
            {
                *r = ready;
            }
        }
        for addr in changes.remove {
            let Some((id, _)) = known.remove(&addr) else {
                continue;
            };
            tracing::info!(service = %route.name, %addr, "Replica gone: draining.");
            if let Ok(drained) = gateway.drain(id) {
                let gateway = gateway.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drained).await;
                    let _ = gateway.remove_replica(id);
                });
            }
        }
    }
}

async fn stats_handler(
    State(state): State<Arc<StatsState>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let found = state
        .counters
        .lock()
        .ok()
        .and_then(|c| c.get(&namespace, &name));
    match found {
        Some(c) => Json(c).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("no class-kpa Autoscaler {namespace}/{name} is routed by this gateway\n"),
        )
            .into_response(),
    }
}

async fn metrics_handler(State(state): State<Arc<StatsState>>) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &state.registry) {
        Ok(()) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn endpoints_keep_their_readiness_on_the_chosen_port() {
        let slice: EndpointSlice = serde_json::from_value(json!({
            "addressType": "IPv4",
            "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
            "ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}],
            "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": true}},
                {"addresses": ["10.0.0.2"], "conditions": {"ready": false}},
                {"addresses": ["10.0.0.3"], "conditions": {"ready": true, "terminating": true}},
                {"addresses": ["10.0.0.4"]}
            ]
        }))
        .unwrap();
        let states = endpoint_states(std::slice::from_ref(&slice), Some("http"));
        assert_eq!(
            states.into_iter().collect::<Vec<_>>(),
            [
                (addr("10.0.0.1:8080"), true),
                (addr("10.0.0.2:8080"), false),
                (addr("10.0.0.3:8080"), false),
                (addr("10.0.0.4:8080"), true),
            ]
        );
        assert!(
            endpoint_states(&[slice], None).is_empty(),
            "two ports and no name: none chosen"
        );
    }

    #[test]
    fn changes_add_update_and_remove() {
        let current = BTreeMap::from([(addr("10.0.0.1:80"), true), (addr("10.0.0.2:80"), false)]);
        let desired = BTreeMap::from([(addr("10.0.0.2:80"), true), (addr("10.0.0.3:80"), false)]);
        let c = replica_changes(&current, &desired);
        assert_eq!(c.add, [(addr("10.0.0.3:80"), false)]);
        assert_eq!(c.set_ready, [(addr("10.0.0.2:80"), true)]);
        assert_eq!(c.remove, [addr("10.0.0.1:80")]);
        assert_eq!(
            replica_changes(&desired, &desired),
            ReplicaChanges::default()
        );
    }

    #[test]
    fn counters_accumulate_periods() {
        let mut c = Counters::default();
        let o = |concurrency: f64, arrivals: f64, held: u32| ServiceObservation {
            service: "web".into(),
            period: Duration::from_millis(500),
            average_concurrency: concurrency,
            requests_per_second: arrivals,
            arrivals_per_second: arrivals,
            in_flight: held,
            held,
            ready_replicas: 0,
            replicas: Vec::new(),
        };
        c.add("default", &o(4.0, 10.0, 0));
        c.add("default", &o(2.0, 6.0, 3));
        let got = c.get("default", "web").unwrap();
        assert_eq!(got.requests, 8);
        assert!((got.concurrency_seconds - 3.0).abs() < 1e-9);
        assert_eq!(got.held, 3);
        assert_eq!(c.get("other", "web"), None);
    }

    #[test]
    fn routes_are_the_class_kpa_autoscalers_with_unique_names() {
        let a = |ns: &str, name: &str, class: &str| -> Autoscaler {
            serde_json::from_value(json!({
                "apiVersion": "ebb.dev/v1alpha1", "kind": "Autoscaler",
                "metadata": {"name": name, "namespace": ns, "annotations": {
                    "ebb.dev/port": "http", "ebb.dev/timeout-seconds": "600", "ebb.dev/idle-timeout-seconds": "20"}},
                "spec": {"class": class, "maxReplicas": 3,
                         "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": format!("{name}-predictor")},
                         "kpa": {"containerConcurrency": 4}}
            }))
            .unwrap()
        };
        let r = routes(&[a("default", "iris", "kpa"), a("default", "web", "hpa")]).unwrap();
        assert_eq!(
            r,
            [Route {
                namespace: "default".into(),
                name: "iris".into(),
                endpoints_service: "iris-predictor".into(),
                port_name: Some("http".into()),
                container_concurrency: 4,
                timeouts: RequestTimeouts {
                    request: Some(Duration::from_secs(600)),
                    response_start: None,
                    idle: Some(Duration::from_secs(20)),
                },
            }]
        );
        let options = Options {
            namespace: None,
            domain: "example.com".into(),
            threads: 1,
            answers: Answers::Knative,
            balancing: Balancing::Knative,
            limits: Limits {
                max_header_bytes: 16 * 1024,
                ..Limits::default()
            },
        };
        let config = gateway_config(&r, &options);
        assert_eq!(
            config.answers,
            Answers::Knative,
            "--answers reaches the gateway"
        );
        assert_eq!(
            config.balancing,
            Balancing::Knative,
            "--balancing reaches the gateway"
        );
        assert_eq!(
            config.limits.max_header_bytes,
            16 * 1024,
            "the client limits reach the gateway"
        );
        let service = &config.services[0];
        assert_eq!(
            (
                service.queue_timeout,
                service.response_timeout,
                service.response_idle_timeout
            ),
            (
                Duration::from_secs(600),
                // As in queue-proxy, the idle limit also runs from arrival: no response
                // starts later than it.
                Duration::from_secs(20),
                Some(Duration::from_secs(20))
            )
        );
        let clash = routes(&[a("a", "iris", "kpa"), a("b", "iris", "kpa")]).unwrap_err();
        assert!(clash.to_string().contains("iris in a and b"), "{clash}");
    }
}
