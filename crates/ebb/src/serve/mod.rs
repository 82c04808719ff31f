//! `ebb serve`: the user's services as local replicas behind the gateway, autoscaled.
//!
//! Wiring, in the order it starts:
//! 1. the supervisor (sweeps replicas an earlier ebb left behind);
//! 2. one gateway per group of ports that share an app, listening on 127.0.0.1;
//! 3. per gateway, a task that reads its measurements once a second and one that routes its
//!    wake-ups (a request held at zero) to the app at once;
//! 4. per app, the pool glue (supervisor ↔ gateway) and its autoscaler loop;
//! 5. the admin API.
//!
//! Stopping (Ctrl-C or SIGTERM) runs backwards: the gateways stop accepting and finish what is
//! in flight, the loops stop, the supervisor stops every replica (SIGTERM, then SIGKILL).

pub(crate) mod admin;
pub(crate) mod app;
mod autoscale;
pub(crate) mod metrics;
mod plan;
mod pool;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use ebb_core::hpa::HpaSettings;
use ebb_gateway::{Gateway, GatewayConfig, ServiceObservation, Wakeup, Wakeups};
use ebb_supervisor::{Supervisor, SupervisorConfig};
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub(crate) use plan::{Plan, PlanError, plan};

use std::future::IntoFuture as _;

use self::app::{App, Clock};
use crate::cmd::UserError;

/// How to serve.
pub(crate) struct ServeConfig {
    /// The manifests, the shared port and ebb's own path: read again on SIGHUP.
    pub(crate) files: Vec<PathBuf>,
    pub(crate) shared_port: u16,
    pub(crate) self_exe: PathBuf,
    pub(crate) admin: SocketAddr,
    pub(crate) admin_token: Option<String>,
    pub(crate) state_dir: PathBuf,
    pub(crate) metrics_resolution: Duration,
    pub(crate) hpa: HpaSettings,
    pub(crate) gateway_threads: usize,
    /// The gateway's limits on client connections.
    pub(crate) client_limits: ebb_gateway::Limits,
    /// The gateway's answers where ebb differs from Knative.
    pub(crate) answers: ebb_gateway::Answers,
    /// How the gateway chooses a replica among those with a free slot.
    pub(crate) balancing: ebb_gateway::Balancing,
    /// ebb extension: tick a KPA at once when the requests in flight alone mean panic.
    pub(crate) kpa_immediate_panic: bool,
}

