//! One HPA and its memory: the reconcile of spec §3, with the conditions of §7 and the events
//! of §8.
//!
//! A sync has two halves because the write to `/scale` happens in between, in the driver:
//! [`Hpa::plan`] reads the observation and decides, [`Hpa::commit`] takes the outcome of the
//! write and finishes the status, the events and the scale-event history. Drivers that write
//! synchronously (the simulator, the local runtime, `ebb decide`) call [`Hpa::reconcile`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::normalize::{self, Recommendation, ScaleEvent};
use super::observe::{HpaObservation, Scale};
use super::replicas::{self, CalcContext, Tolerances};
use super::spec::{
    HpaSpec, MetricSourceType, MetricSpec, MetricTargetType, ResolvedBehavior, go_selector_string,
};
use super::status::{
    ContainerResourceMetricStatus, HpaStatus, MetricStatus, MetricValueStatus, NamedMetricStatus,
    ObjectMetricStatus, ResourceMetricStatus,
};
use crate::decision::{
    Condition, ConditionStatus, Decision, Direction, Event, EventType, PolicyClass, Step,
};
use crate::time::Instant;
use crate::units::{Quantity, QuantityFormat};

/// kube-controller-manager's HPA flags (spec §1). Defaults are upstream's production defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HpaSettings {
    /// How often each HPA is evaluated (drivers use it; the engine does not).
    #[serde(with = "crate::units::duration::as_kube")]
    pub sync_period: Duration,
    /// Band around ratio 1.0 within which nothing changes.
    pub tolerance: f64,
    /// After pod start, CPU samples are distrusted unless the pod is Ready with a fresh sample.
    #[serde(with = "crate::units::duration::as_kube")]
    pub cpu_initialization_period: Duration,
    /// After pod start, a flip to NotReady is treated as "never was ready".
    #[serde(with = "crate::units::duration::as_kube")]
    pub initial_readiness_delay: Duration,
    /// Scale-down stabilization window when `behavior` does not set one.
    #[serde(with = "crate::units::duration::as_kube")]
    pub downscale_stabilization: Duration,
    /// Legacy path: at most this factor × current per sync ...
    pub scale_up_limit_factor: f64,
    /// ... or this many replicas, whichever is larger.
    pub scale_up_limit_minimum: f64,
    /// Honour pod-level `spec.resources.requests` (feature PodLevelResources).
    pub pod_level_resources: bool,
    /// Honour `behavior.*.tolerance` (feature HPAConfigurableTolerance).
    pub configurable_tolerance: bool,
    /// Accept `minReplicas: 0` (feature HPAScaleToZero). Validation only.
    pub scale_to_zero: bool,
}

impl HpaSettings {
    /// The feature gates validation should assume with these settings.
    pub fn gates(&self) -> super::spec::Gates {
        super::spec::Gates {
            scale_to_zero: self.scale_to_zero,
            configurable_tolerance: self.configurable_tolerance,
        }
    }
}

impl Default for HpaSettings {
    fn default() -> Self {
        HpaSettings {
            sync_period: Duration::from_secs(15),
            tolerance: 0.1,
            cpu_initialization_period: Duration::from_secs(300),
            initial_readiness_delay: Duration::from_secs(30),
            downscale_stabilization: Duration::from_secs(300),
            scale_up_limit_factor: 2.0,
            scale_up_limit_minimum: 4.0,
            pod_level_resources: true,
            configurable_tolerance: true,
            scale_to_zero: true,
        }
    }
}

/// What an HPA remembers between syncs (upstream keeps this in memory; ebb can persist it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaState {
    /// Past metric proposals; `None` until the first sync records the current count.
    pub recommendations: Option<Vec<Recommendation>>,
    /// Past scale-ups (behavior path only).
    pub scale_up_events: Vec<ScaleEvent>,
    /// Past scale-downs (behavior path only).
    pub scale_down_events: Vec<ScaleEvent>,
    /// The status written at the last sync.
    pub status: HpaStatus,
}

/// One HorizontalPodAutoscaler: its spec, settings and memory.
#[derive(Debug, Clone)]
pub struct Hpa {
    name: String,
    spec: HpaSpec,
    metrics: Vec<MetricSpec>,
    behavior: Option<ResolvedBehavior>,
    settings: HpaSettings,
    state: HpaState,
}

/// The first half of a sync: what to write, and everything needed to finish.
#[derive(Debug, Clone)]
#[must_use = "a plan does nothing until it is committed with Hpa::commit"]
pub struct Plan {
    decision: Decision,
    now: Instant,
    current: i32,
    /// `Some` when the status should be written with these metrics (and this desired count).
    statuses: Option<Vec<MetricStatus>>,
    /// The count to write, with the reason text.
    write: Option<(i32, String)>,
}

