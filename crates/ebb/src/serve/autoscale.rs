//! The autoscaler of one app: the same engines as `ebb decide` and `ebb sim`, on tokio's clock.
//!
//! - HPA: every sync period, pods and their CPU/memory from the supervisor become an
//!   `HpaObservation`; the decision's count is written to the replicas.
//! - KPA: every second the gateway's measurement becomes a `Stat`; the decider ticks every
//!   2 s, at once when a request arrives at zero, and the reconciler runs on its own timers
//!   and whenever the ready count changes.
//! - No autoscaler: the workload's replica count, kept.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ebb_core::decision::{ConditionStatus, Decision, Step};
use ebb_core::hpa::observe::{Container, Pod, PodPhase, ReadyCondition, Scale};
use ebb_core::hpa::spec::HpaSpec;
use ebb_core::hpa::status::{describe_metrics, targets_column};
use ebb_core::hpa::{Hpa, HpaObservation, HpaSettings};
use ebb_core::kpa::{
    Kpa, KpaConfig, KpaSettings, KpaSpec, Metric, Observation, Source, Stat, TICK_INTERVAL,
    WindowValues,
};
use ebb_core::units::{Quantity, QuantityFormat};
use ebb_gateway::Wakeup;
use ebb_supervisor::ReplicaPhase;
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::app::{App, PolicyStatus};
use super::plan::PolicyPlan;

/// Runs the app's policy until `shutdown`, following reloads: a new spec of the same class is
/// handed to the running engine (its memory kept, as upstream keeps it on an edit); a new
/// class starts a new engine.
pub(crate) async fn run(
    app: Arc<App>,
    hpa_settings: HpaSettings,
    immediate_panic: bool,
    mut wakeups: mpsc::Receiver<Wakeup>,
    shutdown: CancellationToken,
) {
    let mut policy = app.policy.subscribe();
    loop {
        let current = policy.borrow_and_update().clone();
        let next = match current {
            PolicyPlan::Fixed(n) => fixed(&app, n, &mut policy, &shutdown).await,
            PolicyPlan::Hpa { name, spec } => {
                hpa(&app, name, spec, &hpa_settings, &mut policy, &shutdown).await
            }
            PolicyPlan::Kpa {
                settings, config, ..
            } => {
                let immediate = immediate_panic;
                kpa(
                    &app,
                    settings,
                    config,
                    immediate,
                    &mut wakeups,
                    &mut policy,
                    &shutdown,
                )
                .await
            }
        };
        if next == Next::Stop {
            return;
        }
    }
}

/// Why a policy loop returned.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// ebb is stopping.
    Stop,
    /// The policy changed class: start the new one.
    Restart,
}

async fn fixed(
    app: &App,
    mut n: i32,
    policy: &mut watch::Receiver<PolicyPlan>,
    shutdown: &CancellationToken,
) -> Next {
    loop {
        app.scale_to(n);
        app.state().policy = PolicyStatus {
            desired: n,
            targets: "<none>".into(),
            ..PolicyStatus::default()
        };
        tokio::select! {
            () = shutdown.cancelled() => return Next::Stop,
            changed = policy.changed() => {
                if changed.is_err() {
                    return Next::Stop;
                }
                match &*policy.borrow_and_update() {
                    PolicyPlan::Fixed(m) => n = *m,
                    _ => return Next::Restart,
                }
            }
        }
    }
}

async fn hpa(
    app: &App,
    name: String,
    spec: HpaSpec,
    settings: &HpaSettings,
    policy: &mut watch::Receiver<PolicyPlan>,
    shutdown: &CancellationToken,
) -> Next {
    let mut hpa = Hpa::new(
        format!("{}/{name}", app.plan.namespace),
        spec,
        settings.clone(),
    );
    let mut current = app.ready_count().max(app.state().policy.desired);
    if current == 0 {
        current = app.plan.workload.initial_replicas;
    }
    app.scale_to(current);
    let mut ticker = tokio::time::interval(settings.sync_period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.cancelled() => return Next::Stop,
            changed = policy.changed() => {
                if changed.is_err() {
                    return Next::Stop;
                }
                match &*policy.borrow_and_update() {
                    PolicyPlan::Hpa { spec, .. } => hpa.set_spec(spec.clone()),
                    _ => return Next::Restart,
                }
                continue;
            }
        }
        let observation = hpa_observation(app, current);
        let d = hpa.reconcile(&observation, |n| {
            app.scale_to(n);
            Ok(())
        });
        if let Some(n) = d.scale_to {
            current = n;
        }
        let status = hpa.status();
        let policy_status = PolicyStatus {
            desired: current,
            targets: targets_column(hpa.metrics(), &status.current_metrics),
            conditions: status.conditions(),
            panic: false,
            metrics: describe_metrics(hpa.metrics(), &status.current_metrics),
        };
        app.record_decision(&d, "horizontal-pod-autoscaler", policy_status, true);
    }
}

