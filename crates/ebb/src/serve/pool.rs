//! Keeps the gateway's replica pool in step with the supervisor's replicas.
//!
//! A replica joins the gateway when its process listens, takes requests while its readiness
//! probe passes, and on scale-down leaves the pool at once, is drained by the gateway, and is
//! handed back to the supervisor (SIGTERM, then SIGKILL) when its last request has finished.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use ebb_gateway::ReplicaId;
use ebb_supervisor::{ReplicaPhase, ReplicaStatus};
use tokio_util::sync::CancellationToken;

use super::app::{App, cold_start};

struct Known {
    id: ReplicaId,
    addr: SocketAddr,
    ready: bool,
    draining: bool,
}

/// Runs until `shutdown`: follows the replicas' statuses and supervisor events.
pub(crate) async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let mut statuses = app.replicas.watch();
    let mut events = app.replicas.events();
    let mut known: HashMap<String, Known> = HashMap::new();
    let mut restarts: HashMap<String, u32> = HashMap::new();
    loop {
        let current = statuses.borrow_and_update().clone();
        sync(&app, &current, &mut known);
        count(&app, &current, &mut restarts);
        tokio::select! {
            changed = statuses.changed() => if changed.is_err() { return },
            event = events.recv() => match event {
                Ok(e) => {
                    let kind = if e.kind.is_warning() { "Warning" } else { "Normal" };
                    app.event(kind, e.kind.reason(), &e.message, "replicas");
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            () = shutdown.cancelled() => return,
        }
    }
}

/// One pass over the statuses: every difference from what the gateway knows is applied.
fn sync(app: &Arc<App>, statuses: &[ReplicaStatus], known: &mut HashMap<String, Known>) {
    let Some(gateway) = &app.gateway else {
        // Nothing routes to this app: a replica leaving has nothing to drain.
        for s in statuses
            .iter()
            .filter(|s| s.phase == ReplicaPhase::Terminating)
        {
            app.replicas.drained(&s.name);
        }
        return;
    };
    let ready_before = known.values().filter(|k| k.ready && !k.draining).count();
    for s in statuses {
        if s.phase == ReplicaPhase::Terminating {
            if let Some(k) = known.get_mut(&s.name)
                && !k.draining
            {
                k.draining = true;
                k.ready = false;
                match gateway.drain(k.id) {
                    Ok(drained) => {
                        let (replicas, name) = (app.replicas.clone(), s.name.clone());
                        tokio::spawn(async move {
                            // Resolves when its last request ends (or it is removed).
                            drained.await;
                            replicas.drained(&name);
                        });
                    }
                    Err(_) => {
                        app.replicas.drained(&s.name);
                    }
                }
            } else if !known.contains_key(&s.name) {
                app.replicas.drained(&s.name);
            }
            continue;
        }
        match (s.address, known.get_mut(&s.name)) {
            (Some(addr), Some(k)) if k.addr == addr => {
                if k.ready != s.ready {
                    let _ = gateway.set_ready(k.id, s.ready);
                    k.ready = s.ready;
                }
            }
            (Some(addr), existing) => {
                // New, or restarted on another port.
                if let Some(old) = existing {
                    let _ = gateway.remove_replica(old.id);
                }
                match gateway.add_replica(app.name(), addr) {
                    Ok(id) => {
                        if s.ready {
                            let _ = gateway.set_ready(id, true);
                        }
                        known.insert(
                            s.name.clone(),
                            Known {
                                id,
                                addr,
                                ready: s.ready,
                                draining: false,
                            },
                        );
                        app.state().gateway_ids.insert(s.name.clone(), id);
                    }
                    Err(e) => app.event(
                        "Warning",
                        "FailedRoute",
                        &format!("{}: {e}", s.name),
                        "gateway",
                    ),
                }
            }
            (None, Some(k)) => {
                // The process is down (crashed, restarting): no requests until it is back.
                if k.ready {
                    let _ = gateway.set_ready(k.id, false);
                    k.ready = false;
                }
            }
            (None, None) => {}
        }
    }
    // Replicas that are gone.
    let gone: Vec<String> = known
        .keys()
        .filter(|n| !statuses.iter().any(|s| &s.name == *n))
        .cloned()
        .collect();
    for name in gone {
        if let Some(k) = known.remove(&name) {
            let _ = gateway.remove_replica(k.id);
            app.state().gateway_ids.remove(&name);
        }
    }
    // The first replica ready while none was: a cold start.
    let ready_after = known.values().filter(|k| k.ready && !k.draining).count();
    if ready_before == 0
        && ready_after > 0
        && let Some(first) = statuses
            .iter()
            .filter(|s| s.ready)
            .filter_map(|s| Some((s.created_at, s.ready_at?)))
            .min_by_key(|(_, r)| *r)
    {
        let woken = app.state().woken_at.take();
        let took = cold_start(woken, first.0, first.1);
        app.metrics.cold_starts.inc();
        app.metrics.cold_start_seconds.observe(took.as_secs_f64());
        app.event(
            "Normal",
            "ColdStart",
            &format!(
                "first replica ready {} ms after {}",
                took.as_millis(),
                if woken.is_some() {
                    "the first request at zero"
                } else {
                    "the scale-up order"
                }
            ),
            "gateway",
        );
    }
}

fn count(app: &App, statuses: &[ReplicaStatus], restarts: &mut HashMap<String, u32>) {
    let live = statuses
        .iter()
        .filter(|s| s.phase != ReplicaPhase::Terminating);
    app.metrics
        .actual
        .set(i64::try_from(live.count()).unwrap_or(i64::MAX));
    app.metrics
        .ready
        .set(i64::try_from(statuses.iter().filter(|s| s.ready).count()).unwrap_or(i64::MAX));
    for s in statuses {
        let seen = restarts.entry(s.name.clone()).or_insert(0);
        if s.restarts > *seen {
            app.metrics.restarts.inc_by(u64::from(s.restarts - *seen));
            *seen = s.restarts;
        }
    }
    restarts.retain(|name, _| statuses.iter().any(|s| &s.name == name));
}
