//! The admin API of `ebb serve`: JSON for `ebb get` and `ebb describe`, and Prometheus
//! `/metrics`. It binds 127.0.0.1 by default; any other address needs `--admin-token`, which
//! every request must then present as `Authorization: Bearer <token>`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ebb_supervisor::{ReplicaPhase, ReplicaStatus};
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

use super::app::{App, Clock, DecisionRecord, EventRecord, secs};
use super::plan::PolicyPlan;

/// What the API serves.
pub(crate) struct Admin {
    pub(crate) apps: Vec<Arc<App>>,
    pub(crate) registry: Registry,
    pub(crate) clock: Clock,
    pub(crate) token: Option<String>,
}

/// A service as `ebb get services` / `ebb get hpa` show it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceView {
    pub(crate) name: String,
    pub(crate) namespace: String,
    /// `hpa`, `kpa` or `none`.
    pub(crate) class: String,
    /// The autoscaler object's name, if any.
    pub(crate) autoscaler: Option<String>,
    pub(crate) reference: String,
    pub(crate) ports: Vec<u16>,
    pub(crate) hosts: Vec<String>,
    pub(crate) min_replicas: Option<i32>,
    pub(crate) max_replicas: Option<i32>,
    pub(crate) desired: i32,
    pub(crate) replicas: i32,
    pub(crate) ready: i32,
    pub(crate) targets: String,
    pub(crate) panic: bool,
    pub(crate) age_seconds: f64,
}

/// A replica as `ebb get pods` shows it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodView {
    pub(crate) name: String,
    pub(crate) service: String,
    pub(crate) status: String,
    pub(crate) ready: bool,
    pub(crate) restarts: u32,
    pub(crate) age_seconds: f64,
    pub(crate) address: Option<String>,
    pub(crate) pid: Option<u32>,
    pub(crate) cpu_millicores: Option<i64>,
    pub(crate) memory_bytes: Option<u64>,
    pub(crate) last_exit: Option<String>,
    pub(crate) message: Option<String>,
}

/// Everything `ebb describe` shows.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServiceDetail {
    pub(crate) service: ServiceView,
    pub(crate) metrics: Vec<(String, String)>,
    pub(crate) conditions: Vec<ebb_core::Condition>,
    pub(crate) latest: Option<DecisionRecord>,
    pub(crate) decisions: Vec<DecisionRecord>,
    pub(crate) events: Vec<EventRecord>,
    pub(crate) pods: Vec<PodView>,
    /// Seconds since `ebb serve` started: event and decision times are on the same scale.
    pub(crate) now: f64,
}

pub(crate) fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/api/v1/services", get(services))
        .route("/api/v1/services/{name}", get(service))
        .route("/api/v1/pods", get(pods))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&admin),
            authorize,
        ))
        .with_state(admin)
}

async fn authorize(State(admin): State<Arc<Admin>>, request: Request, next: Next) -> Response {
    if let Some(token) = &admin.token {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if presented != Some(token.as_str()) {
            return (StatusCode::UNAUTHORIZED, "this admin API needs `Authorization: Bearer <token>` (the --admin-token of ebb serve)\n").into_response();
        }
    }
    next.run(request).await
}

async fn metrics(State(admin): State<Arc<Admin>>) -> Response {
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &admin.registry) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding metrics failed: {e}\n"),
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn services(State(admin): State<Arc<Admin>>) -> axum::Json<Vec<ServiceView>> {
    axum::Json(admin.apps.iter().map(|a| view(a, &admin.clock)).collect())
}

async fn pods(State(admin): State<Arc<Admin>>) -> axum::Json<Vec<PodView>> {
    axum::Json(admin.apps.iter().flat_map(|a| pod_views(a)).collect())
}

async fn service(State(admin): State<Arc<Admin>>, Path(name): Path<String>) -> Response {
    let Some(app) = admin.apps.iter().find(|a| a.name() == name) else {
        let known: Vec<&str> = admin.apps.iter().map(|a| a.name()).collect();
        return (
            StatusCode::NOT_FOUND,
            format!("no service {name:?}; services: {}\n", known.join(", ")),
        )
            .into_response();
    };
    // `view` takes the app's lock itself: build it before taking the lock here.
    let service = view(app, &admin.clock);
    let state = app.state();
    let detail = ServiceDetail {
        service,
        metrics: state.policy.metrics.clone(),
        conditions: state.policy.conditions.clone(),
        latest: state.latest.clone(),
        decisions: state.decisions.iter().cloned().collect(),
        events: state.events.iter().cloned().collect(),
        pods: Vec::new(),
        now: secs(admin.clock.now()),
    };
    drop(state);
    axum::Json(ServiceDetail {
        pods: pod_views(app),
        ..detail
    })
    .into_response()
}

fn view(app: &App, clock: &Clock) -> ServiceView {
    let statuses = app.replicas.status();
    let policy = app.state().policy.clone();
    let (class, autoscaler, min, max) = match &app.plan.policy {
        PolicyPlan::Hpa { name, spec } => (
            "hpa",
            Some(name.clone()),
            spec.min_replicas,
            Some(spec.max_replicas),
        ),
        PolicyPlan::Kpa { name, settings } => (
            "kpa",
            Some(name.clone()),
            settings.min_scale,
            settings.max_scale,
        ),
        PolicyPlan::Fixed(_) => ("none", None, None, None),
    };
    ServiceView {
        name: app.plan.name.clone(),
        namespace: app.plan.namespace.clone(),
        class: class.to_string(),
        autoscaler,
        reference: app.plan.reference.clone(),
        ports: app.plan.ports.clone(),
        hosts: app.plan.hosts.clone(),
        min_replicas: min,
        max_replicas: max,
        desired: policy.desired,
        replicas: count(&statuses, |s| s.phase != ReplicaPhase::Terminating),
        ready: count(&statuses, |s| s.ready),
        targets: policy.targets,
        panic: policy.panic,
        age_seconds: secs(clock.now()),
    }
}

fn count(statuses: &[ReplicaStatus], f: impl Fn(&ReplicaStatus) -> bool) -> i32 {
    i32::try_from(statuses.iter().filter(|s| f(s)).count()).unwrap_or(i32::MAX)
}

fn pod_views(app: &App) -> Vec<PodView> {
    let usage = app.replicas.usage();
    let now = tokio::time::Instant::now();
    app.replicas
        .status()
        .into_iter()
        .map(|s| {
            let u = usage.iter().find(|u| u.replica == s.name);
            PodView {
                service: app.plan.name.clone(),
                status: s.phase.as_str().to_string(),
                ready: s.ready,
                restarts: s.restarts,
                age_seconds: now.saturating_duration_since(s.created_at).as_secs_f64(),
                address: s.address.map(|a| a.to_string()),
                pid: s.pid,
                cpu_millicores: u.map(|u| u.cpu_millicores()),
                memory_bytes: u.map(|u| u.memory_bytes),
                last_exit: s.last_exit.as_ref().map(|e| e.describe()),
                message: s.message.clone(),
                name: s.name,
            }
        })
        .collect()
}