impl Plan {
    /// The count the driver should write to `/scale`, if any.
    pub fn scale_to(&self) -> Option<i32> {
        self.write.as_ref().map(|(n, _)| *n)
    }
}

fn cond(
    kind: &str,
    status: ConditionStatus,
    reason: &str,
    message: impl Into<String>,
) -> Condition {
    Condition {
        kind: kind.to_string(),
        status,
        reason: reason.to_string(),
        message: message.into(),
    }
}

fn event(kind: EventType, reason: &str, message: impl Into<String>) -> Event {
    Event {
        kind,
        reason: reason.to_string(),
        message: message.into(),
    }
}

/// What a stabilization produced, for [`Hpa::record_stabilization`].
struct Stabilization {
    to: i32,
    reason: &'static str,
    message: &'static str,
    direction: Direction,
    window_seconds: u64,
}

/// A metric's proposal, or why it has none.
struct MetricOutcome {
    name: String,
    replicas: i32,
    status: MetricStatus,
    current: String,
    target: String,
    ratio: f64,
    notes: Vec<String>,
}

struct MetricFailure {
    name: String,
    reason: &'static str,
    error: String,
}

impl Hpa {
    /// A new HPA named `name` (`namespace/name`), with empty memory.
    pub fn new(name: impl Into<String>, spec: HpaSpec, settings: HpaSettings) -> Self {
        Self::with_state(name, spec, settings, HpaState::default())
    }

    /// An HPA that resumes from saved memory (a restarted controller).
    pub fn with_state(
        name: impl Into<String>,
        spec: HpaSpec,
        settings: HpaSettings,
        state: HpaState,
    ) -> Self {
        let mut hpa = Hpa {
            name: name.into(),
            spec: spec.clone(),
            metrics: Vec::new(),
            behavior: None,
            settings,
            state,
        };
        hpa.set_spec(spec);
        hpa
    }

    /// Replaces the spec (a user edit); the memory is kept, as upstream keeps it.
    pub fn set_spec(&mut self, spec: HpaSpec) {
        self.metrics = spec.metrics_or_default();
        let window =
            i32::try_from(self.settings.downscale_stabilization.as_secs()).unwrap_or(i32::MAX);
        self.behavior = spec
            .behavior
            .as_ref()
            .map(|b| ResolvedBehavior::resolve(b, window));
        self.spec = spec;
    }

    /// The spec as written.
    pub fn spec(&self) -> &HpaSpec {
        &self.spec
    }

    /// The metrics after defaulting (CPU 80% when the spec lists none).
    pub fn metrics(&self) -> &[MetricSpec] {
        &self.metrics
    }

    /// The behavior after defaulting, or `None` for the legacy path.
    pub fn behavior(&self) -> Option<&ResolvedBehavior> {
        self.behavior.as_ref()
    }

    /// The settings.
    pub fn settings(&self) -> &HpaSettings {
        &self.settings
    }

    /// The memory (for persisting it).
    pub fn state(&self) -> &HpaState {
        &self.state
    }

    /// The status as of the last sync.
    pub fn status(&self) -> &HpaStatus {
        &self.state.status
    }

    /// A whole sync for drivers that write synchronously: `write` is called with the new count
    /// when the HPA rescales, and its outcome finishes the sync.
    pub fn reconcile(
        &mut self,
        obs: &HpaObservation,
        write: impl FnOnce(i32) -> Result<(), String>,
    ) -> Decision {
        let plan = self.plan(obs);
        let outcome = plan.scale_to().map(write);
        self.commit(plan, outcome)
    }

    fn set(&mut self, c: Condition, now: Instant) {
        self.state.status.set_condition(c, now);
    }

    fn tolerances(&self) -> Tolerances {
        let mut t = Tolerances {
            down: self.settings.tolerance,
            up: self.settings.tolerance,
        };
        if self.settings.configurable_tolerance
            && let Some(b) = &self.behavior
        {
            t.down = b.scale_down.tolerance.unwrap_or(t.down);
            t.up = b.scale_up.tolerance.unwrap_or(t.up);
        }
        t
    }

    fn reference(&self) -> String {
        format!(
            "{}/{}",
            self.spec.scale_target_ref.kind, self.spec.scale_target_ref.name
        )
    }