/// Runs until Ctrl-C or SIGTERM.
pub(crate) async fn run(config: ServeConfig, plan: Plan) -> anyhow::Result<()> {
    if !config.admin.ip().is_loopback() && config.admin_token.is_none() {
        return Err(UserError(format!(
            "refusing to serve the admin API on {} without --admin-token: anyone who can reach it could read your services; bind 127.0.0.1 or set a token",
            config.admin
        ))
        .into());
    }
    let clock = Clock {
        epoch: tokio::time::Instant::now(),
    };
    let mut registry = Registry::default();
    let serve_metrics = metrics::ServeMetrics::register(&mut registry);
    let mut supervisor_config = SupervisorConfig::new(config.state_dir.clone());
    supervisor_config.usage_interval = config.metrics_resolution;
    let supervisor =
        Supervisor::start(supervisor_config).context("starting the replica supervisor")?;
    for leftover in supervisor.leftovers() {
        tracing::warn!(?leftover, "Stopped a replica an earlier ebb left running.");
    }
    let shutdown = CancellationToken::new();

    // Each app's channels: its per-second measurements and its wake-ups.
    let mut observation_tx: HashMap<String, watch::Sender<Option<ServiceObservation>>> =
        HashMap::new();
    let mut observation_rx = HashMap::new();
    let mut wake_tx: HashMap<String, mpsc::Sender<Wakeup>> = HashMap::new();
    let mut wake_rx = HashMap::new();
    for app in &plan.apps {
        let (tx, rx) = watch::channel(None);
        observation_tx.insert(app.name.clone(), tx);
        observation_rx.insert(app.name.clone(), rx);
        let (tx, rx) = mpsc::channel(16);
        wake_tx.insert(app.name.clone(), tx);
        wake_rx.insert(app.name.clone(), rx);
    }

    // Gateways: ports that serve a common app share one.
    let (stop_gateways, gateways_stopped) = watch::channel(false);
    let mut workers = Vec::new();
    let mut gateway_of: HashMap<String, Gateway> = HashMap::new();
    let mut listening = Vec::new();
    for ports in port_groups(&plan) {
        let listeners = plan.listeners();
        let mut services: Vec<_> = ports
            .iter()
            .flat_map(|p| listeners.get(p).cloned().unwrap_or_default())
            .collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        services.dedup_by(|a, b| a.name == b.name);
        let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
        let label = ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let sub = registry.sub_registry_with_label(("ports".into(), label.into()));
        let mut gateway_config = GatewayConfig::new(services);
        gateway_config.limits = config.client_limits.clone();
        gateway_config.answers = config.answers;
        gateway_config.balancing = config.balancing;
        let (gateway, wakeups) = Gateway::new(gateway_config, sub)
            .map_err(|e| UserError(format!("the gateway configuration is not valid: {e}")))?;
        for port in &ports {
            let addr = SocketAddr::from(([127, 0, 0, 1], *port));
            let w = gateway
                .serve_on_threads(addr, config.gateway_threads, gateways_stopped.clone())
                .map_err(|e| UserError(format!("cannot listen on {addr}: {e} (is another server using port {port}? pass --port for InferenceServices)")))?;
            listening.push((w.local_addr(), names.clone()));
            workers.push(w);
        }
        let senders: HashMap<String, watch::Sender<Option<ServiceObservation>>> = names
            .iter()
            .filter_map(|n| observation_tx.remove(n).map(|tx| (n.clone(), tx)))
            .collect();
        tokio::spawn(observe_every_second(
            gateway.clone(),
            senders,
            shutdown.clone(),
        ));
        let routes: HashMap<String, mpsc::Sender<Wakeup>> = names
            .iter()
            .filter_map(|n| wake_tx.get(n).map(|tx| (n.clone(), tx.clone())))
            .collect();
        tokio::spawn(route_wakeups(wakeups, routes));
        for n in names {
            gateway_of.insert(n, gateway.clone());
        }
    }

    // Apps: replicas, pool glue, autoscaler.
    let mut apps = Vec::new();
    for p in plan.apps {
        let replicas = supervisor
            .add_service(&p.name, p.replica.clone())
            .map_err(|e| UserError(format!("service {}: {e}", p.name)))?;
        let metrics = serve_metrics.app(&p.namespace, &p.name);
        let observations = observation_rx
            .remove(&p.name)
            .unwrap_or_else(|| watch::channel(None).1);
        let wakeups = wake_rx
            .remove(&p.name)
            .unwrap_or_else(|| mpsc::channel(1).1);
        let gateway = gateway_of.get(&p.name).cloned();
        let app = App::new(p, replicas, gateway, metrics, clock, observations);
        tokio::spawn(pool::run(Arc::clone(&app), shutdown.clone()));
        let hpa = config.hpa.clone();
        let immediate = config.kpa_immediate_panic;
        tokio::spawn(autoscale::run(
            Arc::clone(&app),
            hpa,
            immediate,
            wakeups,
            shutdown.clone(),
        ));
        apps.push(app);
    }

    // Admin API.
    let listener = tokio::net::TcpListener::bind(config.admin)
        .await
        .map_err(|e| {
            UserError(format!(
                "cannot serve the admin API on {}: {e} (pass --admin with another address)",
                config.admin
            ))
        })?;
    let admin_addr = listener.local_addr()?;
    let admin = Arc::new(admin::Admin {
        apps: apps.clone(),
        registry,
        clock,
        token: config.admin_token.clone(),
    });
    let admin_task = tokio::spawn(
        axum::serve(listener, admin::router(admin))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future(),
    );

    eprintln!("{}", banner(&apps, &listening, admin_addr));

    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = hangup.recv() => reload(&config, &apps),
        }
    }
    eprintln!("Stopping: finishing requests in flight, then stopping replicas.");
    // Keep the per-second senders of apps without a gateway alive until here.
    drop(observation_tx);
    let _ = stop_gateways.send(true);
    for w in workers {
        let joined = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::task::spawn_blocking(move || w.join()),
        )
        .await;
        if joined.is_err() {
            tracing::warn!("A gateway listener did not stop within 30s; stopping replicas anyway.");
        }
    }
    shutdown.cancel();
    supervisor.shutdown().await;
    let _ = admin_task.await;
    Ok(())
}

/// What `ebb serve` prints when it is up: where each service answers and how to watch it.
fn banner(apps: &[Arc<App>], listening: &[(SocketAddr, Vec<String>)], admin: SocketAddr) -> String {
    let mut out = String::from("ebb serve is up.\n");
    for app in apps {
        let p = &app.plan;
        let class = match &p.policy {
            plan::PolicyPlan::Hpa { .. } => "HPA",
            plan::PolicyPlan::Kpa { .. } => "KPA",
            plan::PolicyPlan::Fixed(_) => "fixed",
        };
        out.push_str(&format!("  {} ({}, {class})", p.name, p.reference));
        let addrs: Vec<String> = listening
            .iter()
            .filter(|(_, names)| names.contains(&p.name))
            .map(|(a, names)| {
                if names.len() > 1 {
                    format!(
                        "http://{a} with Host: {}.{}.example.com",
                        p.name, p.namespace
                    )
                } else {
                    format!("http://{a}")
                }
            })
            .collect();
        if addrs.is_empty() {
            out.push_str(": no Service routes to it\n");
        } else {
            out.push_str(&format!(": {}\n", addrs.join(", ")));
        }
    }
    out.push_str(&format!(
        "  admin: http://{admin} (/metrics, /api/v1/services)\n"
    ));
    out.push_str("Watch it: ebb get hpa -w    Explain: ebb describe NAME    Logs: ebb logs NAME -f    Stop: Ctrl-C");
    out
}