/// What a sync of the HPA reads, from the supervisor: the replicas as pods, their requests
/// from the manifest, their CPU and memory from /proc.
fn hpa_observation(app: &App, current: i32) -> HpaObservation {
    let clock = app.clock;
    let process = &app.plan.workload.process;
    let mut requests = BTreeMap::new();
    if let Some(m) = process.cpu_request_milli {
        requests.insert(
            "cpu".to_string(),
            Quantity::from_milli(m, QuantityFormat::DecimalSI),
        );
    }
    if let Some(b) = process.memory_request_bytes {
        requests.insert(
            "memory".to_string(),
            Quantity::from_units(b, QuantityFormat::BinarySI),
        );
    }
    let statuses = app.replicas.status();
    let live = statuses
        .iter()
        .filter(|s| s.phase != ReplicaPhase::Terminating)
        .count();
    let pods = statuses
        .iter()
        .map(|s| {
            let started = s.started_at.unwrap_or(s.created_at);
            Pod {
                name: s.name.clone(),
                phase: if s.pid.is_some() {
                    PodPhase::Running
                } else {
                    PodPhase::Pending
                },
                ready: Some(ReadyCondition {
                    status: if s.ready {
                        ConditionStatus::True
                    } else {
                        ConditionStatus::False
                    },
                    last_transition_time: clock.at(if s.ready {
                        s.ready_at.unwrap_or(started)
                    } else {
                        started
                    }),
                }),
                start_time: Some(clock.at(started)),
                deleting: s.phase == ReplicaPhase::Terminating,
                containers: vec![Container {
                    name: process.container.clone(),
                    requests: requests.clone(),
                    restart_always: false,
                }],
                init_containers: Vec::new(),
                pod_requests: BTreeMap::new(),
            }
        })
        .collect();
    let metrics = app
        .replicas
        .usage()
        .iter()
        .map(|u| u.to_pod_metrics(&process.container, clock.epoch))
        .collect();
    HpaObservation {
        now: clock.now(),
        scale: Ok(Scale {
            spec_replicas: current,
            status_replicas: i32::try_from(live).unwrap_or(i32::MAX),
            selector: format!("app={}", app.name()),
        }),
        pods,
        other_hpas_selecting_pods: Vec::new(),
        resource_metrics: Ok(metrics),
        pods_metrics: Vec::new(),
        object_metrics: Vec::new(),
        external_metrics: Vec::new(),
    }
}

async fn kpa(
    app: &App,
    settings: KpaSettings,
    config: KpaConfig,
    immediate_panic: bool,
    wakeups: &mut mpsc::Receiver<Wakeup>,
    policy: &mut watch::Receiver<PolicyPlan>,
    shutdown: &CancellationToken,
) -> Next {
    let clock = app.clock;
    let spec = KpaSpec::resolve(&config, &settings);
    let mut kpa = Kpa::new(spec, clock.now(), app.ready_count());
    let observe = |app: &App| Observation::ready(app.ready_count());
    // Knative reconciles a new PodAutoscaler at once: this sets the initial scale.
    let d = kpa.reconcile(clock.now(), &observe(app));
    apply_kpa(app, &kpa, &d);

    let mut observations = app.observations.clone();
    let mut statuses = app.replicas.watch();
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + TICK_INTERVAL, TICK_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut ready = app.ready_count();
    // The poke is counted once: the next per-second report leaves it out, as the activator does.
    let mut poke_debt = false;
    // ebb extension (off by default): look at the requests in flight between ticks.
    let mut between_ticks = tokio::time::interval(IMMEDIATE_PANIC_CHECK);
    between_ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        let reconcile_at = kpa
            .next_reconcile()
            .map(|t| clock.epoch + Duration::from_nanos(u64::try_from(t.as_nanos()).unwrap_or(0)));
        let due = async {
            match reconcile_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        let d = tokio::select! {
            () = shutdown.cancelled() => return Next::Stop,
            changed = policy.changed() => {
                if changed.is_err() {
                    return Next::Stop;
                }
                match &*policy.borrow_and_update() {
                    PolicyPlan::Kpa { settings, config, .. } => {
                        kpa.update_spec(clock.now(), KpaSpec::resolve(config, settings));
                        kpa.reconcile(clock.now(), &observe(app))
                    }
                    _ => return Next::Restart,
                }
            }
            Some(wakeup) = wakeups.recv() => {
                app.state().woken_at.get_or_insert(wakeup.at);
                poke_debt = true;
                if kpa.record(clock.now(), Source::Holder, &Stat::new(1.0, 1.0)) {
                    kpa.tick(clock.now(), &observe(app))
                } else {
                    continue;
                }
            }
            changed = observations.changed() => {
                if changed.is_err() {
                    return Next::Stop;
                }
                let Some(o) = observations.borrow_and_update().clone() else { continue };
                let mut stat = Stat::new(o.average_concurrency, o.arrivals_per_second);
                if std::mem::take(&mut poke_debt) {
                    stat.average_concurrency = (stat.average_concurrency - 1.0).max(0.0);
                    stat.request_count = (stat.request_count - 1.0).max(0.0);
                }
                app.state().last_observation = Some(o);
                kpa.record(clock.now(), Source::Replicas, &stat);
                continue;
            }
            _ = ticks.tick() => kpa.tick(clock.now(), &observe(app)),
            _ = between_ticks.tick(), if immediate_panic => {
                match immediate_panic_check(app, &kpa) {
                    Some(windows) => kpa.tick(clock.now(), &Observation { windows: Some(Ok(windows)), ..observe(app) }),
                    None => continue,
                }
            }
            () = due => kpa.reconcile(clock.now(), &observe(app)),
            changed = statuses.changed() => {
                if changed.is_err() {
                    return Next::Stop;
                }
                let now_ready = app.ready_count();
                if now_ready == ready {
                    continue;
                }
                ready = now_ready;
                kpa.reconcile(clock.now(), &observe(app))
            }
        };
        apply_kpa(app, &kpa, &d);
    }
}