    /// The first half of a sync (spec §3 up to the write).
    pub fn plan(&mut self, obs: &HpaObservation) -> Plan {
        let now = obs.now;
        let scale = match &obs.scale {
            Ok(scale) => scale.clone(),
            Err(error) => {
                let mut d = Decision::new(PolicyClass::Hpa, self.state.status.current_replicas);
                d.desired_replicas = self.state.status.desired_replicas;
                self.set(
                    cond("AbleToScale", ConditionStatus::False, "FailedGetScale", format!("the HPA controller was unable to get the target's current scale: {error}")),
                    now,
                );
                d.events
                    .push(event(EventType::Warning, "FailedGetScale", error.clone()));
                d.steps.push(Step::ScaleReadFailed {
                    error: error.clone(),
                });
                d.error = Some(format!(
                    "failed to query scale subresource for {}: {error}",
                    self.reference()
                ));
                return Plan {
                    decision: d,
                    now,
                    current: self.state.status.current_replicas,
                    statuses: None,
                    write: None,
                };
            }
        };
        self.set(
            cond(
                "AbleToScale",
                ConditionStatus::True,
                "SucceededGetScale",
                "the HPA controller was able to get the target's current scale",
            ),
            now,
        );

        let current = scale.spec_replicas;
        let mut d = Decision::new(PolicyClass::Hpa, current);
        d.steps.push(Step::ScaleRead {
            spec_replicas: current,
            status_replicas: scale.status_replicas,
        });
        self.state.recommendations.get_or_insert_with(|| {
            vec![Recommendation {
                replicas: current,
                at: now,
            }]
        });

        let min = self.spec.min();
        let max = self.spec.max_replicas;
        let mut statuses = Vec::new();
        let (desired, reason, rescale) = if current == 0 && min != 0 {
            self.set(
                cond(
                    "ScalingActive",
                    ConditionStatus::False,
                    "ScalingDisabled",
                    "scaling is disabled since the replica count of the target is zero",
                ),
                now,
            );
            d.steps.push(Step::ScalingDisabled);
            (0, String::new(), false)
        } else if current > max || current < min {
            let (to, reason) = if current > max {
                (max, "Current number of replicas above Spec.MaxReplicas")
            } else {
                (min, "Current number of replicas below Spec.MinReplicas")
            };
            d.steps.push(Step::OutOfRange {
                current,
                to,
                reason: reason.to_string(),
            });
            (to, reason.to_string(), true)
        } else {
            match self.compute_replicas_for_metrics(obs, &scale, &mut d) {
                Err((error, metric_statuses)) => {
                    d.events.push(event(
                        EventType::Warning,
                        "FailedComputeMetricsReplicas",
                        error.clone(),
                    ));
                    d.error = Some(format!(
                        "failed to compute desired number of replicas based on listed metrics for {}: {error}",
                        self.reference()
                    ));
                    d.desired_replicas = self.state.status.desired_replicas;
                    return Plan {
                        decision: d,
                        now,
                        current,
                        statuses: Some(metric_statuses),
                        write: None,
                    };
                }
                Ok((proposal, metric, metric_statuses, partial_error)) => {
                    statuses = metric_statuses;
                    d.error = partial_error;
                    let (desired, rescale_metric) = if proposal > 0 {
                        (proposal, metric)
                    } else {
                        (0, String::new())
                    };
                    let reason = if desired > current {
                        format!("{rescale_metric} above target")
                    } else if desired < current {
                        "All metrics below target".to_string()
                    } else {
                        String::new()
                    };
                    let desired = match self.behavior.clone() {
                        None => self.normalize_legacy(current, desired, min, now, &mut d),
                        Some(b) => {
                            self.normalize_with_behavior(&b, current, desired, min, now, &mut d)
                        }
                    };
                    (desired, reason, desired != current)
                }
            }
        };
        let write = rescale.then_some((desired, reason));
        d.desired_replicas = if rescale { desired } else { current };
        Plan {
            decision: d,
            now,
            current,
            statuses: Some(statuses),
            write,
        }
    }

