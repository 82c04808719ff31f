//! `ebb controller`: watches Autoscalers and syncs each one on its own schedule (class hpa every
//! sync period, 15 s by default; class kpa every second), on the leader replica only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, ListParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::api::Cluster;
use crate::clock;
use crate::crd::Autoscaler;
use crate::error::{Error, Result};
use crate::gateway_stats::GatewayStats;
use crate::knative_config;
use crate::leader::{self, Fence, LeaseConfig};
use crate::sync::{self, Context};

/// How `ebb controller` runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Watch one namespace, or all of them.
    pub namespace: Option<String>,
    /// Compete for this Lease; `None` runs without election (a single replica).
    pub lease: Option<LeaseConfig>,
    /// This replica's name in events.
    pub identity: String,
    /// HPA controller flags.
    pub hpa_settings: ebb_core::hpa::HpaSettings,
    /// Where class-kpa Autoscalers read their load.
    pub gateways: GatewayStats,
    /// Knative's `config-autoscaler` to follow; `None`: upstream's defaults.
    pub kpa_config_from: Option<knative_config::Source>,
}

/// Syncs that a status write (or any other watch event) would trigger early are postponed to
/// the object's schedule, unless its spec changed: upstream evaluates each HPA once per sync
/// period, whatever happens to the object.
#[derive(Default)]
struct Schedule {
    last: Mutex<HashMap<String, LastSync>>,
}

/// When an object was synced, at which generation, and how long until its next sync.
type LastSync = (tokio::time::Instant, Option<i64>, Duration);

impl Schedule {
    /// `Some(wait)` when the object was synced too recently for its generation.
    fn too_early(&self, key: &str, generation: Option<i64>) -> Option<Duration> {
        let last = self.last.lock().ok()?;
        let (at, seen_generation, every) = last.get(key)?;
        let elapsed = at.elapsed();
        (*seen_generation == generation && elapsed < *every).then(|| *every - elapsed)
    }

    fn record(&self, key: String, generation: Option<i64>, every: Duration) {
        if let Ok(mut last) = self.last.lock() {
            last.insert(key, (tokio::time::Instant::now(), generation, every));
        }
    }
}

struct State {
    ctx: Context,
    schedule: Schedule,
}

/// Runs until `shutdown` is cancelled.
pub async fn run(client: Client, config: Config, shutdown: CancellationToken) -> Result<()> {
    let api: Api<Autoscaler> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    if let Err(e) = api.list(&ListParams::default().limit(1)).await {
        return Err(Error::Api(format!(
            "cannot list Autoscalers ({e}); is the CRD installed? `kubectl apply -k deploy/` installs it with the controller's permissions"
        )));
    }
    // Without election the sender lives as long as the controller: the fence stays open.
    let (_always, mut fence) = Fence::manual(true);
    let mut _elector = None;
    if let Some(lease) = &config.lease {
        let (f, task) = leader::elect(client.clone(), lease).await?;
        fence = f;
        _elector = Some(task);
        tracing::info!(lease = %lease.name, identity = %lease.identity, "Waiting for the leader lease.");
    }
    let controller = Controller::new(api, watcher::Config::default());
    let store = controller.store();
    let mut ctx = Context::new(
        Cluster::new(client.clone()),
        fence.clone(),
        config.identity.clone(),
    );
    ctx.hpa_settings = config.hpa_settings.clone();
    ctx.gateways = config.gateways.clone();
    ctx.autoscalers = Some(store.clone());
    let state = Arc::new(State {
        ctx,
        schedule: Schedule::default(),
    });

    // Knative's cluster defaults: read once before the first sync, then followed.
    let mut follower = None;
    if let Some(source) = config.kpa_config_from.clone() {
        let mut last = None;
        if let Some(line) = knative_config::refresh(&state.ctx, &source, &mut last).await {
            knative_config::log(&line);
        }
        let follow_state = state.clone();
        let token = shutdown.clone();
        follower = Some(tokio::spawn(async move {
            knative_config::follow(&follow_state.ctx, &source, last, token).await;
        }));
    }

    // Log leadership changes; losing the lease drops every engine's memory (the fence already
    // stops writes), so a later term starts from what the last leader wrote.
    let watcher_state = state.clone();
    let mut watch_fence = fence.clone();
    let leadership = tokio::spawn(async move {
        loop {
            if !watch_fence.acquired().await {
                break;
            }
            tracing::info!("Leading: syncing Autoscalers.");
            watch_fence.lost().await;
            tracing::warn!("Lost the leader lease: every write stops.");
            watcher_state.ctx.forget();
        }
    });

    // The memory of deleted Autoscalers is dropped once a minute.
    let sweep_state = state.clone();
    let sweep_store = store.clone();
    let sweeper = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            let keys = sweep_store.state().iter().map(|a| sync::key(a)).collect();
            sweep_state.ctx.retain_objects(&keys);
        }
    });
    let token = shutdown.clone();
    controller
        .graceful_shutdown_on(async move { token.cancelled().await })
        .run(reconcile, error_policy, state)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(autoscaler = %object.name, "Synced."),
                Err(error) => tracing::debug!(%error, "Sync did not complete."),
            }
        })
        .await;
    leadership.abort();
    sweeper.abort();
    if let Some(follower) = follower {
        follower.abort();
    }
    Ok(())
}

async fn reconcile(obj: Arc<Autoscaler>, state: Arc<State>) -> Result<Action> {
    let key = sync::key(&obj);
    if obj.metadata.deletion_timestamp.is_some() {
        state.ctx.forget_object(&key);
        return Ok(Action::await_change());
    }
    let generation = obj.metadata.generation;
    if let Some(wait) = state.schedule.too_early(&key, generation) {
        return Ok(Action::requeue(wait));
    }
    match sync::sync(&state.ctx, &obj, clock::now()).await {
        Ok(report) => {
            if let Some(n) = report.scaled_to {
                tracing::info!(namespace = %obj.namespace().unwrap_or_default(), autoscaler = %obj.name_any(), replicas = n, summary = %report.decision.summary(), "Rescaled.");
            }
            state.schedule.record(key, generation, report.requeue_after);
            Ok(Action::requeue(report.requeue_after))
        }
        Err(Error::NotLeader) => Ok(Action::requeue(Duration::from_secs(5))),
        Err(e) => {
            state
                .schedule
                .record(key, generation, state.ctx.hpa_settings.sync_period);
            Err(e)
        }
    }
}

fn error_policy(obj: Arc<Autoscaler>, error: &Error, state: Arc<State>) -> Action {
    tracing::warn!(namespace = %obj.namespace().unwrap_or_default(), autoscaler = %obj.name_any(), %error, "Sync failed.");
    Action::requeue(state.ctx.hpa_settings.sync_period)
}
