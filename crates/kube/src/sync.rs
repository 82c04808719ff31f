//! One sync of one Autoscaler: read, ask the engine, write `/scale` only when the count changes,
//! record events, write the status. The engine's memory is kept per Autoscaler between syncs
//! and restored from the status when the controller (or a new leader) first sees an object.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Duration;

use ebb_core::hpa::{Hpa, HpaSettings};
use ebb_core::kpa::{KpaConfig, KpaSpec};
use ebb_core::time::Instant;
use ebb_core::{Decision, EventType};
use ebb_manifest::kinds::autoscaler::AutoscalerClass;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as KubeEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::{Resource, ResourceExt};

use crate::api::Cluster;
use crate::clock;
use crate::crd::{Autoscaler, AutoscalerStatus};
use crate::error::{Error, Result};
use crate::gateway_stats::GatewayStats;
use crate::kpa_sync::KpaDriver;
use crate::leader::Fence;
use crate::observe::{Readings, observe};
use crate::prometheus::HttpClient;
use crate::status;

/// How often a write that conflicted is retried with a fresh read.
pub const CONFLICT_RETRIES: usize = 3;
/// Identical warnings about one Autoscaler are recorded at most this often.
const WARNING_REPEAT: Duration = Duration::from_secs(600);
/// `reportingController` of ebb's events.
pub const REPORTING_CONTROLLER: &str = "ebb.dev/controller";

/// The engine of one Autoscaler, with its memory.
#[derive(Debug, Clone)]
pub enum Engine {
    /// Class hpa.
    Hpa(Box<Hpa>),
    /// Class kpa.
    Kpa(Box<KpaDriver>),
}

/// What the controller shares between syncs.
pub struct Context {
    /// The API server.
    pub cluster: Cluster,
    /// Whether this replica may write.
    pub fence: Fence,
    /// HPA controller flags.
    pub hpa_settings: HpaSettings,
    /// Knative's cluster defaults for class kpa (its `config-autoscaler`), followed while
    /// the controller runs.
    kpa_config: RwLock<KpaConfig>,
    /// Prometheus and gateways.
    pub http: HttpClient,
    /// Where class-kpa Autoscalers get their load from.
    pub gateways: GatewayStats,
    /// This replica's name in events.
    pub identity: String,
    /// Every Autoscaler the controller watches, to notice two on one target.
    pub autoscalers: Option<kube::runtime::reflector::Store<Autoscaler>>,
    engines: Mutex<HashMap<String, Engine>>,
    warnings: Mutex<HashMap<(String, String, String), Instant>>,
}

/// What one sync did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The engine's decision, with its explanation.
    pub decision: Decision,
    /// The count written to `/scale`, if any.
    pub scaled_to: Option<i32>,
    /// Whether the status was written.
    pub status_written: bool,
    /// When to sync again.
    pub requeue_after: Duration,
}

impl Context {
    /// A context with empty memory.
    pub fn new(cluster: Cluster, fence: Fence, identity: impl Into<String>) -> Self {
        Context {
            cluster,
            fence,
            hpa_settings: HpaSettings::default(),
            kpa_config: RwLock::new(KpaConfig::default()),
            http: HttpClient::default(),
            gateways: GatewayStats::default(),
            identity: identity.into(),
            autoscalers: None,
            engines: Mutex::new(HashMap::new()),
            warnings: Mutex::new(HashMap::new()),
        }
    }