/// How often `--kpa-immediate-panic` looks at the requests in flight.
const IMMEDIATE_PANIC_CHECK: Duration = Duration::from_millis(50);

/// `--kpa-immediate-panic`: when the requests in flight right now would put the revision in
/// panic on their own, the decider ticks at once with them as the panic window's value instead
/// of waiting up to a tick for the per-second windows. Knative has no such check; it only ever
/// raises the count early (panic never lowers it).
fn immediate_panic_check(app: &App, kpa: &Kpa) -> Option<WindowValues> {
    let spec = kpa.spec();
    let ready = app.ready_count();
    // At zero the request holder's wake-up already ticks at once; in panic there is nothing to gain.
    if spec.metric != Metric::Concurrency || ready == 0 || app.state().policy.panic {
        return None;
    }
    let in_flight = f64::from(app.gateway.as_ref()?.in_flight(app.name())?);
    let wanted = (in_flight / spec.target_value).ceil();
    if wanted / f64::from(ready) < spec.panic_threshold {
        return None;
    }
    app.event(
        "Normal",
        "ImmediatePanic",
        &format!("{in_flight} requests in flight want {wanted} pods for {ready} ready: deciding now, not at the next tick"),
        "kpa",
    );
    Some(WindowValues {
        stable: app.metrics.stable_concurrency.get(),
        panic: in_flight,
    })
}

/// Writes a KPA decision: the replica count, the metrics, the status and an event when the
/// count changes ("Scaled up from 2 to 4: concurrency 31.2/7 (panic)").
fn apply_kpa(app: &App, kpa: &Kpa, d: &Decision) {
    let mut observed = None;
    let mut panicking = false;
    let mut panic_changed = false;
    for step in &d.steps {
        match step {
            Step::Observed {
                metric,
                stable,
                panic,
                target,
                ..
            } => observed = Some((metric.clone(), *stable, *panic, *target)),
            Step::Panic { state, desired, .. } => {
                panicking = desired.is_some();
                panic_changed = state == "entered" || state == "exited";
            }
            _ => {}
        }
    }
    let previous = app.state().policy.clone();
    if let Some((metric, stable, panic, _)) = &observed {
        let (s, p) = if metric == "rps" {
            (&app.metrics.stable_rps, &app.metrics.panic_rps)
        } else {
            (
                &app.metrics.stable_concurrency,
                &app.metrics.panic_concurrency,
            )
        };
        s.set(*stable);
        p.set(*panic);
    }
    if observed.is_some() {
        app.metrics.panic_mode.set(i64::from(panicking));
    }
    let targets = match &observed {
        Some((metric, stable, _, target)) => {
            format!("{metric}: {}/{}", short(*stable), short(*target))
        }
        None if previous.targets.is_empty() => "<unknown>".to_string(),
        None => previous.targets.clone(),
    };
    let metrics = match &observed {
        Some((metric, stable, panic, target)) => vec![
            (
                format!("{metric} (stable window):"),
                format!("{} / {}", short(*stable), short(*target)),
            ),
            (
                format!("{metric} (panic window):"),
                format!("{} / {}", short(*panic), short(*target)),
            ),
        ],
        None => previous.metrics.clone(),
    };
    // The engine's count as last written: a new revision starts at its initial scale without a
    // write (Knative creates the Deployment at that size), so converge to it, not to scale_to.
    let from = previous.desired;
    let to = kpa.replicas();
    if to != from || d.scale_to.is_some() {
        app.scale_to(to);
        if to != from {
            let direction = if to > from { "up" } else { "down" };
            let why = match &observed {
                Some((metric, stable, panic, target)) => {
                    let (value, window) = if panicking {
                        (*panic, "panic")
                    } else {
                        (*stable, "stable")
                    };
                    format!(": {metric} {}/{} ({window})", short(value), short(*target))
                }
                None => String::new(),
            };
            let reason = if to > from { "ScaledUp" } else { "ScaledDown" };
            app.event(
                "Normal",
                reason,
                &format!("Scaled {direction} from {from} to {to}{why}"),
                "kpa",
            );
        }
    }
    let policy = PolicyStatus {
        desired: kpa.replicas(),
        targets,
        conditions: d.conditions.clone(),
        panic: panicking || (observed.is_none() && previous.panic),
        metrics,
    };
    let significant = to != from || panic_changed;
    app.record_decision(d, "kpa", policy, significant);
}

/// `31.2`, `7`, `0.05`.
fn short(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e12 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