    /// The second half of a sync: `outcome` is the result of writing [`Plan::scale_to`]
    /// (`None` when there was nothing to write).
    pub fn commit(&mut self, plan: Plan, outcome: Option<Result<(), String>>) -> Decision {
        let Plan {
            mut decision,
            now,
            current,
            statuses,
            write,
        } = plan;
        let Some(statuses) = statuses else {
            // The scale could not be read: only the condition changes.
            decision.conditions = self.state.status.conditions();
            return decision;
        };
        match (write, outcome) {
            (Some((desired, reason)), Some(Err(error))) => {
                decision.events.push(event(
                    EventType::Warning,
                    "FailedRescale",
                    format!("New size: {desired}; reason: {reason}; error: {error}"),
                ));
                self.set(
                    cond(
                        "AbleToScale",
                        ConditionStatus::False,
                        "FailedUpdateScale",
                        format!(
                            "the HPA controller was unable to update the target scale: {error}"
                        ),
                    ),
                    now,
                );
                decision.steps.push(Step::RescaleFailed {
                    to: desired,
                    error: error.clone(),
                });
                decision.error = Some(format!("failed to rescale {}: {error}", self.reference()));
                decision.scale_to = Some(desired);
                decision.reason = Some(reason);
                decision.desired_replicas = self.state.status.desired_replicas;
                self.write_status(current, self.state.status.desired_replicas, statuses, None);
            }
            (Some((desired, reason)), _) => {
                self.set(
                    cond(
                        "AbleToScale",
                        ConditionStatus::True,
                        "SucceededRescale",
                        format!(
                            "the HPA controller was able to update the target scale to {desired}"
                        ),
                    ),
                    now,
                );
                decision.events.push(event(
                    EventType::Normal,
                    "SuccessfulRescale",
                    format!("New size: {desired}; reason: {reason}"),
                ));
                if let Some(b) = &self.behavior {
                    let (up, down) = (
                        &mut self.state.scale_up_events,
                        &mut self.state.scale_down_events,
                    );
                    normalize::record_scale_event(b, up, down, current, desired, now);
                }
                decision.steps.push(Step::Rescale {
                    from: current,
                    to: desired,
                    reason: reason.clone(),
                });
                decision.scale_to = Some(desired);
                decision.reason = Some(reason);
                self.write_status(current, desired, statuses, Some(now));
            }
            (None, _) => {
                let desired = if decision.error.is_some() && decision.desired_replicas != current {
                    // Metrics failed: the previous desired count is kept.
                    decision.desired_replicas
                } else {
                    current
                };
                self.write_status(current, desired, statuses, None);
            }
        }
        decision.conditions = self.state.status.conditions();
        decision
    }

    fn write_status(
        &mut self,
        current: i32,
        desired: i32,
        metrics: Vec<MetricStatus>,
        scaled_at: Option<Instant>,
    ) {
        let status = &mut self.state.status;
        status.current_replicas = current;
        status.desired_replicas = desired;
        status.current_metrics = metrics;
        if scaled_at.is_some() {
            status.last_scale_time = scaled_at;
        }
    }

    /// Spec §3.1: the largest proposal over all metrics, with the invalid-metric rules.
    #[allow(clippy::type_complexity)]
    fn compute_replicas_for_metrics(
        &mut self,
        obs: &HpaObservation,
        scale: &Scale,
        d: &mut Decision,
    ) -> Result<(i32, String, Vec<MetricStatus>, Option<String>), (String, Vec<MetricStatus>)> {
        let now = obs.now;
        if let Err((event_reason, message)) = check_selector(&scale.selector) {
            let condition_message = if event_reason == "SelectorRequired" {
                "the HPA target's scale is missing a selector".to_string()
            } else {
                message.clone()
            };
            d.events
                .push(event(EventType::Warning, event_reason, message.clone()));
            self.set(
                cond(
                    "ScalingActive",
                    ConditionStatus::False,
                    "InvalidSelector",
                    condition_message,
                ),
                now,
            );
            return Err((message, Vec::new()));
        }
        if !obs.other_hpas_selecting_pods.is_empty() {
            let mut hpas = vec![self.name.clone()];
            hpas.extend(obs.other_hpas_selecting_pods.iter().cloned());
            hpas.sort();
            let message = format!(
                "pods by selector {} are controlled by multiple HPAs: [{}]",
                scale.selector,
                hpas.join(" ")
            );
            d.events.push(event(
                EventType::Warning,
                "AmbiguousSelector",
                message.clone(),
            ));
            self.set(
                cond(
                    "ScalingActive",
                    ConditionStatus::False,
                    "AmbiguousSelector",
                    message.clone(),
                ),
                now,
            );
            return Err((message, Vec::new()));
        }

        let ctx = CalcContext {
            pods: &obs.pods,
            now,
            tolerances: self.tolerances(),
            cpu_initialization_period: self.settings.cpu_initialization_period,
            initial_readiness_delay: self.settings.initial_readiness_delay,
            pod_level_resources: self.settings.pod_level_resources,
        };
        let total = self.metrics.len();
        let mut statuses = vec![MetricStatus::default(); total];
        let mut replicas = 0;
        let mut metric = String::new();
        let mut invalid = 0;
        let mut first_failure: Option<(Condition, String)> = None;
        for (i, spec) in self.metrics.iter().enumerate() {
            match compute_metric(&ctx, spec, scale, obs) {
                Ok(m) => {
                    d.steps.push(Step::Metric {
                        metric: m.name.clone(),
                        current: m.current,
                        target: m.target,
                        ratio: m.ratio,
                        replicas: m.replicas,
                        notes: m.notes,
                    });
                    if replicas == 0 || m.replicas > replicas {
                        replicas = m.replicas;
                        metric = m.name;
                    }
                    statuses[i] = m.status;
                }
                Err(f) => {
                    d.events
                        .push(event(EventType::Warning, f.reason, f.error.clone()));
                    d.steps.push(Step::MetricFailed {
                        metric: f.name,
                        reason: f.reason.to_string(),
                        error: f.error.clone(),
                    });
                    if invalid == 0 {
                        let c = cond(
                            "ScalingActive",
                            ConditionStatus::False,
                            f.reason,
                            format!(
                                "the HPA was unable to compute the replica count: {}",
                                f.error
                            ),
                        );
                        first_failure = Some((c, f.error));
                    }
                    invalid += 1;
                }
            }
        }
        let invalid_error = first_failure.as_ref().map(|(_, e)| {
            format!("invalid metrics ({invalid} invalid out of {total}), first error is: {e}")
        });
        if let Some((condition, first_error)) = first_failure
            && (invalid >= total || replicas < scale.spec_replicas)
        {
            self.set(condition, now);
            d.steps.push(Step::MetricsInvalid {
                invalid,
                total,
                error: first_error,
            });
            return Err((invalid_error.unwrap_or_default(), statuses));
        }
        self.set(
            cond(
                "ScalingActive",
                ConditionStatus::True,
                "ValidMetricFound",
                format!("the HPA was able to successfully calculate a replica count from {metric}"),
            ),
            now,
        );
        d.steps.push(Step::Combined {
            replicas,
            metric: metric.clone(),
            invalid,
            total,
        });
        Ok((replicas, metric, statuses, invalid_error))
    }