    /// Knative's cluster defaults the next class-kpa sync resolves its settings with.
    pub fn kpa_config(&self) -> KpaConfig {
        self.kpa_config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces Knative's cluster defaults; each class-kpa Autoscaler takes them at its next
    /// sync, keeping its memory (windows, scale-down delay).
    pub fn set_kpa_config(&self, config: KpaConfig) {
        *self
            .kpa_config
            .write()
            .unwrap_or_else(PoisonError::into_inner) = config;
    }

    /// Forgets every engine's memory: the next sync restores it from status. Called when the
    /// lease is lost, so a later leadership starts from what the last leader wrote.
    pub fn forget(&self) {
        if let Ok(mut engines) = self.engines.lock() {
            engines.clear();
        }
    }

    /// Forgets one Autoscaler (it was deleted).
    pub fn forget_object(&self, key: &str) {
        if let Ok(mut engines) = self.engines.lock() {
            engines.remove(key);
        }
    }

    /// Forgets the memory of Autoscalers that no longer exist (the watch has no finalizer, so
    /// a deletion is noticed here).
    pub fn retain_objects(&self, keys: &std::collections::HashSet<String>) {
        if let Ok(mut engines) = self.engines.lock() {
            engines.retain(|k, _| keys.contains(k));
        }
    }

    /// Other Autoscalers in the same namespace that scale the same target, as `ns/name (Autoscaler)`.
    fn other_autoscalers_on(&self, obj: &Autoscaler) -> Vec<String> {
        let Some(store) = &self.autoscalers else {
            return Vec::new();
        };
        let target = &obj.spec.0.scale_target_ref;
        let mut names: Vec<String> = store
            .state()
            .iter()
            .filter(|a| a.namespace() == obj.namespace() && a.uid() != obj.uid())
            .filter(|a| {
                let t = &a.spec.0.scale_target_ref;
                t.kind == target.kind && t.name == target.name
            })
            .map(|a| {
                format!(
                    "{}/{} (Autoscaler)",
                    a.namespace().unwrap_or_default(),
                    a.name_any()
                )
            })
            .collect();
        names.sort();
        names
    }

    fn take_engine(&self, key: &str) -> Option<Engine> {
        self.engines.lock().ok()?.remove(key)
    }

    fn put_engine(&self, key: String, engine: Engine) {
        if let Ok(mut engines) = self.engines.lock() {
            engines.insert(key, engine);
        }
    }

    /// Whether a warning was recorded recently (and notes it if not).
    fn repeated_warning(&self, key: &str, reason: &str, note: &str, now: Instant) -> bool {
        let Ok(mut seen) = self.warnings.lock() else {
            return false;
        };
        seen.retain(|_, at| now.since(*at) < WARNING_REPEAT);
        let k = (key.to_string(), reason.to_string(), note.to_string());
        if seen.contains_key(&k) {
            return true;
        }
        seen.insert(k, now);
        false
    }
}

/// The key of an object's memory: namespace, name and uid (a re-created object starts fresh).
pub fn key(obj: &Autoscaler) -> String {
    format!(
        "{}/{}/{}",
        obj.namespace().unwrap_or_default(),
        obj.name_any(),
        obj.uid().unwrap_or_default()
    )
}

/// One sync of `obj` at `now`.
pub async fn sync(ctx: &Context, obj: &Autoscaler, now: Instant) -> Result<SyncReport> {
    if !ctx.fence.is_leader() {
        ctx.forget();
        return Err(Error::NotLeader);
    }
    let key = key(obj);
    let spec = &obj.spec.0;
    // One read of the cluster defaults for the whole sync, which the follower may replace.
    let kpa_config = ctx.kpa_config();
    let errors = invalid_spec(obj, &kpa_config);
    if !errors.is_empty() {
        return refuse_invalid(ctx, obj, &errors, now).await;
    }
    let engine = ctx.take_engine(&key);
    let (engine, report) = match spec.class {
        AutoscalerClass::Hpa => {
            let Some(hpa_spec) = spec.hpa_spec() else {
                return Err(Error::Api(
                    "spec.maxReplicas is required for class hpa (check the object with `ebb validate`)".into(),
                ));
            };
            let mut hpa = match engine {
                Some(Engine::Hpa(mut hpa)) => {
                    if hpa.spec() != &hpa_spec {
                        hpa.set_spec(hpa_spec);
                    }
                    hpa
                }
                _ => Box::new(Hpa::with_state(
                    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any()),
                    hpa_spec,
                    ctx.hpa_settings.clone(),
                    status::hpa_state(obj.status.as_ref()),
                )),
            };
            let result = sync_hpa(ctx, obj, &mut hpa, now).await;
            (Engine::Hpa(hpa), result)
        }
        AutoscalerClass::Kpa => {
            let settings = spec.kpa.clone().unwrap_or_default();
            let kpa_spec = KpaSpec::resolve(&kpa_config, &settings);
            let mut driver = match engine {
                Some(Engine::Kpa(d)) => d,
                _ => Box::new(KpaDriver::new(kpa_spec.clone(), obj.status.as_ref())),
            };
            driver.update_spec(now, kpa_spec);
            let result = crate::kpa_sync::sync_kpa(ctx, obj, &mut driver, now).await;
            (Engine::Kpa(driver), result)
        }
    };
    match &report {
        // Nothing of a sync that lost the lease may linger: the next leader restores from status.
        Err(Error::NotLeader) => ctx.forget(),
        _ => ctx.put_engine(key, engine),
    }
    report
}

