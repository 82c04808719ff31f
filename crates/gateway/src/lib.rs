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
//! The request path, phase by phase, is described in the `proxy` module.
//!
//! ## Where it differs from Knative, and why
//!
//! - One bounded queue per service serves both roles Knative splits: holding at zero (the
//!   activator's breaker, depth 10 000) and waiting for a slot at `containerConcurrency` (the
//!   queue-proxy's, depth 10 × CC). The default depth is the activator's; `queueDepth` sets it.
//! - A request held at zero that outlasts `queueTimeout` gets **504** (`x-ebb-reason:
//!   no-ready-replica`), not Knative's 503: nothing is overloaded, a replica did not come up in
//!   time (`Answers::Knative` gives the 503). Overload (queue full, no free slot within
//!   `queueTimeout`) is 503 with `Retry-After`; a request whose shorter `responseTimeout`,
//!   counted from its arrival, passes while it waits for a slot has itself timed out: 504,
//!   as Knative answers it.
//! - Balancing is least in-flight of two random choices at every `containerConcurrency`.
//!   Knative's activator uses it only at 0, and at 1–3 takes the first replica with a free
//!   slot, above 3 the next in turn with one: neither looks at how busy a replica is, so one
//!   slowed by long requests gets new ones as often as an idle one. `Balancing::Knative`
//!   gives the activator's rules; the per-replica hard limit is the same either way.
//! - A client that sends nothing of its request body for `limits.bodyReadTimeout` (60 s, as
//!   nginx's `client_body_timeout`) gets **408** (`x-ebb-reason: body-read-timeout`) and the
//!   replica connection is dropped. Knative has no such limit: a stalled upload holds its
//!   replica slot until the request timeout (300 s) and then gets 504, so a few slow clients
//!   could hold every slot of a `containerConcurrency` service. A value longer than the
//!   request timeout leaves a stalled upload to it (and its 504), as Knative does.
//! - A response cut off at `responseIdleTimeout` ends abnormally (an HTTP/1.1 body short of
//!   its length or last chunk, an HTTP/2 stream reset). Knative's queue-proxy writes its
//!   timeout message into the body and ends it as if complete, which a client cannot tell
//!   from a whole response; `Answers::Knative` ends it that way where the framing allows.
//! - Service concurrency counts requests from admission to the end of the response body,
//!   waiting ones included — what Knative gets by adding the activator's and queue-proxy's
//!   reports (kpa.md §5.3, §11.21).
//!
//! Not supported: HTTP upgrades (WebSocket) and gRPC to replicas. Clients may speak HTTP/1.1
//! or HTTP/2 with prior knowledge (h2c); replicas are spoken to over HTTP/1.1.
//!
//! HTTP/1.x clients are served by the gateway's own codec (`h1`), which passes messages
//! through rather than re-encoding them: a replica's chunked body reaches an HTTP/1.1 client
//! with its chunk framing and trailers as sent; a close-delimited one is passed on with
//! `connection: close`; the replica's `Date` passes through and the gateway adds none, to its
//! own answers either.
//!
//! ## Threads
//!
//! [`Gateway::serve`] runs on whatever runtime calls it, and can be called more than once on
//! one `Gateway`. [`Gateway::serve_on_threads`] instead runs one current-thread runtime per
//! thread, each with its own `SO_REUSEPORT` listener on the same port (nginx's worker model).
//! On the shared 2-core benchmark machine that served 1.1–1.3× the requests per second of
//! one multi-threaded runtime at 64 connections (docs/benchmarks.md), because each connection
//! stays on one thread from the client's socket to the replica's. Pooled replica connections
//! are kept per thread for the same reason. The control calls work from any thread or runtime.
//! Both of ebb's gateways (`ebb serve`, `ebb gateway --kube`) serve this way.
//!
//! ## Example
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
mod buffer;
mod client_h1;
mod config;
mod deadline;
mod h1;
mod metrics;
mod observe;
mod proxy;
mod reject;
mod route;
mod server;
mod service;
mod sock;
mod stats;
mod upstream;
mod wake;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::registry::Registry;
use tokio::net::{TcpListener, TcpSocket};