/// SIGHUP: re-reads the manifests and applies what can change while running — every
/// autoscaler's spec (HPA spec, Knative annotations and `config-autoscaler`, fixed replica
/// counts). Changes that need new processes or listeners (commands, probes, ports, services
/// added or removed) are reported: they take effect when `ebb serve` is restarted.
fn reload(config: &ServeConfig, apps: &[Arc<App>]) {
    eprintln!(
        "Reloading {}.",
        config
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let sources = match crate::cmd::validate::read_sources(&config.files) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Reload refused: {e:#}. The services keep running as they were.");
            return;
        }
    };
    let checked = ebb_manifest::check(&sources, ebb_manifest::Mode::Local);
    for d in &checked.diagnostics {
        eprintln!("{}\n", crate::cmd::validate::render(d, &sources));
    }
    if checked.of(ebb_manifest::Severity::Error).next().is_some() {
        eprintln!("Reload refused: fix the errors above. The services keep running as they were.");
        return;
    }
    let plan = match plan::plan(&checked, config.shared_port, &config.self_exe) {
        Ok(p) => p,
        Err(PlanError(errors)) => {
            eprintln!(
                "Reload refused:\n  {}\nThe services keep running as they were.",
                errors.join("\n  ")
            );
            return;
        }
    };
    let mut pending = Vec::new();
    for new in &plan.apps {
        let Some(app) = apps.iter().find(|a| a.name() == new.name) else {
            pending.push(format!("{} is a new service", new.name));
            continue;
        };
        if new.replica != app.plan.replica {
            pending.push(format!(
                "{}: its command, environment or probes changed",
                new.name
            ));
        }
        if new.ports != app.plan.ports || new.hosts != app.plan.hosts {
            pending.push(format!("{}: its ports or hosts changed", new.name));
        }
        let replaced = app.policy.send_if_modified(|current| {
            let changed = *current != new.policy;
            if changed {
                *current = new.policy.clone();
            }
            changed
        });
        if replaced {
            app.event(
                "Normal",
                "Reloaded",
                "the autoscaler's spec was replaced from the manifests",
                "serve",
            );
            eprintln!("  {}: autoscaler updated", new.name);
        }
    }
    for app in apps {
        if !plan.apps.iter().any(|n| n.name == app.name()) {
            pending.push(format!("{} is no longer in the files", app.name()));
        }
    }
    if !pending.is_empty() {
        eprintln!("Restart ebb serve to apply:\n  {}", pending.join("\n  "));
    }
}

/// Groups ports into gateways: two ports share one when an app is served on both.
fn port_groups(plan: &Plan) -> Vec<BTreeSet<u16>> {
    let mut groups: Vec<BTreeSet<u16>> = Vec::new();
    for app in &plan.apps {
        if app.ports.is_empty() {
            continue;
        }
        let mut merged: BTreeSet<u16> = app.ports.iter().copied().collect();
        groups.retain(|g| {
            if g.is_disjoint(&merged) {
                true
            } else {
                merged.extend(g.iter().copied());
                false
            }
        });
        groups.push(merged);
    }
    groups
}

/// Reads the gateway's measurements once a second (each read starts a new window) and hands
/// every service its own.
async fn observe_every_second(
    gateway: Gateway,
    senders: HashMap<String, watch::Sender<Option<ServiceObservation>>>,
    shutdown: CancellationToken,
) {
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.tick().await;
    loop {
        tokio::select! {
            _ = second.tick() => {}
            () = shutdown.cancelled() => return,
        }
        for observation in gateway.observe().services {
            if let Some(tx) = senders.get(&observation.service) {
                tx.send_replace(Some(observation));
            }
        }
    }
}

/// Hands each wake-up to its app's autoscaler at once.
async fn route_wakeups(mut wakeups: Wakeups, routes: HashMap<String, mpsc::Sender<Wakeup>>) {
    while let Some(w) = wakeups.recv().await {
        if let Some(tx) = routes.get(&*w.service) {
            // Full means a wake-up is already pending: nothing is lost.
            let _ = tx.try_send(w);
        }
    }
}
