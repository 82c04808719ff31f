//! HPA scenarios for `ebb decide`: one sync of a HorizontalPodAutoscaler.
//!
//! The scenario holds the HPA exactly as users apply it, the target's scale, its pods (with
//! requests and usage), metric values, failures of any source, the HPA's memory and the
//! controller's flags. Every time is an age relative to "now", so a file means the same thing
//! whenever it runs. Format and examples: `docs/decide.md`.

use std::collections::BTreeMap;
use std::time::Duration;

use ebb_core::decision::{ConditionStatus, Decision, Step};
use ebb_core::hpa::normalize::{Recommendation, ScaleEvent};
use ebb_core::hpa::observe::{
    Container, ContainerUsage, ExternalMetricReading, ObjectMetricReading, Pod, PodMetricValue,
    PodPhase, PodResourceMetrics, PodsMetricReading, ReadyCondition, Scale,
};
use ebb_core::hpa::spec::{CrossVersionObjectReference, HpaSpec, HpaSpecV1};
use ebb_core::hpa::status::targets_column;
use ebb_core::hpa::{Hpa, HpaObservation, HpaSettings, HpaState};
use ebb_core::{Instant, KubeDuration, Quantity};
use ebb_manifest::kinds::autoscaler::AutoscalerSpec;
use serde::Deserialize;
use serde_json::json;

use super::Report;
use crate::cmd::UserError;
use crate::table::Table;

/// The scenario, generic over the HPA's spec version.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Scenario<S> {
    autoscaler: HpaObject<S>,
    target: Target,
    #[serde(default)]
    pods: Vec<PodTemplate>,
    #[serde(default)]
    metrics: Metrics,
    #[serde(default)]
    failures: Failures,
    #[serde(default)]
    history: History,
    #[serde(default)]
    controller: HpaSettings,
    /// Other HPAs whose selectors match these pods (upstream refuses to act: AmbiguousSelector).
    #[serde(default)]
    other_hpas: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HpaObject<S> {
    #[serde(default)]
    metadata: Metadata,
    spec: S,
}

#[derive(Deserialize, Default)]
struct Metadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Target {
    /// `spec.replicas` of the scale: what the HPA calls current.
    replicas: i32,
    /// `status.replicas`; defaults to `replicas`.
    status_replicas: Option<i32>,
    /// `status.selector`; defaults to `app=<target name>`.
    selector: Option<String>,
}

/// A pod, or `count` identical pods.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PodTemplate {
    name: Option<String>,
    #[serde(default = "one")]
    count: usize,
    #[serde(default = "running")]
    phase: PodPhase,
    /// `true` (default), `false`, `{status, since}`, or `null` for a pod without the condition.
    #[serde(default = "ready_by_default")]
    ready: Option<Readiness>,
    /// Age of the pod; defaults to 10m (past the CPU initialization period).
    started: Option<KubeDuration>,
    #[serde(default)]
    deleting: bool,
    /// Shorthand for one container named `app`.
    #[serde(default)]
    requests: BTreeMap<String, Quantity>,
    #[serde(default)]
    containers: Vec<ContainerTemplate>,
    #[serde(default)]
    init_containers: Vec<ContainerTemplate>,
    /// Pod-level `spec.resources.requests`.
    #[serde(default)]
    pod_requests: BTreeMap<String, Quantity>,
    /// Resource usage of the first container: a quantity, or a percent of its request (`90%`).
    #[serde(default)]
    usage: BTreeMap<String, Usage>,
    /// Age and window of the resource metrics sample.
    #[serde(default)]
    sample: SampleTiming,
    /// Values of Pods (custom) metrics for this pod.
    #[serde(default)]
    custom: BTreeMap<String, Quantity>,
}

fn one() -> usize {
    1
}

fn running() -> PodPhase {
    PodPhase::Running
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ContainerTemplate {
    name: String,
    #[serde(default)]
    requests: BTreeMap<String, Quantity>,
    #[serde(default)]
    usage: BTreeMap<String, Usage>,
    /// `restartPolicy: Always` on an init container makes it a sidecar.
    restart_policy: Option<String>,
}

/// `ready: true`, `ready: false`, or `ready: {status: "False", since: 20s}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Readiness {
    Flag(bool),
    Condition {
        status: ConditionStatus,
        since: Option<KubeDuration>,
    },
}