    /// Spec §5.
    fn normalize_legacy(
        &mut self,
        current: i32,
        proposal: i32,
        min: i32,
        now: Instant,
        d: &mut Decision,
    ) -> i32 {
        let history = self.state.recommendations.get_or_insert_with(Vec::new);
        let window = self.settings.downscale_stabilization;
        let stabilized = normalize::stabilize_legacy(history, proposal, window, now);
        self.record_stabilization(
            d,
            proposal,
            Stabilization {
                to: stabilized,
                reason: "ScaleDownStabilized",
                message: "recent recommendations were higher than current one, applying the highest recent recommendation",
                direction: Direction::Down,
                window_seconds: window.as_secs(),
            },
            now,
        );
        let s = &self.settings;
        let o = normalize::clamp_legacy(
            current,
            stabilized,
            min,
            self.spec.max_replicas,
            s.scale_up_limit_factor,
            s.scale_up_limit_minimum,
        );
        self.finish_limit(o, stabilized, now, d)
    }

    /// Spec §6.
    fn normalize_with_behavior(
        &mut self,
        b: &ResolvedBehavior,
        current: i32,
        proposal: i32,
        min: i32,
        now: Instant,
        d: &mut Decision,
    ) -> i32 {
        let history = self.state.recommendations.get_or_insert_with(Vec::new);
        let s = normalize::stabilize_with_behavior(history, proposal, current, b, now);
        let (direction, window) = if s.reason == "ScaleUpStabilized" {
            (Direction::Up, b.scale_up.stabilization_window_seconds)
        } else {
            (Direction::Down, b.scale_down.stabilization_window_seconds)
        };
        self.record_stabilization(
            d,
            proposal,
            Stabilization {
                to: s.replicas,
                reason: s.reason,
                message: s.message,
                direction,
                window_seconds: u64::try_from(window).unwrap_or(0),
            },
            now,
        );
        let o = normalize::rate_limit(
            current,
            s.replicas,
            (min, self.spec.max_replicas),
            b,
            &self.state.scale_up_events,
            &self.state.scale_down_events,
            now,
        );
        self.finish_limit(o, s.replicas, now, d)
    }

    /// AbleToScale after stabilization (spec §5.1, §6.1), and the step when it held back.
    fn record_stabilization(
        &mut self,
        d: &mut Decision,
        from: i32,
        s: Stabilization,
        now: Instant,
    ) {
        if s.to == from {
            let message = "recommended size matches current size";
            self.set(
                cond(
                    "AbleToScale",
                    ConditionStatus::True,
                    "ReadyForNewScale",
                    message,
                ),
                now,
            );
            return;
        }
        self.set(
            cond("AbleToScale", ConditionStatus::True, s.reason, s.message),
            now,
        );
        d.steps.push(Step::Stabilized {
            direction: s.direction,
            window_seconds: s.window_seconds,
            from,
            to: s.to,
        });
    }

