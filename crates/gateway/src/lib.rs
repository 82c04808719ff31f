//! ebb's gateway: the one component every inference request crosses.
//!
//! It does what Knative splits between the activator and queue-proxy, in one lean proxy:
//!
//! - **routes** a request to a service by Host (`{name}.{namespace}.{domain}`,
//!   `{name}.localhost`, listed hosts), by the model name in KServe v1/v2 paths, or to the only
//!   service; anything else gets a 404 that lists what exists;
//! - **counts** in-flight requests per service and replica, released when the response body
//!   ends, and reports the time-weighted average concurrency and request rates the KPA engine
//!   consumes ([`Gateway::observe`]) and Prometheus metrics;
//! - **balances** by least in-flight of two random choices among ready replicas, with a hard
//!   per-replica limit (`containerConcurrency`) and a bounded per-service queue;
//! - **holds at zero**: with no ready replica, requests wait in that queue, the first one sends
//!   a [`Wakeup`] at once, and all are released the moment a replica is ready;
//! - **drains**: a draining replica gets no new requests and reports when it is empty;
//! - **retries only where safe**: a refused connect, or a connection that died before a byte
//!   was written, moves the request to another replica;
//! - **streams** request and response bodies without collecting them (chunked, SSE), keeps
//!   client connections alive and pools connections to replicas.
//!
//! The request path, phase by phase, is described in the `proxy` module. A sketch of use:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use ebb_gateway::{Gateway, GatewayConfig, ServiceConfig};
//!
//! let mut registry = prometheus_client::registry::Registry::default();
//! let config = GatewayConfig::new(vec![ServiceConfig::new("iris")]);
//! let (gateway, mut wakeups) = Gateway::new(config, &mut registry)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let server = tokio::spawn({
//!     let gateway = gateway.clone();
//!     async move { gateway.serve(listener, std::future::pending()).await }
//! });
//! // The autoscaler: start a replica when a request is held at zero ...
//! if let Some(wakeup) = wakeups.recv().await {
//!     let replica = gateway.add_replica(&wakeup.service, "127.0.0.1:9000".parse()?)?;
//!     gateway.set_ready(replica, true)?; // once its readiness probe passes
//! }
//! // ... and read the KPA inputs once per second.
//! let observations = gateway.observe();
//! # Ok(()) }
//! ```

mod balance;
mod body;
mod config;
mod metrics;
mod observe;
mod proxy;
mod route;
mod server;
mod service;
mod stats;
mod upstream;
mod wake;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

pub use body::{ProxiedBody, ResponseBody};
pub use config::{
    ConfigError, DEFAULT_DOMAIN, DEFAULT_MAX_REQUEST_BODY_BYTES, DEFAULT_QUEUE_DEPTH,
    DEFAULT_TIMEOUT, GatewayConfig, Limits, MIN_HEADER_BYTES, ServiceConfig, validate,
};
pub use observe::{Observations, ReplicaObservation, ServiceObservation};
pub use proxy::REASON_HEADER;
pub use service::{Drained, ReplicaId, ReplicaState};
pub use wake::{Wakeup, Wakeups};

use metrics::GatewayMetrics;
use route::Router;
use service::{ReplicaError, Service, ServiceLimits};
use upstream::Upstream;

/// A control call named something the gateway does not know, or asked for the impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No service has this name.
    #[error("unknown service {name:?}; the gateway routes to: {known}")]
    UnknownService {
        /// The name asked for.
        name: String,
        /// The names that exist, comma-separated.
        known: String,
    },
    /// The replica was never added, or has been removed.
    #[error("unknown replica {0}: it was never added or has been removed")]
    UnknownReplica(ReplicaId),
    /// A draining replica cannot take requests again.
    #[error("replica {0} is draining and cannot become ready again; add a new replica instead")]
    Draining(ReplicaId),
}

/// The gateway: a cheap handle (clone it freely) to serve and to control.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.shared.services.iter().map(|s| &*s.name).collect();
        f.debug_struct("Gateway").field("services", &names).finish()
    }
}

/// State shared by the connections and the control handle.
pub(crate) struct Shared {
    router: Router,
    services: Vec<Arc<Service>>,
    limits: Limits,
    metrics: GatewayMetrics,
    next_replica: AtomicU64,
}