fn ready_by_default() -> Option<Readiness> {
    Some(Readiness::Flag(true))
}

/// `180m`, `1Gi`, or `90%` of the request.
#[derive(Clone)]
enum Usage {
    Quantity(Quantity),
    PercentOfRequest(f64),
}

impl<'de> Deserialize<'de> for Usage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(f64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(s) => match s.strip_suffix('%') {
                Some(p) => p
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|p| p.is_finite() && *p >= 0.0)
                    .map(Usage::PercentOfRequest)
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!("invalid percent {s:?}: write 90%"))
                    }),
                None => s
                    .parse()
                    .map(Usage::Quantity)
                    .map_err(serde::de::Error::custom),
            },
            Raw::Number(n) => n
                .to_string()
                .parse()
                .map(Usage::Quantity)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SampleTiming {
    /// How old the sample is (default 0s).
    age: Option<KubeDuration>,
    /// Its window (default 30s).
    window: Option<KubeDuration>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Metrics {
    #[serde(default)]
    object: Vec<ObjectValue>,
    #[serde(default)]
    external: Vec<ExternalValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ObjectValue {
    metric: String,
    object: CrossVersionObjectReference,
    value: Quantity,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExternalValue {
    metric: String,
    values: Vec<Quantity>,
}

/// Sources that answer with an error.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Failures {
    /// Reading `/scale` fails.
    get_scale: Option<String>,
    /// Writing `/scale` fails.
    update_scale: Option<String>,
    /// `metrics.k8s.io` fails.
    resource_metrics: Option<String>,
    /// Custom or external metrics by name.
    #[serde(default)]
    metrics: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct History {
    recommendations: Option<Vec<PastRecommendation>>,
    #[serde(default)]
    scale_up_events: Vec<PastEvent>,
    #[serde(default)]
    scale_down_events: Vec<PastEvent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PastRecommendation {
    replicas: i32,
    age: KubeDuration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PastEvent {
    change: i32,
    age: KubeDuration,
}

/// The scenario's "now". History lies before it.
const NOW: Instant = Instant::EPOCH;

fn ago(d: Option<KubeDuration>, default: Duration) -> Instant {
    NOW - d.map_or(default, |k| k.0)
}

pub(crate) fn decide(text: &str, origin: &str, api_version: &str) -> anyhow::Result<Report> {
    let (scenario, spec, version, unknown) = if api_version == "autoscaling/v1" {
        let (s, unknown): (Scenario<HpaSpecV1>, _) = parse(text, origin)?;
        let spec = HpaSpec::from(s.autoscaler.spec.clone());
        (s.map_spec(), spec, "autoscaling/v1", unknown)
    } else if api_version == "autoscaling/v2" {
        let (s, unknown): (Scenario<HpaSpec>, _) = parse(text, origin)?;
        let spec = s.autoscaler.spec.clone();
        (s.map_spec(), spec, "autoscaling/v2", unknown)
    } else if api_version == "ebb.dev/v1alpha1" {
        let (s, unknown): (Scenario<AutoscalerSpec>, _) = parse(text, origin)?;
        let spec = s.autoscaler.spec.hpa_spec().ok_or_else(|| {
            UserError(format!("{origin}: autoscaler.spec.maxReplicas: Required value: class hpa needs an upper bound"))
        })?;
        (s.map_spec(), spec, "ebb.dev/v1alpha1", unknown)
    } else {
        return Err(UserError(format!(
            "{origin}: apiVersion {api_version:?} is not an HPA version ebb reads: use autoscaling/v1, autoscaling/v2 or an ebb.dev/v1alpha1 Autoscaler"
        ))
        .into());
    };

    let errors = spec.validate("autoscaler.spec", scenario.settings.gates());
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        return Err(UserError(format!(
            "{origin}: the HPA is not valid:\n{}",
            list.join("\n")
        ))
        .into());
    }
    let observation = scenario
        .observation(&spec)
        .map_err(|e| UserError(format!("{origin}: {e}")))?;
    let name = scenario.name.clone();
    let mut hpa = Hpa::with_state(
        name.key(),
        spec,
        scenario.settings.clone(),
        scenario.state(),
    );
    let update_error = scenario.update_scale_error.clone();
    let decision = hpa.reconcile(&observation, |_| update_error.map_or(Ok(()), Err));
    let mut report = report(&hpa, &decision, &name, version, scenario.history_given);
    super::add_warnings(&mut report, &unknown, origin);
    Ok(report)
}

fn parse<S: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
) -> Result<(Scenario<S>, Vec<String>), UserError> {
    super::parse_reporting_unknown(
        text,
        origin,
        &[
            "autoscaler.metadata.",
            "autoscaler.apiVersion",
            "autoscaler.kind",
        ],
    )
}

/// The scenario with the spec taken out (the version no longer matters).
struct Prepared {
    name: Name,
    target: Target,
    pods: Vec<PodTemplate>,
    metrics: Metrics,
    failures: Failures,
    history: History,
    history_given: bool,
    settings: HpaSettings,
    other_hpas: Vec<String>,
    update_scale_error: Option<String>,
}

#[derive(Clone)]
struct Name {
    name: String,
    namespace: String,
}

impl Name {
    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl<S> Scenario<S> {
    fn map_spec(self) -> Prepared {
        let meta = self.autoscaler.metadata;
        let history_given = self.history.recommendations.is_some();
        let update_scale_error = self.failures.update_scale.clone();
        Prepared {
            name: Name {
                name: if meta.name.is_empty() {
                    "hpa".into()
                } else {
                    meta.name
                },
                namespace: meta.namespace.unwrap_or_else(|| "default".into()),
            },
            target: self.target,
            pods: self.pods,
            metrics: self.metrics,
            failures: self.failures,
            history: self.history,
            history_given,
            settings: self.controller,
            other_hpas: self.other_hpas,
            update_scale_error,
        }
    }
}

impl Prepared {
    fn state(&self) -> HpaState {
        let events = |list: &[PastEvent]| -> Vec<ScaleEvent> {
            list.iter()
                .map(|e| ScaleEvent {
                    change: e.change,
                    at: NOW - e.age.0,
                    outdated: false,
                })
                .collect()
        };
        HpaState {
            recommendations: self.history.recommendations.as_ref().map(|r| {
                r.iter()
                    .map(|r| Recommendation {
                        replicas: r.replicas,
                        at: NOW - r.age.0,
                    })
                    .collect()
            }),
            scale_up_events: events(&self.history.scale_up_events),
            scale_down_events: events(&self.history.scale_down_events),
            status: Default::default(),
        }
    }

    fn observation(&self, spec: &HpaSpec) -> Result<HpaObservation, String> {
        let target_name = &spec.scale_target_ref.name;
        let scale = match &self.failures.get_scale {
            Some(e) => Err(e.clone()),
            None => Ok(Scale {
                spec_replicas: self.target.replicas,
                status_replicas: self.target.status_replicas.unwrap_or(self.target.replicas),
                selector: self
                    .target
                    .selector
                    .clone()
                    .unwrap_or_else(|| format!("app={target_name}")),
            }),
        };
        let mut pods = Vec::new();
        let mut samples = Vec::new();
        let mut custom: BTreeMap<String, Vec<PodMetricValue>> = BTreeMap::new();
        for (t, template) in self.pods.iter().enumerate() {
            for i in 0..template.count {
                let name = match (&template.name, template.count) {
                    (Some(n), 1) => n.clone(),
                    (Some(n), _) => format!("{n}-{i}"),
                    (None, _) => format!("{target_name}-{}", pods.len()),
                };
                let (pod, sample) = template
                    .build(&name)
                    .map_err(|e| format!("pods[{t}]: {e}"))?;
                for (metric, value) in &template.custom {
                    custom
                        .entry(metric.clone())
                        .or_default()
                        .push(PodMetricValue {
                            pod: name.clone(),
                            value: *value,
                            timestamp: pod_sample_time(template),
                            window: Duration::from_secs(60),
                        });
                }
                samples.extend(sample);
                pods.push(pod);
            }
        }
        let failed = |metric: &str| self.failures.metrics.get(metric).cloned();
        let pods_metrics = spec
            .metrics
            .iter()
            .filter_map(|m| m.pods.as_ref())
            .map(|p| PodsMetricReading {
                metric: p.metric.name.clone(),
                values: failed(&p.metric.name).map_or_else(
                    || Ok(custom.get(&p.metric.name).cloned().unwrap_or_default()),
                    Err,
                ),
            })
            .collect();
        let mut object_metrics: Vec<ObjectMetricReading> = self
            .metrics
            .object
            .iter()
            .map(|o| ObjectMetricReading {
                metric: o.metric.clone(),
                object: o.object.clone(),
                value: Ok(o.value),
            })
            .collect();
        for m in spec.metrics.iter().filter_map(|m| m.object.as_ref()) {
            if let Some(e) = failed(&m.metric.name) {
                object_metrics.retain(|o| o.metric != m.metric.name);
                object_metrics.push(ObjectMetricReading {
                    metric: m.metric.name.clone(),
                    object: m.described_object.clone(),
                    value: Err(e),
                });
            }
        }
        let mut external_metrics: Vec<ExternalMetricReading> = self
            .metrics
            .external
            .iter()
            .map(|e| ExternalMetricReading {
                metric: e.metric.clone(),
                values: Ok(e.values.clone()),
            })
            .collect();
        for m in spec.metrics.iter().filter_map(|m| m.external.as_ref()) {
            if let Some(e) = failed(&m.metric.name) {
                external_metrics.retain(|x| x.metric != m.metric.name);
                external_metrics.push(ExternalMetricReading {
                    metric: m.metric.name.clone(),
                    values: Err(e),
                });
            }
        }
        Ok(HpaObservation {
            now: NOW,
            scale,
            pods,
            other_hpas_selecting_pods: self.other_hpas.clone(),
            resource_metrics: self
                .failures
                .resource_metrics
                .clone()
                .map_or(Ok(samples), Err),
            pods_metrics,
            object_metrics,
            external_metrics,
        })
    }
}

fn pod_sample_time(t: &PodTemplate) -> Instant {
    ago(t.sample.age, Duration::ZERO)
}

impl PodTemplate {
    /// The pod and its resource sample (none when no container reports usage).
    fn build(&self, name: &str) -> Result<(Pod, Option<PodResourceMetrics>), String> {
        let start = ago(self.started, Duration::from_secs(600));
        let ready = self.ready.as_ref().map(|r| match r {
            Readiness::Flag(ok) => ReadyCondition {
                status: if *ok {
                    ConditionStatus::True
                } else {
                    ConditionStatus::False
                },
                last_transition_time: start,
            },
            Readiness::Condition { status, since } => ReadyCondition {
                status: *status,
                last_transition_time: since.map_or(start, |s| NOW - s.0),
            },
        });
        if !self.requests.is_empty() && !self.containers.is_empty() {
            return Err(
                "give either `requests`/`usage` (one container) or `containers`, not both".into(),
            );
        }
        let templates: Vec<ContainerTemplate> = if self.containers.is_empty() {
            vec![ContainerTemplate {
                name: "app".into(),
                requests: self.requests.clone(),
                usage: self.usage.clone(),
                restart_policy: None,
            }]
        } else {
            if !self.usage.is_empty() {
                return Err("with `containers`, give `usage` per container".into());
            }
            self.containers
                .iter()
                .map(ContainerTemplate::clone_template)
                .collect()
        };
        let mut usage = Vec::new();
        for c in templates.iter().chain(&self.init_containers) {
            if c.usage.is_empty() {
                continue;
            }
            let mut values = BTreeMap::new();
            for (resource, u) in &c.usage {
                let q = match u {
                    Usage::Quantity(q) => *q,
                    Usage::PercentOfRequest(p) => {
                        let request = c.requests.get(resource).ok_or_else(|| {
                            format!(
                                "usage {resource}: {p}% needs a {resource} request on container {}",
                                c.name
                            )
                        })?;
                        let milli = (request.milli_value() as f64 * p / 100.0).round() as i64;
                        Quantity::from_milli(milli, request.format())
                    }
                };
                values.insert(resource.clone(), q);
            }
            usage.push(ContainerUsage {
                name: c.name.clone(),
                usage: values,
            });
        }
        let container = |c: &ContainerTemplate| Container {
            name: c.name.clone(),
            requests: c.requests.clone(),
            restart_always: c.restart_policy.as_deref() == Some("Always"),
        };
        let pod = Pod {
            name: name.to_string(),
            phase: self.phase,
            ready,
            start_time: Some(start),
            deleting: self.deleting,
            containers: templates.iter().map(container).collect(),
            init_containers: self.init_containers.iter().map(container).collect(),
            pod_requests: self.pod_requests.clone(),
        };
        let sample = (!usage.is_empty()).then(|| PodResourceMetrics {
            pod: name.to_string(),
            timestamp: pod_sample_time(self),
            window: self.sample.window.map_or(Duration::from_secs(30), |w| w.0),
            containers: usage,
        });
        Ok((pod, sample))
    }
}

impl ContainerTemplate {
    fn clone_template(&self) -> ContainerTemplate {
        ContainerTemplate {
            name: self.name.clone(),
            requests: self.requests.clone(),
            usage: self.usage.clone(),
            restart_policy: self.restart_policy.clone(),
        }
    }
}

fn report(hpa: &Hpa, d: &Decision, name: &Name, version: &str, history_given: bool) -> Report {
    let status = hpa.status();
    let targets = targets_column(hpa.metrics(), &status.current_metrics);
    let metrics: Vec<serde_json::Value> = d
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Metric { metric, current, target, ratio, replicas, .. } => Some(json!({
                "metric": metric, "current": current, "target": target, "ratio": ratio, "replicas": replicas,
            })),
            Step::MetricFailed { metric, reason, error } => Some(json!({
                "metric": metric, "current": "<unknown>", "reason": reason, "error": error,
            })),
            _ => None,
        })
        .collect();
    let mut json = serde_json::to_value(d).unwrap_or_default();
    if let Some(obj) = json.as_object_mut() {
        obj.insert("summary".into(), json!(d.summary()));
        obj.insert("metrics".into(), json!(metrics));
        obj.insert("targets".into(), json!(targets));
        let mut st = json!({
            "currentReplicas": status.current_replicas,
            "desiredReplicas": status.desired_replicas,
            "currentMetrics": status.current_metrics,
        });
        if version == "autoscaling/v1"
            && let Some(cpu) = status.current_cpu_utilization_percentage()
        {
            st["currentCPUUtilizationPercentage"] = json!(cpu);
        }
        obj.insert("status".into(), st);
    }

    let mut text = String::new();
    let spec = hpa.spec();
    text.push_str(&format!(
        "{} ({version} {}) scaling {}/{}\n",
        name.key(),
        if version == "ebb.dev/v1alpha1" {
            "Autoscaler, class hpa"
        } else {
            "HorizontalPodAutoscaler"
        },
        spec.scale_target_ref.kind,
        spec.scale_target_ref.name
    ));
    text.push_str(&format!("{}\n", d.summary()));
    if !history_given && d.steps.iter().any(|s| matches!(s, Step::Stabilized { .. })) {
        text.push_str("(no `history` given: like a freshly started controller, the HPA counts the current replicas as a recent recommendation)\n");
    }
    text.push('\n');
    for (i, step) in d.steps.iter().enumerate() {
        text.push_str(&format!("  {}. {step}\n", i + 1));
    }
    if let Some(e) = &d.error {
        text.push_str(&format!("  reconcile error: {e}\n"));
    }
    let mut get = Table::new(&[
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
    ]);
    get.row(&[
        name.name.clone(),
        format!(
            "{}/{}",
            spec.scale_target_ref.kind, spec.scale_target_ref.name
        ),
        targets,
        spec.min_replicas
            .map_or_else(|| "<unset>".to_string(), |m| m.to_string()),
        spec.max_replicas.to_string(),
        status.current_replicas.to_string(),
    ]);
    text.push_str("\nkubectl get hpa\n");
    text.push_str(&get.render());
    if !d.conditions.is_empty() {
        let mut t = Table::describe(&["Type", "Status", "Reason", "Message"]);
        for c in &d.conditions {
            t.row(&[
                c.kind.clone(),
                c.status.to_string(),
                c.reason.clone(),
                c.message.clone(),
            ]);
        }
        text.push_str("\nConditions:\n");
        text.push_str(&t.indented(2));
    }
    if !d.events.is_empty() {
        let mut t = Table::describe(&["Type", "Reason", "Message"]);
        for e in &d.events {
            t.row(&[format!("{:?}", e.kind), e.reason.clone(), e.message.clone()]);
        }
        text.push_str("\nEvents:\n");
        text.push_str(&t.indented(2));
    }
    Report { json, text }
}
