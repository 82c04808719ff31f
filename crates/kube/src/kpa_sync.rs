//! Class kpa: Knative's autoscaler driven from the cluster. Every second the controller reads the
//! gateways' counters (the load) and the target's ready pods; the decider ticks every 2 s, or
//! at once when a request is held at zero; the reconciler runs when its timers are due or the
//! ready count changes. A changed replica count is written to `/scale`.

use std::time::Duration;

use ebb_core::kpa::{Kpa, KpaSpec, Observation, Reachability, Source, TICK_INTERVAL};
use ebb_core::time::Instant;
use ebb_core::{Decision, Event, EventType, Step};
use kube::ResourceExt;

use crate::crd::{Autoscaler, AutoscalerStatus, StatusCondition};
use crate::error::{Error, Result};
use crate::gateway_stats::Readings;
use crate::status;
use crate::sync::{
    CONFLICT_RETRIES, Context, SyncReport, other_autoscalers, record_events, write_status,
};

/// How often a class-kpa Autoscaler is synced (the gateways' counters are read each time).
pub const READ_INTERVAL: Duration = Duration::from_secs(1);
/// The status is rewritten at least this often while only the KPA's memory changes.
const MEMORY_WRITE_INTERVAL: Duration = Duration::from_secs(15);

/// One class-kpa Autoscaler: the engine and what the driver remembers around it.
#[derive(Debug, Clone)]
pub struct KpaDriver {
    kpa: Option<Kpa>,
    spec: KpaSpec,
    restored: Option<AutoscalerStatus>,
    last_tick: Option<Instant>,
    last_status_write: Option<Instant>,
    last_scale_time: Option<String>,
    readings: Readings,
}

impl KpaDriver {
    /// A driver that restores the engine from `status` at its first sync.
    pub fn new(spec: KpaSpec, status: Option<&AutoscalerStatus>) -> Self {
        KpaDriver {
            kpa: None,
            spec,
            restored: status.cloned(),
            last_tick: None,
            last_status_write: None,
            last_scale_time: status.and_then(|s| s.last_scale_time.clone()),
            readings: Readings::default(),
        }
    }

    /// Applies a changed spec.
    pub fn update_spec(&mut self, now: Instant, spec: KpaSpec) {
        if spec != self.spec {
            if let Some(kpa) = &mut self.kpa {
                kpa.update_spec(now, spec.clone());
            }
            self.spec = spec;
        }
    }

    /// The engine, if it has started.
    pub fn engine(&self) -> Option<&Kpa> {
        self.kpa.as_ref()
    }
}