impl Gateway {
    /// Build a gateway from a validated `config`, registering its metrics in `registry`.
    ///
    /// Also returns the receiving end of the wakeup channel; hand it to the autoscaler.
    pub fn new(
        config: GatewayConfig,
        registry: &mut Registry,
    ) -> Result<(Gateway, Wakeups), ConfigError> {
        validate(&config)?;
        let metrics = GatewayMetrics::register(registry);
        let names: Arc<[Arc<str>]> = config
            .services
            .iter()
            .map(|s| Arc::from(s.name.as_str()))
            .collect();
        let (wake, wakeups) = wake::channel(names.clone());
        let services = config
            .services
            .iter()
            .zip(names.iter())
            .enumerate()
            .map(|(index, (service, name))| {
                let limits = ServiceLimits {
                    container_concurrency: service.container_concurrency,
                    queue_depth: service.queue_depth,
                    queue_timeout: service.queue_timeout,
                    response_timeout: service.response_timeout,
                    max_request_body_bytes: service.max_request_body_bytes,
                };
                let service_metrics = metrics.service(name);
                Arc::new(Service::new(
                    index,
                    name.clone(),
                    limits,
                    service_metrics,
                    wake.clone(),
                ))
            })
            .collect();
        let shared = Shared {
            router: Router::new(&config),
            services,
            limits: config.limits,
            metrics,
            next_replica: AtomicU64::new(1),
        };
        Ok((
            Gateway {
                shared: Arc::new(shared),
            },
            wakeups,
        ))
    }

    /// Serve clients on `listener` until `shutdown` completes, then let open requests finish
    /// (up to 30 s) and return.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        server::serve(self.shared.clone(), listener, shutdown).await
    }

    /// Add a replica of `service` listening on `addr`. It takes no requests until
    /// [`set_ready`](Self::set_ready).
    pub fn add_replica(&self, service: &str, addr: SocketAddr) -> Result<ReplicaId, Error> {
        let service = self.service_named(service)?;
        let id = ReplicaId {
            service: service.index,
            seq: self.shared.next_replica.fetch_add(1, Ordering::Relaxed),
        };
        let upstream = Arc::new(Upstream::new(addr, self.shared.limits.max_idle_per_replica));
        let metrics = self
            .shared
            .metrics
            .replica(&service.name, format!("{id}@{addr}"));
        service.add_replica(id, upstream, metrics);
        Ok(id)
    }

    /// Put a replica in rotation (`true`, e.g. its readiness probe passed) or take it out
    /// (`false`; its requests in flight continue). Held requests go out the moment one is ready.
    pub fn set_ready(&self, replica: ReplicaId, ready: bool) -> Result<(), Error> {
        self.service_of(replica)?
            .set_ready(replica, ready)
            .map_err(|e| self.error(e, replica))
    }

    /// Stop sending new requests to `replica`; the returned future resolves once its last
    /// request in flight has finished (at once if it has none).
    pub fn drain(&self, replica: ReplicaId) -> Result<Drained, Error> {
        self.service_of(replica)?
            .drain(replica)
            .map_err(|e| self.error(e, replica))
    }

    /// Forget `replica`. Requests still in flight there finish normally.
    pub fn remove_replica(&self, replica: ReplicaId) -> Result<(), Error> {
        let metrics = self
            .service_of(replica)?
            .remove(replica)
            .map_err(|e| self.error(e, replica))?;
        self.shared.metrics.forget_replica(&metrics);
        Ok(())
    }

    /// The state of `replica`, or `None` if it is unknown.
    pub fn replica_state(&self, replica: ReplicaId) -> Option<ReplicaState> {
        self.service_of(replica).ok()?.replica_state(replica)
    }

    /// Close the current observation period of every service and return what it saw.
    ///
    /// Call it once per period (the KPA's is 1 s) from one place: each call starts a new
    /// period, so two callers would split the windows between them.
    pub fn observe(&self) -> Observations {
        Observations {
            at: tokio::time::Instant::now(),
            services: self.shared.services.iter().map(|s| s.observe()).collect(),
        }
    }

    /// The configured service names, in configuration order.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.shared.services.iter().map(|s| &*s.name)
    }

    fn service_named(&self, name: &str) -> Result<&Arc<Service>, Error> {
        self.shared
            .services
            .iter()
            .find(|s| &*s.name == name)
            .ok_or_else(|| Error::UnknownService {
                name: name.to_string(),
                known: self.services().collect::<Vec<_>>().join(", "),
            })
    }

    fn service_of(&self, replica: ReplicaId) -> Result<&Arc<Service>, Error> {
        self.shared
            .services
            .get(replica.service)
            .ok_or(Error::UnknownReplica(replica))
    }

    fn error(&self, error: ReplicaError, replica: ReplicaId) -> Error {
        match error {
            ReplicaError::Unknown => Error::UnknownReplica(replica),
            ReplicaError::Draining => Error::Draining(replica),
        }
    }
}