pub use body::{ProxiedBody, ResponseBody};
pub use config::{
    Answers, Balancing, ConfigError, DEFAULT_DOMAIN, DEFAULT_MAX_REQUEST_BODY_BYTES,
    DEFAULT_QUEUE_DEPTH, DEFAULT_TIMEOUT, GatewayConfig, Limits, MAX_CONNECTIONS, MIN_HEADER_BYTES,
    ServiceConfig, validate,
};
pub use observe::{Observations, ReplicaObservation, ServiceObservation};
pub use reject::REASON_HEADER;
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

/// Threads started by [`Gateway::serve_on_threads`].
#[derive(Debug)]
pub struct Workers {
    addr: SocketAddr,
    handles: Vec<std::thread::JoinHandle<io::Result<()>>>,
}

impl Workers {
    /// The address the threads listen on (the port chosen, if port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Wait for every thread to finish; the first error, if any.
    pub fn join(self) -> io::Result<()> {
        let mut result = Ok(());
        for handle in self.handles {
            let outcome = handle
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("a gateway thread panicked")));
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }
}

/// Pending connections the kernel keeps per listener before the gateway accepts them.
const LISTEN_BACKLOG: u32 = 4096;

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
    /// `limits.max_connections`, shared by every `serve` call.
    connection_permits: Arc<tokio::sync::Semaphore>,
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
                    response_idle_timeout: service.response_idle_timeout,
                    max_request_body_bytes: service.max_request_body_bytes,
                    body_read_timeout: config.limits.body_read_timeout,
                    answers: config.answers,
                };
                let service_metrics = metrics.service(name);
                Arc::new(Service::new(
                    index,
                    name.clone(),
                    limits,
                    config.balancing,
                    service_metrics,
                    wake.clone(),
                ))
            })
            .collect();
        let shared = Shared {
            router: Router::new(&config),
            services,
            connection_permits: Arc::new(tokio::sync::Semaphore::new(
                config.limits.max_connections,
            )),
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

    /// Serve clients on `addr` from `threads` new OS threads, each running its own
    /// current-thread runtime with its own `SO_REUSEPORT` listener (nginx's worker model; the
    /// kernel spreads connections over the threads). Each thread stops accepting once
    /// `shutdown` turns `true` (or its sender is dropped) and finishes like [`serve`](Self::serve).
    ///
    /// Binding errors are returned here; the threads' own results come from [`Workers::join`].
    pub fn serve_on_threads(
        &self,
        addr: SocketAddr,
        threads: usize,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> io::Result<Workers> {
        let mut sockets = Vec::with_capacity(threads);
        let mut addr = addr;
        for _ in 0..threads.max(1) {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            socket.set_reuseaddr(true)?;
            socket.set_reuseport(true)?;
            socket.bind(addr)?;
            // Port 0: the first bind picks the port, the others share it.
            addr = socket.local_addr()?;
            sockets.push(socket);
        }
        // Runtimes and listeners are made here, so that every error is returned here and the
        // port accepts connections as soon as this returns.
        let mut started = Vec::with_capacity(sockets.len());
        for socket in sockets {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let listener = {
                let _entered = runtime.enter();
                socket.listen(LISTEN_BACKLOG)?
            };
            started.push((runtime, listener));
        }
        let handles = started
            .into_iter()
            .enumerate()
            .map(|(i, (runtime, listener))| {
                let gateway = self.clone();
                let mut shutdown = shutdown.clone();
                std::thread::Builder::new()
                    .name(format!("ebb-gateway-{i}"))
                    .spawn(move || {
                        let stop = async move {
                            let _ = shutdown.wait_for(|stop| *stop).await;
                        };
                        runtime.block_on(gateway.serve(listener, stop))
                    })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Workers { addr, handles })
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

    /// Requests admitted to `service` and not finished right now (waiting ones included). Unlike
    /// [`observe`](Self::observe) this reads without starting a new period, so it can be
    /// polled often.
    pub fn in_flight(&self, service: &str) -> Option<u32> {
        self.shared
            .services
            .iter()
            .find(|s| &*s.name == service)
            .map(|s| s.in_flight())
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