/// The errors `ebb validate` would report for the object (the API server checks only the
/// schema; the rules of the HPA and Knative webhooks are ebb's to apply).
fn invalid_spec(obj: &Autoscaler, kpa_config: &KpaConfig) -> Vec<String> {
    let manifest = ebb_manifest::Manifest::Autoscaler(ebb_manifest::kinds::meta::Object {
        api_version: ebb_manifest::kinds::autoscaler::API_VERSION.to_string(),
        kind: "Autoscaler".to_string(),
        metadata: ebb_manifest::kinds::meta::ObjectMeta {
            name: obj.name_any(),
            namespace: obj.namespace(),
            labels: obj.labels().clone(),
            annotations: obj.annotations().clone(),
        },
        spec: obj.spec.0.clone(),
    });
    // An Autoscaler: Knative's revision defaults do not apply to it.
    ebb_manifest::validate_object(
        &manifest,
        ebb_manifest::Mode::Cluster,
        kpa_config,
        &Default::default(),
    )
    .into_iter()
    .filter(|f| f.severity == ebb_manifest::Severity::Error)
    .map(|f| f.message)
    .collect()
}

/// An invalid spec: nothing is read or scaled; the status and a warning say what to fix.
async fn refuse_invalid(
    ctx: &Context,
    obj: &Autoscaler,
    errors: &[String],
    now: Instant,
) -> Result<SyncReport> {
    let message = format!(
        "the spec is invalid, nothing is scaled until it is fixed: {}",
        errors.join("; ")
    );
    let mut decision = Decision::new(
        match obj.spec.0.class {
            AutoscalerClass::Hpa => ebb_core::PolicyClass::Hpa,
            AutoscalerClass::Kpa => ebb_core::PolicyClass::Kpa,
        },
        obj.status.as_ref().map_or(0, |s| s.current_replicas),
    );
    decision.error = Some(message.clone());
    decision.events.push(ebb_core::Event {
        kind: EventType::Warning,
        reason: "InvalidSpec".into(),
        message: message.clone(),
    });
    record_events(ctx, obj, &decision, now).await?;
    let mut status = obj.status.clone().unwrap_or_default();
    status.observed_generation = obj.metadata.generation;
    status.reference = Some(obj.spec.0.scale_target_ref.to_string());
    let since = status
        .conditions
        .iter()
        .find(|c| c.kind == "ScalingActive" && c.status == "False")
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| clock::rfc3339(now));
    status.conditions.retain(|c| c.kind != "ScalingActive");
    status.conditions.push(crate::crd::StatusCondition {
        kind: "ScalingActive".into(),
        status: "False".into(),
        reason: "InvalidSpec".into(),
        message: message.clone(),
        last_transition_time: Some(since),
    });
    status.last_decision = Some(crate::crd::LastDecision {
        time: clock::rfc3339(now),
        summary: format!("invalid spec: {}", errors.join("; ")),
        explanation: format!("{message}\n"),
    });
    let status_written = write_status(ctx, obj, status).await?;
    Ok(SyncReport {
        decision,
        scaled_to: None,
        status_written,
        requeue_after: ctx.hpa_settings.sync_period,
    })
}

/// Class hpa: spec §3 with the write to `/scale` in the middle.
async fn sync_hpa(
    ctx: &Context,
    obj: &Autoscaler,
    hpa: &mut Hpa,
    now: Instant,
) -> Result<SyncReport> {
    let ns = obj.namespace().unwrap_or_default();
    let spec = &obj.spec.0;
    let target = spec.scale_target_ref.clone();
    let others = other_autoscalers(ctx, obj).await;
    let mut readings: Option<Readings> = None;
    let mut conflicts = 0;
    let (decision, scaled_to) = loop {
        let scale = ctx
            .cluster
            .get_scale(&ns, &target)
            .await
            .map_err(|e| e.to_string());
        let metrics = hpa.metrics().to_vec();
        let mut r = observe(
            ctx,
            &ns,
            &metrics,
            &spec.external_metrics,
            &scale,
            now,
            readings.take(),
        )
        .await;
        r.set_other_autoscalers(others.clone());
        let before = hpa.clone();
        let plan = hpa.plan(r.observation());
        let outcome = match plan.scale_to() {
            None => None,
            Some(_) if !others.is_empty() => Some(Err(format!(
                "refusing to scale {target}: {} also scales it; ebb does not fight another autoscaler, delete one of them",
                others.join(", ")
            ))),
            Some(n) => {
                let rv = scale.as_ref().ok().and_then(|s| s.resource_version.clone());
                match ctx
                    .cluster
                    .patch_scale(&ctx.fence, &ns, &target, n, rv.as_deref())
                    .await
                {
                    Ok(()) => Some(Ok(())),
                    Err(Error::Conflict(message)) if conflicts < CONFLICT_RETRIES => {
                        tracing::info!(namespace = %ns, autoscaler = %obj.name_any(), %message, "The target changed while scaling; reading it again.");
                        conflicts += 1;
                        *hpa = before;
                        readings = Some(r);
                        continue;
                    }
                    Err(Error::NotLeader) => {
                        *hpa = before;
                        return Err(Error::NotLeader);
                    }
                    Err(e) => Some(Err(e.to_string())),
                }
            }
        };
        let wrote = matches!(outcome, Some(Ok(())))
            .then(|| plan.scale_to())
            .flatten();
        break (hpa.commit(plan, outcome), wrote);
    };
    record_events(ctx, obj, &decision, now).await?;
    let new_status = status::from_hpa(hpa, &decision, obj.metadata.generation, now);
    let status_written = write_status(ctx, obj, new_status).await?;
    Ok(SyncReport {
        decision,
        scaled_to,
        status_written,
        requeue_after: ctx.hpa_settings.sync_period,
    })
}