    fn finish_limit(
        &mut self,
        o: normalize::Outcome,
        before: i32,
        now: Instant,
        d: &mut Decision,
    ) -> i32 {
        let status = if o.replicas == before {
            ConditionStatus::False
        } else {
            ConditionStatus::True
        };
        self.set(cond("ScalingLimited", status, o.reason, o.message), now);
        if o.replicas != before {
            d.steps.push(Step::Limited {
                reason: o.reason.to_string(),
                rule: o.rule,
                from: before,
                to: o.replicas,
            });
        }
        o.replicas
    }
}

/// Spec §3.1 step 1: a selector is required and must parse. Returns the event reason and message.
fn check_selector(selector: &str) -> Result<(), (&'static str, String)> {
    if selector.trim().is_empty() {
        return Err(("SelectorRequired", "selector is required".to_string()));
    }
    match parse_selector(selector) {
        Ok(()) => Ok(()),
        Err(e) => Err((
            "InvalidSelector",
            format!("couldn't convert selector into a corresponding internal selector object: {e}"),
        )),
    }
}

/// Checks the Kubernetes label selector string syntax: `a=b,c!=d,e in (f,g),!h,i`.
fn parse_selector(selector: &str) -> Result<(), String> {
    let mut depth = 0;
    let mut terms = Vec::new();
    let mut start = 0;
    for (i, ch) in selector.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' if depth == 0 => return Err(format!("unexpected ')' in {selector:?}")),
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unclosed '(' in {selector:?}"));
    }
    terms.push(&selector[start..]);
    let valid_key = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    };
    for term in terms {
        let t = term.trim();
        let ok = if let Some(key) = t.strip_prefix('!') {
            valid_key(key.trim())
        } else if let Some((k, _)) = t.split_once("!=") {
            valid_key(k.trim())
        } else if let Some((k, _)) = t.split_once("==").or_else(|| t.split_once('=')) {
            valid_key(k.trim())
        } else if let Some((k, rest)) = t.split_once(" in ").or_else(|| t.split_once(" notin ")) {
            valid_key(k.trim()) && rest.trim().starts_with('(') && rest.trim().ends_with(')')
        } else {
            valid_key(t)
        };
        if !ok {
            return Err(format!("invalid selector term {t:?}"));
        }
    }
    Ok(())
}

fn milli(v: i64) -> Quantity {
    Quantity::from_milli(v, QuantityFormat::DecimalSI)
}