/// One class-kpa sync.
pub(crate) async fn sync_kpa(
    ctx: &Context,
    obj: &Autoscaler,
    driver: &mut KpaDriver,
    now: Instant,
) -> Result<SyncReport> {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let target = obj.spec.0.scale_target_ref.clone();
    let mut scale = ctx.cluster.get_scale(&ns, &target).await?;
    let pods = if scale.selector.is_empty() {
        Vec::new()
    } else {
        ctx.cluster.list_pods(&ns, &scale.selector).await?
    };
    let ready = pods
        .iter()
        .filter(|p| crate::metrics_api::is_ready(p))
        .count() as i32;
    let counters = ctx.gateways.read(&ctx.cluster, &ctx.http, &ns, &name).await;

    let created = driver.kpa.is_none();
    let kpa = driver.kpa.get_or_insert_with(|| {
        status::kpa_engine(driver.spec.clone(), driver.restored.as_ref(), now, ready)
    });
    let mut poke = false;
    if let Some(load) = driver.readings.load(now, &counters) {
        // The gateway carries every request: its load is the replicas' while some are ready,
        // the request holder's while none is (then a held request wakes the revision).
        let source = if ready > 0 {
            Source::Replicas
        } else {
            Source::Holder
        };
        let mut stat = load.stat;
        if ready == 0 && load.held > 0 && stat.average_concurrency == 0.0 {
            stat = ebb_core::kpa::Stat::POKE;
        }
        poke = kpa.record(now, source, &stat);
    }
    let obs = Observation {
        ready: Ok(ready),
        replicas: Some(scale.spec_replicas),
        reachability: Reachability::Reachable,
        holder_reachable: true,
        windows: None,
    };
    let tick_due = driver
        .last_tick
        .is_none_or(|t| now.since(t) >= TICK_INTERVAL);
    let reconcile_due = kpa.next_reconcile().is_some_and(|t| !t.is_after(now));
    let mut decision = if created
        && driver
            .restored
            .as_ref()
            .and_then(|s| s.kpa.as_ref())
            .is_none()
    {
        kpa.reconcile(now, &obs)
    } else if poke || tick_due {
        driver.last_tick = Some(now);
        kpa.tick(now, &obs)
    } else if reconcile_due {
        kpa.reconcile(now, &obs)
    } else {
        return Ok(SyncReport {
            decision: Decision::new(ebb_core::PolicyClass::Kpa, scale.spec_replicas),
            scaled_to: None,
            status_written: false,
            requeue_after: READ_INTERVAL,
        });
    };

    let mut scaled_to = None;
    let mut write = decision.scale_to.filter(|n| *n != scale.spec_replicas);
    if write.is_some() {
        // Checked only before a write: a class-kpa sync runs every second.
        let others = other_autoscalers(ctx, obj).await;
        if !others.is_empty() {
            let message = format!(
                "refusing to scale {target}: {} also scales it; ebb does not fight another autoscaler, delete one of them",
                others.join(", ")
            );
            decision.events.push(Event {
                kind: EventType::Warning,
                reason: "AmbiguousSelector".into(),
                message: message.clone(),
            });
            decision.error = Some(message);
            write = None;
        }
    }
    if let Some(n) = write {
        let reason = decision.reason.clone().unwrap_or_default();
        let mut attempt = 0;
        loop {
            match ctx
                .cluster
                .patch_scale(
                    &ctx.fence,
                    &ns,
                    &target,
                    n,
                    scale.resource_version.as_deref(),
                )
                .await
            {
                Ok(()) => {
                    scaled_to = Some(n);
                    decision.events.push(Event {
                        kind: EventType::Normal,
                        reason: "SuccessfulRescale".into(),
                        message: format!("New size: {n}; reason: {reason}"),
                    });
                    driver.last_scale_time = Some(crate::clock::rfc3339(now));
                    break;
                }
                Err(Error::Conflict(_)) if attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    let fresh = ctx.cluster.get_scale(&ns, &target).await?;
                    if fresh.spec_replicas != scale.spec_replicas {
                        // Someone else rescaled: the next tick decides from the new count.
                        break;
                    }
                    scale = fresh;
                }
                Err(Error::NotLeader) => return Err(Error::NotLeader),
                Err(e) => {
                    decision.events.push(Event {
                        kind: EventType::Warning,
                        reason: "FailedRescale".into(),
                        message: format!("New size: {n}; reason: {reason}; error: {e}"),
                    });
                    decision.error = Some(e.to_string());
                    break;
                }
            }
        }
    }
    record_events(ctx, obj, &decision, now).await?;

    let kpa = driver
        .kpa
        .as_ref()
        .ok_or_else(|| Error::Api("the KPA engine did not start".into()))?;
    let new_status = kpa_status(
        obj,
        kpa,
        &decision,
        scale.spec_replicas,
        driver.last_scale_time.clone(),
        now,
    );
    let memory_stale = driver
        .last_status_write
        .is_none_or(|t| now.since(t) >= MEMORY_WRITE_INTERVAL);
    let visible_change = status::changed(
        obj.status.as_ref().map(without_memory).as_ref(),
        &without_memory(&new_status),
    );
    let status_written = if visible_change || memory_stale {
        let written = write_status(ctx, obj, new_status).await?;
        if written {
            driver.last_status_write = Some(now);
        }
        written
    } else {
        false
    };
    driver.restored = None;
    Ok(SyncReport {
        decision,
        scaled_to,
        status_written,
        requeue_after: READ_INTERVAL,
    })
}

fn without_memory(s: &AutoscalerStatus) -> AutoscalerStatus {
    AutoscalerStatus {
        kpa: None,
        ..s.clone()
    }
}

/// The status of a class-kpa Autoscaler.
fn kpa_status(
    obj: &Autoscaler,
    kpa: &Kpa,
    decision: &Decision,
    current: i32,
    last_scale_time: Option<String>,
    now: Instant,
) -> AutoscalerStatus {
    let spec = kpa.spec();
    let targets = decision.steps.iter().find_map(|s| match s {
        Step::Observed {
            metric,
            stable,
            target,
            ready,
            ..
        } => Some(format!(
            "{metric}: {:.1}/{}",
            stable / f64::from((*ready).max(1)),
            trim(*target)
        )),
        _ => None,
    });
    let old = obj.status.as_ref();
    let conditions = decision
        .conditions
        .iter()
        .map(|c| {
            let status = c.status.to_string();
            let since = old
                .and_then(|o| {
                    o.conditions
                        .iter()
                        .find(|x| x.kind == c.kind && x.status == status)
                })
                .and_then(|x| x.last_transition_time.clone())
                .unwrap_or_else(|| crate::clock::rfc3339(now));
            StatusCondition {
                kind: c.kind.clone(),
                status,
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_transition_time: Some(since),
            }
        })
        .collect();
    AutoscalerStatus {
        observed_generation: obj.metadata.generation,
        reference: Some(obj.spec.0.scale_target_ref.to_string()),
        targets: targets.or_else(|| old.and_then(|o| o.targets.clone())),
        min_pods: Some(spec.min_scale),
        max_pods: Some(spec.max_scale),
        current_replicas: current,
        desired_replicas: decision.desired_replicas,
        current_metrics: Vec::new(),
        conditions,
        last_scale_time,
        last_decision: Some(status::last_decision(decision, now)),
        history: None,
        kpa: status::kpa_memory(kpa),
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
