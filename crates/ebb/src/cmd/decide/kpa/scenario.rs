//! The KPA scenario file: the autoscaler as users write it (a KServe InferenceService, a
//! Knative Service or an ebb Autoscaler of class kpa), optional `config-autoscaler` keys, the
//! cluster, the pods, and the load — traffic segments, raw per-second samples or per-tick window
//! values. Format: docs/decide.md.
//!
//! The autoscaler is read into the manifests crate's types and its settings come from the
//! manifests crate's mapping (`isvc_settings`, `ksvc_settings`): the one `ebb validate`,
//! `ebb convert` and `ebb sim` use.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use ebb_core::KubeDuration;
use ebb_core::kpa::config::KPA_CLASS;
use ebb_core::kpa::replay::{Demand, Load, Pods, ReadError, Sample, Scenario as Replay};
use ebb_core::kpa::settings::GROUP;
use ebb_core::kpa::{KpaConfig, KpaSettings, Reachability, Source, Stat, WindowValues};
use ebb_core::time::Instant;
use ebb_manifest::kinds::autoscaler::AutoscalerSpec;
use ebb_manifest::kinds::kserve::{InferenceServiceSpec, KnativeServiceSpec};
use ebb_manifest::kinds::meta::{Object, ObjectMeta};
use ebb_manifest::kinds::serverless::{RevisionSettings, isvc_settings, ksvc_settings};
use ebb_manifest::{Finding, Manifest};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The longest replay `decide` runs (one step per second).
const MAX_UNTIL: Duration = Duration::from_secs(6 * 3600);

/// A scalar written with or without quotes (`"10"` or `10`), kept as text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Text(pub(crate) String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

fn texts(map: &BTreeMap<String, Text>) -> BTreeMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect()
}

/// A KPA scenario as written; `A` is the autoscaler object.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ScenarioFile<A> {
    /// Free text, ignored.
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    pub(crate) autoscaler: A,
    /// `config-autoscaler` keys.
    #[serde(default)]
    config: BTreeMap<String, Text>,
    #[serde(default)]
    cluster: Cluster,
    #[serde(default)]
    pods: PodsFile,
    #[serde(default)]
    traffic: Option<Vec<Segment>>,
    #[serde(default)]
    samples: Option<Vec<SampleFile>>,
    #[serde(default)]
    windows: Option<Vec<WindowFile>>,
    #[serde(default)]
    metric_errors: Vec<ErrorSpan>,
    #[serde(default)]
    pub(crate) decide: Show,
}

/// A Knative Service as a scenario embeds it: every field optional, as nothing in a Knative
/// Service is required for its autoscaler (the kind was read before).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Embedded<S> {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Option<S>,
}

impl<S: Default> Embedded<S> {
    fn object(self) -> Object<S> {
        Object {
            api_version: self.api_version,
            kind: self.kind,
            metadata: self.metadata,
            spec: self.spec.unwrap_or_default(),
        }
    }
}