/// The HorizontalPodAutoscalers and other Autoscalers that scale `obj`'s target too.
pub(crate) async fn other_autoscalers(ctx: &Context, obj: &Autoscaler) -> Vec<String> {
    let ns = obj.namespace().unwrap_or_default();
    let target = &obj.spec.0.scale_target_ref;
    let mut others: Vec<String> = match ctx.cluster.hpas_on(&ns, target).await {
        Ok(names) => names
            .into_iter()
            .map(|n| format!("{ns}/{n} (HorizontalPodAutoscaler)"))
            .collect(),
        Err(e) => {
            tracing::warn!(namespace = %ns, autoscaler = %obj.name_any(), error = %e, "Cannot check for HorizontalPodAutoscalers on the same target.");
            Vec::new()
        }
    };
    others.extend(ctx.other_autoscalers_on(obj));
    others
}

/// Records the decision's events (`SuccessfulRescale` with its reason text on every rescale;
/// a warning at most once per 10 minutes when it repeats).
pub(crate) async fn record_events(
    ctx: &Context,
    obj: &Autoscaler,
    decision: &Decision,
    now: Instant,
) -> Result<()> {
    let key = key(obj);
    for e in &decision.events {
        if e.kind == EventType::Warning && ctx.repeated_warning(&key, &e.reason, &e.message, now) {
            continue;
        }
        let event = kube_event(obj, e, &ctx.identity, now);
        match ctx.cluster.create_event(&ctx.fence, &event).await {
            Ok(()) => {}
            Err(Error::NotLeader) => return Err(Error::NotLeader),
            Err(error) => {
                tracing::warn!(autoscaler = %obj.name_any(), reason = %e.reason, %error, "Cannot record an event.")
            }
        }
    }
    Ok(())
}

/// An `events.k8s.io/v1` Event about `obj`.
pub fn kube_event(
    obj: &Autoscaler,
    e: &ebb_core::Event,
    identity: &str,
    now: Instant,
) -> KubeEvent {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let mut note = e.message.clone();
    if note.len() > 1024 {
        let mut cut = 1021;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
        note.push_str("...");
    }
    KubeEvent {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.as_nanos())),
            namespace: Some(ns.clone()),
            ..ObjectMeta::default()
        },
        event_time: Some(MicroTime(clock::to_timestamp(now))),
        reporting_controller: Some(REPORTING_CONTROLLER.to_string()),
        reporting_instance: Some(identity.to_string()),
        action: Some(
            if e.reason.contains("Rescale") {
                "Scale"
            } else {
                "Sync"
            }
            .to_string(),
        ),
        reason: Some(e.reason.clone()),
        note: Some(note),
        type_: Some(
            match e.kind {
                EventType::Normal => "Normal",
                EventType::Warning => "Warning",
            }
            .to_string(),
        ),
        regarding: Some(ObjectReference {
            api_version: Some(Autoscaler::api_version(&()).to_string()),
            kind: Some(Autoscaler::kind(&()).to_string()),
            name: Some(name),
            namespace: Some(ns),
            uid: obj.uid(),
            ..ObjectReference::default()
        }),
        ..KubeEvent::default()
    }
}

/// Writes the status when it changed, guarded by the object's resourceVersion; a conflict is
/// retried on a fresh read of the object.
pub(crate) async fn write_status(
    ctx: &Context,
    obj: &Autoscaler,
    status: AutoscalerStatus,
) -> Result<bool> {
    if !status::changed(obj.status.as_ref(), &status) {
        return Ok(false);
    }
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let mut rv = obj.resource_version();
    for attempt in 0..=CONFLICT_RETRIES {
        match ctx
            .cluster
            .patch_status(&ctx.fence, &ns, &name, rv.as_deref(), &status)
            .await
        {
            Ok(_) => return Ok(true),
            Err(Error::Conflict(message)) if attempt < CONFLICT_RETRIES => {
                tracing::info!(namespace = %ns, autoscaler = %name, %message, "The Autoscaler changed; writing its status on a fresh read.");
                rv = ctx
                    .cluster
                    .get_autoscaler(&ns, &name)
                    .await?
                    .resource_version();
            }
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