/// Spec §4: one metric's proposal.
fn compute_metric(
    ctx: &CalcContext<'_>,
    spec: &MetricSpec,
    scale: &Scale,
    obs: &HpaObservation,
) -> Result<MetricOutcome, MetricFailure> {
    let current = scale.spec_replicas;
    let invalid = |name: String, error: String| MetricFailure {
        name,
        reason: "InvalidMetricSourceType",
        error,
    };
    match spec.kind {
        MetricSourceType::Resource | MetricSourceType::ContainerResource => {
            let (resource, container, target, reason) = match spec.kind {
                MetricSourceType::Resource => match &spec.resource {
                    Some(r) => (&r.name, None, &r.target, "FailedGetResourceMetric"),
                    None => return Err(invalid("resource metric".into(), "invalid resource metric source: the resource field is not set".into())),
                },
                _ => match &spec.container_resource {
                    Some(r) => (&r.name, Some(r.container.as_str()), &r.target, "FailedGetContainerResourceMetric"),
                    None => return Err(invalid("container resource metric".into(), "invalid container resource metric source: the containerResource field is not set".into())),
                },
            };
            let wrap = |name: String, error: String| MetricFailure {
                name,
                reason,
                error,
            };
            let container_word = if container.is_some() {
                " container"
            } else {
                ""
            };
            if let Some(avg) = &target.average_value {
                let name = format!("{resource} resource");
                let samples = replicas::resource_samples(&obs.resource_metrics, resource, container)
                    .map_err(|e| wrap(name.clone(), format!("failed to get {resource} usage: unable to get metrics for resource {resource}: {e}")))?;
                let p = replicas::plain_replicas(
                    ctx,
                    samples,
                    current,
                    avg.milli_value(),
                    Some(resource),
                )
                .map_err(|e| wrap(name.clone(), format!("failed to get {resource} usage: {e}")))?;
                let value = MetricValueStatus {
                    average_value: Some(milli(p.usage)),
                    ..Default::default()
                };
                return Ok(MetricOutcome {
                    name,
                    replicas: p.replicas,
                    status: resource_status(spec.kind, resource, container, value),
                    current: milli(p.usage).to_string(),
                    target: avg.to_string(),
                    ratio: p.ratio,
                    notes: p.notes,
                });
            }
            let name =
                format!("{resource}{container_word} resource utilization (percentage of request)");
            let Some(target_util) = target.average_utilization else {
                return Err(wrap(name, "invalid resource metric source: neither a utilization target nor a value target was set".into()));
            };
            let p = replicas::utilization_replicas(
                ctx,
                current,
                target_util,
                resource,
                container,
                &obs.resource_metrics,
            )
            .map_err(|e| {
                wrap(
                    name.clone(),
                    format!("failed to get {resource} utilization: {e}"),
                )
            })?;
            let value = MetricValueStatus {
                average_value: Some(milli(p.raw_average)),
                average_utilization: Some(p.utilization),
                value: None,
            };
            Ok(MetricOutcome {
                name,
                replicas: p.replicas,
                status: resource_status(spec.kind, resource, container, value),
                current: format!("{}%", p.utilization),
                target: format!("{target_util}%"),
                ratio: p.ratio,
                notes: p.notes,
            })
        }
        MetricSourceType::Pods => {
            let Some(s) = &spec.pods else {
                return Err(invalid(
                    "pods metric".into(),
                    "invalid pods metric source: the pods field is not set".into(),
                ));
            };
            let name = format!("pods metric {}", s.metric.name);
            let fail = |error: String| MetricFailure {
                name: name.clone(),
                reason: "FailedGetPodsMetric",
                error,
            };
            let Some(target) = &s.target.average_value else {
                return Err(fail(
                    "failed to get pods metric value: the target has no averageValue".into(),
                ));
            };
            let reading = obs.pods_metrics.iter().find(|r| r.metric == s.metric.name);
            let samples = replicas::pods_metric_samples(reading, &s.metric.name)
                .map_err(|e| fail(format!("failed to get pods metric value: {e}")))?;
            let p = replicas::plain_replicas(ctx, samples, current, target.milli_value(), None)
                .map_err(|e| fail(format!("failed to get pods metric value: {e}")))?;
            Ok(MetricOutcome {
                name: name.clone(),
                replicas: p.replicas,
                status: MetricStatus {
                    kind: Some(MetricSourceType::Pods),
                    pods: Some(NamedMetricStatus {
                        metric: s.metric.clone(),
                        current: MetricValueStatus {
                            average_value: Some(milli(p.usage)),
                            ..Default::default()
                        },
                    }),
                    ..Default::default()
                },
                current: milli(p.usage).to_string(),
                target: target.to_string(),
                ratio: p.ratio,
                notes: p.notes,
            })
        }
        MetricSourceType::Object => {
            let Some(s) = &spec.object else {
                return Err(invalid(
                    "object metric".into(),
                    "invalid object metric source: the object field is not set".into(),
                ));
            };
            // Upstream picks the variant by target type *and* the matching field.
            let value_target = s
                .target
                .value
                .as_ref()
                .filter(|_| s.target.kind == MetricTargetType::Value);
            let average_target = s
                .target
                .average_value
                .as_ref()
                .filter(|_| s.target.kind == MetricTargetType::AverageValue);
            // Upstream quirk: the per-pod Object variant is named like an external metric.
            let name = if value_target.is_some() {
                format!("{} metric {}", s.described_object.kind, s.metric.name)
            } else {
                format!(
                    "external metric {}({})",
                    s.metric.name,
                    go_selector_string(s.metric.selector.as_ref())
                )
            };
            let fail = |error: String| MetricFailure {
                name: name.clone(),
                reason: "FailedGetObjectMetric",
                error,
            };
            if value_target.is_none() && average_target.is_none() {
                return Err(fail("invalid object metric source: neither a value target nor an average value target was set".into()));
            }
            let obj = &s.described_object;
            let usage = obs
                .object_metrics
                .iter()
                .find(|r| {
                    r.metric == s.metric.name
                        && r.object.kind == obj.kind
                        && r.object.name == obj.name
                })
                .map_or_else(
                    || Err("no value returned from custom metrics API".to_string()),
                    |r| r.value.clone(),
                )
                .map_err(|e| {
                    fail(format!(
                        "failed to get object metric value: unable to get metric {}: {} {}: {e}",
                        s.metric.name, obj.kind, obj.name
                    ))
                })?
                .milli_value();
            let (p, target_text, value) = match (value_target, average_target) {
                (Some(target), _) => {
                    let p = replicas::value_replicas(ctx, current, usage, target.milli_value()).map_err(fail)?;
                    let value = MetricValueStatus { value: Some(milli(p.usage)), ..Default::default() };
                    (p, target.to_string(), value)
                }
                (None, Some(target)) => {
                    let p = replicas::average_value_replicas(ctx.tolerances, scale.status_replicas, usage, target.milli_value());
                    let value = MetricValueStatus { average_value: Some(milli(p.usage)), ..Default::default() };
                    (p, format!("{target} (avg)"), value)
                }
                (None, None) => return Err(fail("invalid object metric source: neither a value target nor an average value target was set".into())),
            };
            Ok(MetricOutcome {
                name: name.clone(),
                replicas: p.replicas,
                current: value_text(&value),
                status: MetricStatus {
                    kind: Some(MetricSourceType::Object),
                    object: Some(ObjectMetricStatus {
                        metric: s.metric.clone(),
                        current: value,
                        described_object: obj.clone(),
                    }),
                    ..Default::default()
                },
                target: target_text,
                ratio: p.ratio,
                notes: p.notes,
            })
        }
        MetricSourceType::External => {
            let Some(s) = &spec.external else {
                return Err(invalid(
                    "external metric".into(),
                    "invalid external metric source: the external field is not set".into(),
                ));
            };
            let selector = go_selector_string(s.metric.selector.as_ref());
            let name = format!("external metric {}({selector})", s.metric.name);
            let fail = |error: String| MetricFailure {
                name: name.clone(),
                reason: "FailedGetExternalMetric",
                error,
            };
            let values = obs
                .external_metrics
                .iter()
                .find(|r| r.metric == s.metric.name)
                .map_or_else(|| Ok(Vec::new()), |r| r.values.clone())
                .map_err(|e| fail(format!("failed to get external metric value: unable to get external metric {}/{selector}: {e}", s.metric.name)))?;
            if values.is_empty() {
                return Err(fail(format!(
                    "failed to get external metric value: unable to get external metric {}/{selector}: no metrics returned from external metrics API",
                    s.metric.name
                )));
            }
            let usage = values
                .iter()
                .fold(0_i64, |sum, v| sum.saturating_add(v.milli_value()));
            let (p, target_text, value) = match (&s.target.average_value, &s.target.value) {
                (Some(target), _) => {
                    let p = replicas::average_value_replicas(
                        ctx.tolerances,
                        scale.status_replicas,
                        usage,
                        target.milli_value(),
                    );
                    let value = MetricValueStatus {
                        average_value: Some(milli(p.usage)),
                        ..Default::default()
                    };
                    (p, format!("{target} (avg)"), value)
                }
                (None, Some(target)) => {
                    let p = replicas::value_replicas(ctx, current, usage, target.milli_value())
                        .map_err(fail)?;
                    let value = MetricValueStatus {
                        value: Some(milli(p.usage)),
                        ..Default::default()
                    };
                    (p, target.to_string(), value)
                }
                (None, None) => {
                    return Err(invalid(name, "invalid external metric source: neither a value target nor an average value target was set".into()));
                }
            };
            Ok(MetricOutcome {
                name: name.clone(),
                replicas: p.replicas,
                current: value_text(&value),
                status: MetricStatus {
                    kind: Some(MetricSourceType::External),
                    external: Some(NamedMetricStatus {
                        metric: s.metric.clone(),
                        current: value,
                    }),
                    ..Default::default()
                },
                target: target_text,
                ratio: p.ratio,
                notes: p.notes,
            })
        }
    }
}

fn value_text(v: &MetricValueStatus) -> String {
    v.value
        .as_ref()
        .or(v.average_value.as_ref())
        .map_or_else(|| "<unknown>".to_string(), ToString::to_string)
}

fn resource_status(
    kind: MetricSourceType,
    name: &str,
    container: Option<&str>,
    current: MetricValueStatus,
) -> MetricStatus {
    match container {
        Some(c) if kind == MetricSourceType::ContainerResource => MetricStatus {
            kind: Some(kind),
            container_resource: Some(ContainerResourceMetricStatus {
                name: name.to_string(),
                container: c.to_string(),
                current,
            }),
            ..Default::default()
        },
        _ => MetricStatus {
            kind: Some(MetricSourceType::Resource),
            resource: Some(ResourceMetricStatus {
                name: name.to_string(),
                current,
            }),
            ..Default::default()
        },
    }
}