/// Reads a KPA scenario whose autoscaler is of `kind` (`InferenceService`, `Service` or
/// `Autoscaler`).
pub(crate) fn parse(text: &str, kind: &str) -> Result<ScenarioFile<Manifest>, serde_saphyr::Error> {
    fn typed<A: DeserializeOwned>(text: &str) -> Result<ScenarioFile<A>, serde_saphyr::Error> {
        serde_saphyr::from_str(text)
    }
    Ok(match kind {
        "InferenceService" => typed::<Object<InferenceServiceSpec>>(text)?
            .map(|o| Manifest::InferenceService(Box::new(o))),
        "Service" => typed::<Embedded<KnativeServiceSpec>>(text)?
            .map(|o| Manifest::KnativeService(o.object())),
        _ => typed::<Object<AutoscalerSpec>>(text)?.map(Manifest::Autoscaler),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Cluster {
    /// Whether the revision is routed; unset means unknown (treated as reachable).
    #[serde(default)]
    reachable: Option<bool>,
    /// Whether the request holder answers through the revision's service (default true).
    #[serde(default)]
    request_holder_reachable: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PodsFile {
    /// Pods follow the decisions and are ready this long after a scale-up.
    #[serde(default)]
    startup_delay: Option<KubeDuration>,
    /// Or: the ready count at given times, whatever the decisions.
    #[serde(default)]
    ready: Option<Vec<ReadyAt>>,
    /// Pods already ready when the revision is created.
    #[serde(default)]
    ready_at_start: Option<i32>,
    /// Spans where the ready count cannot be read.
    #[serde(default)]
    read_errors: Vec<ErrorSpan>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReadyAt {
    at: KubeDuration,
    count: i32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ErrorSpan {
    from: KubeDuration,
    to: KubeDuration,
    error: String,
}

/// A stretch of constant load.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Segment {
    #[serde(rename = "for")]
    duration: KubeDuration,
    /// Requests in flight.
    #[serde(default)]
    concurrency: f64,
    /// Requests arriving per second (default: the concurrency, i.e. 1-second requests).
    #[serde(default)]
    rps: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
enum SourceFile {
    #[default]
    Replicas,
    Holder,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SampleFile {
    at: KubeDuration,
    #[serde(default)]
    source: SourceFile,
    #[serde(default)]
    concurrency: f64,
    #[serde(default)]
    requests: f64,
    #[serde(default)]
    proxied_concurrency: f64,
    #[serde(default)]
    proxied_requests: f64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WindowFile {
    at: KubeDuration,
    #[serde(default)]
    stable: Option<f64>,
    #[serde(default)]
    panic: Option<f64>,
    #[serde(default)]
    error: Option<String>,
}

/// Which decisions to show, and how long to replay.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Show {
    /// Replay up to this time (default: the end of the load).
    #[serde(default)]
    pub(crate) until: Option<KubeDuration>,
    /// Show decisions from this time on.
    #[serde(default)]
    pub(crate) from: Option<KubeDuration>,
    /// Show only the decision in force at each of these times.
    #[serde(default)]
    pub(crate) at: Vec<KubeDuration>,
}

/// Everything `decide` needs, resolved and checked.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub(crate) config: KpaConfig,
    pub(crate) settings: KpaSettings,
    pub(crate) replay: Replay,
    /// What KServe / Knative does to the manifest that the user may not expect.
    pub(crate) notes: Vec<String>,
    /// Which kind of object, in words.
    pub(crate) origin: String,
    /// How pods are modelled, in words.
    pub(crate) pods: String,
}

fn instant(d: KubeDuration) -> Instant {
    Instant::from_nanos(i64::try_from(d.0.as_nanos()).unwrap_or(i64::MAX))
}

fn whole_secs(d: KubeDuration, path: &str, errors: &mut Vec<String>) -> i64 {
    if d.0.subsec_nanos() != 0 {
        errors.push(format!(
            "{path}: {d} is not whole seconds; load is per second: write e.g. 10s or 2m"
        ));
    }
    i64::try_from(d.0.as_secs()).unwrap_or(i64::MAX)
}

impl<A> ScenarioFile<A> {
    fn map<B>(self, f: impl FnOnce(A) -> B) -> ScenarioFile<B> {
        ScenarioFile {
            description: self.description,
            autoscaler: f(self.autoscaler),
            config: self.config,
            cluster: self.cluster,
            pods: self.pods,
            traffic: self.traffic,
            samples: self.samples,
            windows: self.windows,
            metric_errors: self.metric_errors,
            decide: self.decide,
        }
    }
}

impl ScenarioFile<Manifest> {
    /// Resolves the scenario, collecting every problem as `path: what is wrong`.
    pub(crate) fn resolve(&self) -> Result<Resolved, Vec<String>> {
        let mut errors = Vec::new();
        let config = match KpaConfig::from_map_at(&texts(&self.config), "config") {
            Ok(c) => c,
            Err(errs) => {
                errors.extend(errs.iter().map(ToString::to_string));
                KpaConfig::default()
            }
        };
        let (settings, notes, origin) = match settings(&self.autoscaler, &config) {
            Ok(v) => v,
            Err(errs) => {
                errors.extend(errs);
                (KpaSettings::default(), Vec::new(), String::new())
            }
        };
        let (load, end) = self.load(&mut errors);
        let (pods, pods_text) = self.pods(&mut errors);
        let until = match self.decide.until {
            Some(u) => instant(u),
            None => end.max(Instant::from_secs(2)),
        };
        if until.is_after(instant(KubeDuration(MAX_UNTIL))) {
            errors.push(format!(
                "decide.until: at most {} can be replayed",
                KubeDuration(MAX_UNTIL)
            ));
        }
        let spans = |spans: &[ErrorSpan], path: &str, errors: &mut Vec<String>| {
            spans
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    if s.to <= s.from {
                        errors.push(format!(
                            "{path}[{i}]: `to` ({}) must be after `from` ({})",
                            s.to, s.from
                        ));
                    }
                    ReadError {
                        from: instant(s.from),
                        to: instant(s.to),
                        error: s.error.clone(),
                    }
                })
                .collect::<Vec<_>>()
        };
        let ready_errors = spans(&self.pods.read_errors, "pods.readErrors", &mut errors);
        let metric_errors = spans(&self.metric_errors, "metricErrors", &mut errors);
        if let Some(n) = self.pods.ready_at_start
            && n < 0
        {
            errors.push(format!("pods.readyAtStart: {n} must not be negative"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let reachability = match self.cluster.reachable {
            Some(true) => Reachability::Reachable,
            Some(false) => Reachability::Unreachable,
            None => Reachability::Unknown,
        };
        Ok(Resolved {
            config,
            settings,
            replay: Replay {
                load,
                pods,
                ready_at_start: self.pods.ready_at_start,
                reachability,
                holder_reachable: self.cluster.request_holder_reachable.unwrap_or(true),
                ready_errors,
                metric_errors,
                until,
            },
            notes,
            origin,
            pods: pods_text,
        })
    }

    /// The load and when it ends.
    fn load(&self, errors: &mut Vec<String>) -> (Load, Instant) {
        let given = [
            self.traffic.is_some(),
            self.samples.is_some(),
            self.windows.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            errors.push(
                "traffic, samples and windows are alternatives: give only one of them".into(),
            );
        }
        if let Some(segments) = &self.traffic {
            let mut demand = Vec::new();
            for (i, s) in segments.iter().enumerate() {
                let path = format!("traffic[{i}]");
                let secs = whole_secs(s.duration, &format!("{path}.for"), errors);
                if s.concurrency < 0.0 || s.rps.is_some_and(|r| r < 0.0) {
                    errors.push(format!("{path}: concurrency and rps must not be negative"));
                }
                if demand.len() as i64 + secs > MAX_UNTIL.as_secs() as i64 {
                    errors.push(format!(
                        "{path}.for: traffic longer than {} is not replayed",
                        KubeDuration(MAX_UNTIL)
                    ));
                    break;
                }
                let d = Demand {
                    concurrency: s.concurrency,
                    rps: s.rps.unwrap_or(s.concurrency),
                };
                demand.extend(std::iter::repeat_n(d, secs as usize));
            }
            let end = Instant::from_secs(demand.len() as i64);
            return (Load::Demand(demand), end);
        }
        if let Some(samples) = &self.samples {
            let mut out = Vec::new();
            for (i, s) in samples.iter().enumerate() {
                let second = whole_secs(s.at, &format!("samples[{i}].at"), errors);
                out.push(Sample {
                    second,
                    source: match s.source {
                        SourceFile::Replicas => Source::Replicas,
                        SourceFile::Holder => Source::Holder,
                    },
                    stat: Stat {
                        average_concurrency: s.concurrency,
                        request_count: s.requests,
                        proxied_concurrency: s.proxied_concurrency,
                        proxied_request_count: s.proxied_requests,
                    },
                });
            }
            let end = out.iter().map(|s| s.second).max().unwrap_or(0);
            return (Load::Samples(out), Instant::from_secs(end));
        }
        if let Some(windows) = &self.windows {
            let mut out: Vec<(Instant, Result<WindowValues, String>)> = Vec::new();
            for (i, w) in windows.iter().enumerate() {
                let path = format!("windows[{i}]");
                let at = instant(w.at);
                if out.last().is_some_and(|(t, _)| !at.is_after(*t)) {
                    errors.push(format!(
                        "{path}.at: {} must be later than the entry before",
                        w.at
                    ));
                }
                let value = match (&w.error, w.stable, w.panic) {
                    (Some(e), None, None) => Err(e.clone()),
                    (None, Some(stable), panic) => Ok(WindowValues {
                        stable,
                        panic: panic.unwrap_or(stable),
                    }),
                    _ => {
                        errors.push(format!(
                            "{path}: give `stable` (and optionally `panic`) or `error`, not both"
                        ));
                        continue;
                    }
                };
                out.push((at, value));
            }
            let end = out.last().map_or(Instant::EPOCH, |(t, _)| *t);
            return (Load::Windows(out), end);
        }
        errors.push(
            "the scenario needs load: `traffic` (segments like {for: 2m, concurrency: 0}), `samples` (per-second stats) or `windows` (per-tick window values)"
                .into(),
        );
        (Load::Demand(Vec::new()), Instant::EPOCH)
    }

    fn pods(&self, errors: &mut Vec<String>) -> (Pods, String) {
        match (&self.pods.ready, self.pods.startup_delay) {
            (Some(_), Some(_)) => {
                errors.push(
                    "pods: give either startupDelay (pods follow the decisions) or ready (a fixed schedule), not both"
                        .into(),
                );
                (
                    Pods::Follow {
                        startup: Duration::ZERO,
                    },
                    String::new(),
                )
            }
            (Some(steps), None) => {
                let mut out: Vec<(Instant, i32)> = Vec::new();
                for (i, s) in steps.iter().enumerate() {
                    let at = instant(s.at);
                    if out.last().is_some_and(|(t, _)| !at.is_after(*t)) {
                        errors.push(format!(
                            "pods.ready[{i}].at: {} must be later than the entry before",
                            s.at
                        ));
                    }
                    if s.count < 0 {
                        errors.push(format!(
                            "pods.ready[{i}].count: {} must not be negative",
                            s.count
                        ));
                    }
                    out.push((at, s.count));
                }
                let text = out
                    .iter()
                    .map(|(t, n)| format!("{n} at {}", seconds(*t)))
                    .collect::<Vec<_>>()
                    .join(", ");
                (Pods::Schedule(out), format!("ready pods as given: {text}"))
            }
            (None, delay) => {
                let startup = delay.map_or(Duration::ZERO, |d| d.0);
                (
                    Pods::Follow { startup },
                    format!(
                        "pods follow the replica count, ready {} after each scale-up",
                        KubeDuration(startup)
                    ),
                )
            }
        }
    }
}

/// `12s`, `1.5s`.
pub(crate) fn seconds(t: Instant) -> String {
    let s = t.as_secs_f64();
    if s == s.trunc() {
        format!("{s:.0}s")
    } else {
        format!("{s}s")
    }
}

/// The autoscaler's settings, from the manifests crate's mapping (KServe's rewriting of the
/// predictor's fields included), notes on what the user may not expect, and the kind in words.
/// Paths are prefixed with `autoscaler.`, where the object sits in the scenario.
fn settings(
    autoscaler: &Manifest,
    config: &KpaConfig,
) -> Result<(KpaSettings, Vec<String>, String), Vec<String>> {
    let in_scenario = |f: Finding| {
        if f.path.is_empty() {
            f.message
        } else {
            format!("autoscaler.{}", f.message)
        }
    };
    let (revision, origin, annotations) = match autoscaler {
        Manifest::InferenceService(isvc) => (
            isvc_settings(isvc, config),
            "KServe InferenceService (serverless mode)",
            "metadata.annotations",
        ),
        Manifest::KnativeService(ksvc) => (
            ksvc_settings(ksvc, config),
            "Knative Service",
            "spec.template.metadata.annotations",
        ),
        Manifest::Autoscaler(a) => {
            let settings = a.spec.kpa.clone().unwrap_or_default();
            let errors = settings.validate(config, "autoscaler.spec.kpa");
            if !errors.is_empty() {
                return Err(errors.iter().map(ToString::to_string).collect());
            }
            return Ok((settings, Vec::new(), "ebb Autoscaler".to_string()));
        }
        other => {
            return Err(vec![format!(
                "autoscaler.kind: {} is not decided by the Knative Pod Autoscaler",
                other.kind()
            )]);
        }
    };
    let RevisionSettings { settings, notes } =
        revision.map_err(|errors| errors.into_iter().map(in_scenario).collect::<Vec<_>>())?;
    if let Some(class) = settings.class.as_deref()
        && class != KPA_CLASS
    {
        return Err(vec![format!(
            "autoscaler.{annotations}[{GROUP}class]: {class:?} is not scaled by the Knative Pod Autoscaler; `ebb decide` explains the KPA class ({KPA_CLASS:?}) here, decide an HPA with an autoscaling/v2 HorizontalPodAutoscaler scenario"
        )]);
    }
    let notes = notes.into_iter().map(in_scenario).collect();
    Ok((settings, notes, origin.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> ScenarioFile<Manifest> {
        let kind = if yaml.contains("kind: InferenceService") {
            "InferenceService"
        } else {
            "Service"
        };
        super::parse(yaml, kind).unwrap()
    }

    const ISVC: &str = "
autoscaler:
  apiVersion: serving.kserve.io/v1beta1
  kind: InferenceService
  metadata:
    name: m
    annotations:
      autoscaling.knative.dev/target: 10
      autoscaling.knative.dev/min-scale: \"0\"
  spec:
    predictor:
      maxReplicas: 4
      containers: [{name: kserve-container, image: x}]
traffic:
  - for: 2m
  - for: 10s
    concurrency: 50
";

    #[test]
    fn kserve_regenerates_min_and_max_scale_and_says_so() {
        let r = parse(ISVC).resolve().unwrap();
        assert_eq!(r.settings.min_scale, Some(1));
        assert_eq!(r.settings.max_scale, Some(4));
        assert_eq!(r.settings.target, Some(10.0));
        assert_eq!(r.settings.class.as_deref(), Some(KPA_CLASS));
        assert!(
            r.notes[0].contains("minReplicas: 0 to scale to zero"),
            "{:?}",
            r.notes
        );
        match r.replay.load {
            Load::Demand(d) => {
                assert_eq!(d.len(), 130);
                assert_eq!(d[119].concurrency, 0.0);
                assert_eq!(
                    d[120],
                    Demand {
                        concurrency: 50.0,
                        rps: 50.0
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.replay.until, Instant::from_secs(130));
    }

    #[test]
    fn raw_deployment_mode_is_not_the_kpa() {
        let yaml = ISVC.replace(
            "    annotations:\n",
            "    annotations:\n      serving.kserve.io/deploymentMode: RawDeployment\n",
        );
        let errs = parse(&yaml).resolve().unwrap_err();
        assert!(errs[0].contains("HPA"), "{errs:?}");
    }

    #[test]
    fn knative_service_reads_the_template_and_validates_with_paths() {
        let yaml = "
autoscaler:
  apiVersion: serving.knative.dev/v1
  kind: Service
  metadata:
    name: s
    annotations:
      autoscaling.knative.dev/target: \"5\"
  spec:
    template:
      metadata:
        annotations:
          autoscaling.knative.dev/window: 5s
      spec:
        containerConcurrency: 2000
windows:
  - at: 2s
    stable: 1
";
        let errs = parse(yaml).resolve().unwrap_err();
        assert_eq!(
            errs,
            vec![
                "autoscaler.spec.template.metadata.annotations[autoscaling.knative.dev/window]: Invalid value: 5s: expected 6s <= 5s <= 1h0m0s",
                "autoscaler.spec.template.spec.containerConcurrency: Invalid value: 2000: expected 0 <= 2000 <= 1000",
            ]
        );
    }

    #[test]
    fn problems_are_all_reported_with_their_place() {
        let yaml = "
autoscaler:
  apiVersion: serving.knative.dev/v1
  kind: Service
config:
  stable-window: 3s
traffic:
  - for: 1.5s
    concurrency: 3
windows:
  - at: 2s
    stable: 1
pods:
  startupDelay: 5s
  ready: [{at: 0s, count: 1}]
";
        let errs = parse(yaml).resolve().unwrap_err();
        assert_eq!(
            errs,
            vec![
                "config[stable-window]: Invalid value: 3s: must be in [6s; 1h0m0s] range",
                "traffic, samples and windows are alternatives: give only one of them",
                "traffic[0].for: 1.5s is not whole seconds; load is per second: write e.g. 10s or 2m",
                "pods: give either startupDelay (pods follow the decisions) or ready (a fixed schedule), not both",
            ]
        );
    }

    #[test]
    fn unknown_scenario_keys_are_rejected() {
        let yaml = "
autoscaler: {kind: Service}
trafic: []
";
        let err = super::parse(yaml, "Service").unwrap_err().to_string();
        assert!(err.contains("trafic"), "{err}");
    }
}
