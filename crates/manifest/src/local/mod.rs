//! How a workload runs on one machine without a container runtime: each replica is a local
//! process started from the container's `command` + `args` (or the `ebb.dev/command`
//! annotation, which keeps the image for clusters), with its `env`, `PORT` set to the replica's
//! port, and `{port}` in arguments and values replaced by it.

use std::collections::BTreeMap;
use std::time::Duration;

mod env;
mod probe;

pub use probe::{LocalProbe, ProbeAction, ProbePort};

use crate::diagnostic::Issue;
use crate::kinds::meta::ObjectMeta;
use crate::kinds::pod::{Container, Probe};
use crate::timeouts::RequestTimeouts;
use crate::{Manifest, Parsed, shell};
use env::{Lookups, environment};
use probe::local_probe;

/// The annotation that gives the local command line (shell words; `{port}` allowed).
pub const COMMAND_ANNOTATION: &str = "ebb.dev/command";

/// The placeholder for the replica's port.
pub const PORT_PLACEHOLDER: &str = "{port}";

/// The kinds that run as local processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// apps/v1 Deployment.
    Deployment,
    /// KServe InferenceService (its predictor).
    InferenceService,
    /// Knative Service.
    KnativeService,
}

/// One workload, ready to run as local processes.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalWorkload {
    /// Object name.
    pub name: String,
    /// Namespace (default `default`).
    pub namespace: String,
    /// Which kind it came from.
    pub kind: WorkloadKind,
    /// Replicas to start with (Deployment `replicas`; serverless kinds start at their minimum).
    pub initial_replicas: i32,
    /// Pod labels (what Services select).
    pub labels: BTreeMap<String, String>,
    /// Requests in flight per replica allowed at most (Knative containerConcurrency; 0 = any).
    pub container_concurrency: i64,
    /// Knative's (and KServe's) request timeouts, for the gateway.
    pub timeouts: RequestTimeouts,
    /// How each replica runs.
    pub process: LocalProcess,
}

/// The process template of a replica.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalProcess {
    /// Which container it is.
    pub container: String,
    /// Program and arguments; may contain `{port}` and `$(VAR)` references.
    pub argv: Vec<String>,
    /// Environment, in order; values may contain `{port}` and `$(VAR)`. `PORT` comes first.
    pub env: Vec<(String, String)>,
    /// Variables whose source (a Secret or ConfigMap) is not in the files: passed through from
    /// ebb's own environment when set there.
    pub inherited: Vec<String>,
    /// Working directory, if the container sets one.
    pub working_dir: Option<String>,
    /// The port the container declares (ebb gives each replica its own port instead).
    pub declared_port: Option<u16>,
    /// Readiness check.
    pub readiness: Option<LocalProbe>,
    /// Liveness check.
    pub liveness: Option<LocalProbe>,
    /// Startup check.
    pub startup: Option<LocalProbe>,
    /// Time between SIGTERM and SIGKILL.
    pub termination_grace: Duration,
    /// CPU request (millicores), the base of CPU utilization.
    pub cpu_request_milli: Option<i64>,
    /// Memory request (bytes), the base of memory utilization.
    pub memory_request_bytes: Option<i64>,
}

impl LocalProcess {
    /// argv and environment of a replica listening on `port`: `{port}` replaced, then `$(VAR)`
    /// references expanded as Kubernetes does (env values see earlier variables; arguments see
    /// all of them; unknown references stay as written; `$$` escapes).
    pub fn command_for(&self, port: u16) -> (Vec<String>, Vec<(String, String)>) {
        self.command_with(&port.to_string())
    }

    /// argv and environment with `$(VAR)` references expanded but `{port}` kept, for a
    /// supervisor that assigns each replica its port and substitutes it itself.
    pub fn command_template(&self) -> (Vec<String>, Vec<(String, String)>) {
        self.command_with(PORT_PLACEHOLDER)
    }

    fn command_with(&self, port: &str) -> (Vec<String>, Vec<(String, String)>) {
        let mut env: Vec<(String, String)> = Vec::with_capacity(self.env.len());
        for (name, value) in &self.env {
            let value = expand(&value.replace(PORT_PLACEHOLDER, port), &env);
            env.retain(|(n, _)| n != name);
            env.push((name.clone(), value));
        }
        let argv = self
            .argv
            .iter()
            .map(|a| expand(&a.replace(PORT_PLACEHOLDER, port), &env))
            .collect();
        (argv, env)
    }
}

/// Kubernetes `$(VAR)` expansion.
fn expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(close) = inner.find(')')
        {
            let name = &inner[..close];
            match env.iter().rev().find(|(n, _)| n == name) {
                Some((_, value)) => out.push_str(value),
                None => out.push_str(&rest[i..i + 2 + close + 1]),
            }
            rest = &inner[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The local-mode findings of every workload, by object index.
pub(crate) fn check(objects: &[Parsed]) -> Vec<(usize, Issue)> {
    let lookups = Lookups::new(objects);
    let mut found = Vec::new();
    for (index, parsed) in objects.iter().enumerate() {
        let mut issues = Vec::new();
        map(&parsed.manifest, &lookups, &mut issues);
        found.extend(issues.into_iter().map(|i| (index, i)));
    }
    found
}

/// The workloads of a set of manifests, as local processes. Objects that cannot run locally
/// are left out ([`crate::check`] in local mode reports why).
pub fn workloads(objects: &[Parsed]) -> Vec<LocalWorkload> {
    let lookups = Lookups::new(objects);
    objects
        .iter()
        .filter_map(|p| {
            let mut issues = Vec::new();
            let workload = map(&p.manifest, &lookups, &mut issues)?;
            let failed = issues.iter().any(|i| i.severity == crate::Severity::Error);
            (!failed).then_some(workload)
        })
        .collect()
}

/// A Service of the files: where ebb listens locally and which workloads answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalService {
    /// Service name.
    pub name: String,
    /// Namespace (default `default`).
    pub namespace: String,
    /// Its ports (`port` of each entry): where clients connect.
    pub ports: Vec<u16>,
    /// The workloads whose pods the selector matches, by name.
    pub workloads: Vec<String>,
}

/// The v1 Services of a set of manifests and the local workloads each one selects.
pub fn services(objects: &[Parsed]) -> Vec<LocalService> {
    let local = workloads(objects);
    objects
        .iter()
        .filter_map(|p| match &p.manifest {
            Manifest::Service(s) => Some(s),
            _ => None,
        })
        .map(|s| {
            let namespace = s.metadata.namespace_or_default().to_string();
            let selector = ebb_core::hpa::spec::LabelSelector {
                match_labels: s.spec.selector.clone(),
                match_expressions: Vec::new(),
            };
            let workloads = local
                .iter()
                .filter(|w| {
                    w.namespace == namespace
                        && !s.spec.selector.is_empty()
                        && crate::kinds::workload::label_selector_matches(&selector, &w.labels)
                })
                .map(|w| w.name.clone())
                .collect();
            LocalService {
                name: s.metadata.name.clone(),
                namespace,
                ports: s
                    .spec
                    .ports
                    .iter()
                    .filter_map(|p| u16::try_from(p.port).ok())
                    .collect(),
                workloads,
            }
        })
        .collect()
}

/// The pieces of a workload that matter for running it, wherever the kind keeps them.
struct Shape<'a> {
    kind: WorkloadKind,
    meta: &'a ObjectMeta,
    template_meta: Option<&'a ObjectMeta>,
    containers: &'a [Container],
    containers_path: &'static str,
    grace: Option<i64>,
    initial_replicas: i32,
    container_concurrency: i64,
    labels: BTreeMap<String, String>,
}

fn shape(manifest: &Manifest) -> Option<Shape<'_>> {
    match manifest {
        Manifest::Deployment(d) => Some(Shape {
            kind: WorkloadKind::Deployment,
            meta: &d.metadata,
            template_meta: Some(&d.spec.template.metadata),
            containers: &d.spec.template.spec.containers,
            containers_path: "spec.template.spec.containers",
            grace: d.spec.template.spec.termination_grace_period_seconds,
            initial_replicas: d.initial_replicas(),
            container_concurrency: 0,
            labels: d.spec.template.metadata.labels.clone(),
        }),
        Manifest::InferenceService(i) => {
            let p = &i.spec.predictor;
            let mut labels = i.metadata.labels.clone();
            labels.insert(
                "serving.kserve.io/inferenceservice".to_string(),
                i.metadata.name.clone(),
            );
            Some(Shape {
                kind: WorkloadKind::InferenceService,
                meta: &i.metadata,
                template_meta: None,
                containers: &p.containers,
                containers_path: "spec.predictor.containers",
                grace: p.termination_grace_period_seconds,
                initial_replicas: p
                    .min_replicas
                    .unwrap_or(crate::kinds::kserve::KSERVE_DEFAULT_MIN_REPLICAS)
                    .max(1),
                container_concurrency: p.container_concurrency.unwrap_or(0),
                labels,
            })
        }
        Manifest::KnativeService(k) => {
            let t = &k.spec.template;
            Some(Shape {
                kind: WorkloadKind::KnativeService,
                meta: &k.metadata,
                template_meta: Some(&t.metadata),
                containers: &t.spec.containers,
                containers_path: "spec.template.spec.containers",
                grace: t.spec.termination_grace_period_seconds,
                initial_replicas: 1,
                container_concurrency: t.spec.container_concurrency.unwrap_or(0),
                labels: t.metadata.labels.clone(),
            })
        }
        _ => None,
    }
}

/// Builds the local workload of one object, reporting what cannot run locally.
fn map(
    manifest: &Manifest,
    lookups: &Lookups<'_>,
    issues: &mut Vec<Issue>,
) -> Option<LocalWorkload> {
    let shape = shape(manifest)?;
    let (annotation, annotation_path) = command_annotation(&shape);
    let serving = serving_container(&shape);
    let container_path = format!("{}[{serving}]", shape.containers_path);
    let container = shape.containers.get(serving);
    if let Manifest::InferenceService(isvc) = manifest
        && container.is_none()
        && annotation.is_none()
    {
        issues.push(model_only(isvc));
        return None;
    }
    for (i, c) in shape.containers.iter().enumerate() {
        if i != serving {
            issues.push(Issue::warning(
                format!("{}[{i}]", shape.containers_path),
                format!(
                    "container {:?} is not run locally: ebb runs one process per replica, from container {:?}",
                    c.name,
                    container.map(|c| c.name.as_str()).unwrap_or_default()
                ),
            ));
        }
    }
    let argv = match annotation {
        Some(line) => match shell::split(line) {
            Ok(words) if !words.is_empty() => words,
            Ok(_) => {
                issues.push(Issue::error(
                    annotation_path,
                    "Invalid value: \"\": the command line is empty",
                ));
                return None;
            }
            Err(e) => {
                issues.push(Issue::error(
                    annotation_path,
                    format!("Invalid value: {line:?}: {}", e.0),
                ));
                return None;
            }
        },
        None => container_argv(container?, &container_path, shape.kind, issues)?,
    };
    let empty = Container::default();
    let c = container.unwrap_or(&empty);
    let namespace = shape.meta.namespace_or_default().to_string();
    let env = environment(c, &container_path, &namespace, shape.kind, lookups, issues);
    if !c.env_from.is_empty() {
        issues.push(Issue::warning(
            format!("{container_path}.envFrom"),
            "not resolved locally: the variables it would load are not set (list them under env)",
        ));
    }
    let port_names: BTreeMap<&str, i64> = c
        .ports
        .iter()
        .filter_map(|p| Some((p.name.as_deref()?, p.container_port)))
        .collect();
    let declared_port = c.serving_port();
    let probe = |p: &Option<Probe>| {
        p.as_ref()
            .and_then(|p| local_probe(p, declared_port, &port_names))
    };
    let process = LocalProcess {
        container: c.name.clone(),
        argv,
        env: env.0,
        inherited: env.1,
        working_dir: c.working_dir.clone(),
        declared_port,
        readiness: probe(&c.readiness_probe),
        liveness: probe(&c.liveness_probe),
        startup: probe(&c.startup_probe),
        termination_grace: Duration::from_secs(
            u64::try_from(shape.grace.unwrap_or(30)).unwrap_or(0),
        ),
        cpu_request_milli: c
            .resources
            .effective_request("cpu")
            .map(|q| q.milli_value()),
        memory_request_bytes: c.resources.effective_request("memory").map(|q| q.value()),
    };
    Some(LocalWorkload {
        name: shape.meta.name.clone(),
        namespace,
        kind: shape.kind,
        initial_replicas: shape.initial_replicas,
        labels: shape.labels,
        container_concurrency: shape.container_concurrency,
        timeouts: RequestTimeouts::of(manifest, &lookups.revision_defaults),
        process,
    })
}

/// The annotation on the object, or else on its pod template.
fn command_annotation<'a>(shape: &Shape<'a>) -> (Option<&'a str>, String) {
    let path = |prefix: &str| format!("{prefix}metadata.annotations[{COMMAND_ANNOTATION}]");
    if let Some(line) = shape.meta.annotations.get(COMMAND_ANNOTATION) {
        return (Some(line), path(""));
    }
    let on_template = shape
        .template_meta
        .and_then(|m| m.annotations.get(COMMAND_ANNOTATION));
    match on_template {
        Some(line) => (Some(line), path("spec.template.")),
        None => (None, path("")),
    }
}

/// Knative serves from the container with a port; otherwise the first container serves.
fn serving_container(shape: &Shape<'_>) -> usize {
    if shape.kind == WorkloadKind::KnativeService {
        return shape
            .containers
            .iter()
            .position(|c| !c.ports.is_empty())
            .unwrap_or(0);
    }
    0
}

fn model_only(isvc: &crate::kinds::kserve::InferenceService) -> Issue {
    let p = &isvc.spec.predictor;
    let (path, what) = match (&p.model, p.frameworks().first()) {
        (Some(m), _) => (
            "spec.predictor.model".to_string(),
            format!(
                "a model served by a KServe runtime (modelFormat {:?})",
                m.model_format
                    .as_ref()
                    .map(|f| f.name.as_str())
                    .unwrap_or_default()
            ),
        ),
        (None, Some(framework)) => (
            format!("spec.predictor.{framework}"),
            format!("a {framework} model served by a KServe runtime"),
        ),
        (None, None) => (
            "spec.predictor".to_string(),
            "a predictor without containers".to_string(),
        ),
    };
    Issue::error(
        path,
        format!(
            "{what} cannot run locally: ebb has no container runtime. Add the annotation {COMMAND_ANNOTATION}: \"<program> --port {{port}}\" to the InferenceService metadata with a model server on this machine (e.g. \"ebb model-server --port {{port}} --name {}\"), or use spec.predictor.containers with command and args",
            isvc.metadata.name
        ),
    )
    .at_key()
}

/// Kubernetes semantics: `command` replaces the image's entrypoint, `args` its default
/// arguments. Without `command` the entrypoint is inside the image, which ebb cannot read.
fn container_argv(
    c: &Container,
    path: &str,
    kind: WorkloadKind,
    issues: &mut Vec<Issue>,
) -> Option<Vec<String>> {
    if !c.command.is_empty() {
        return Some(c.command.iter().chain(&c.args).cloned().collect());
    }
    let object = match kind {
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::InferenceService => "InferenceService",
        WorkloadKind::KnativeService => "Service",
    };
    let fix = format!(
        "Either add command: (and args:) with a program on this machine, or annotate the {object} with {COMMAND_ANNOTATION}: \"<program> --port {{port}}\" (the image stays for clusters)"
    );
    let message = match (&c.image, c.args.is_empty()) {
        (Some(image), true) => format!(
            "container {:?} only names an image ({image}); ebb runs each replica as a local process and cannot run images. {fix}",
            c.name
        ),
        (_, false) => format!(
            "container {:?} has args but no command: the program would be the image's entrypoint, which ebb cannot know locally. {fix}",
            c.name
        ),
        (None, true) => format!("container {:?} has nothing to run. {fix}", c.name),
    };
    issues.push(Issue::error(path, message).at_key());
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mode, Source, check};

    const KNATIVE: &str = "apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: llm}
spec:
  template:
    metadata:
      annotations: {ebb.dev/command: 'ebb model-server --port {port}'}
    spec:
      timeoutSeconds: 600
      responseStartTimeoutSeconds: 30
      idleTimeoutSeconds: 20
      containers: [{image: llm:1}]
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: iris
  annotations: {ebb.dev/command: 'ebb model-server --port {port}'}
spec:
  predictor:
    timeout: 120
    containers: [{name: kserve-container, image: iris:1}]
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: plain
  annotations: {ebb.dev/command: 'ebb model-server --port {port}'}
spec:
  predictor:
    timeout: 0
    containers: [{name: kserve-container, image: plain:1}]
";

    #[test]
    fn request_timeouts_come_from_the_revision_and_the_predictor() {
        let checked = check(&[Source::new("t.yaml", KNATIVE)], Mode::Local);
        assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        let local = workloads(&checked.objects);
        let timeouts: Vec<_> = local
            .iter()
            .map(|w| {
                let t = w.timeouts;
                (w.name.as_str(), [t.request, t.response_start, t.idle])
            })
            .collect();
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(
            timeouts,
            [
                ("llm", [secs(600), secs(30), secs(20)]),
                ("iris", [secs(120), None, None]),
                ("plain", [None, None, None]),
            ],
            "0 means Knative's default (no limit for the idle timeout)"
        );
    }

    #[test]
    fn a_knative_services_response_start_defaults_to_the_clusters_not_to_its_timeout() {
        let text = "apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: long}
spec:
  template:
    metadata:
      annotations: {ebb.dev/command: 'ebb model-server --port {port}'}
    spec:
      timeoutSeconds: 600
      containers: [{image: llm:1}]
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: short}
spec:
  template:
    metadata:
      annotations: {ebb.dev/command: 'ebb model-server --port {port}'}
    spec:
      timeoutSeconds: 200
      containers: [{image: llm:1}]
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: predictor
  annotations: {ebb.dev/command: 'ebb model-server --port {port}'}
spec:
  predictor:
    timeout: 500
    containers: [{name: kserve-container, image: iris:1}]
";
        let checked = check(&[Source::new("t.yaml", text)], Mode::Local);
        let found: Vec<String> = checked.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("t.yaml:9:")
                && found[0].contains("warning")
                && found[0].contains("spec.template.spec.timeoutSeconds")
                && found[0].contains("set responseStartTimeoutSeconds: 600"),
            "{found:?}"
        );
        let starts: Vec<_> = workloads(&checked.objects)
            .iter()
            .map(|w| (w.name.clone(), w.timeouts.response_start))
            .collect();
        assert_eq!(
            starts,
            [
                ("long".to_string(), Some(Duration::from_secs(300))),
                ("short".to_string(), None),
                // KServe sets responseStartTimeoutSeconds from its `timeout`.
                ("predictor".to_string(), None),
            ]
        );
    }

    #[test]
    fn a_response_start_or_idle_timeout_set_to_0_has_no_limit_of_its_own() {
        // Knative's webhook fills only fields left unset; 0 turns queue-proxy's timer off.
        let text = format!(
            "{CONFIG_DEFAULTS}{}",
            KNATIVE
                .replace(
                    "responseStartTimeoutSeconds: 30",
                    "responseStartTimeoutSeconds: 0"
                )
                .replace("idleTimeoutSeconds: 20", "idleTimeoutSeconds: 0")
        );
        let checked = check(&[Source::new("t.yaml", &text)], Mode::Local);
        assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        let llm = workloads(&checked.objects).remove(0);
        assert_eq!(
            [
                llm.timeouts.request,
                llm.timeouts.response_start,
                llm.timeouts.idle
            ],
            [Some(Duration::from_secs(600)), None, None]
        );
    }

    #[test]
    fn a_response_start_timeout_beyond_the_maximum_is_placed_at_its_field() {
        let text = KNATIVE.replace(
            "responseStartTimeoutSeconds: 30",
            "responseStartTimeoutSeconds: 601",
        );
        let checked = check(&[Source::new("t.yaml", &text)], Mode::Local);
        let found: Vec<String> = checked.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("t.yaml:10:")
                && found[0].contains("spec.template.spec.responseStartTimeoutSeconds")
                && found[0].contains("expected 0 <= 601 <= 600"),
            "{found:?}"
        );
    }

    const CONFIG_DEFAULTS: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: config-defaults, namespace: knative-serving}
data:
  revision-timeout-seconds: '900'
  max-revision-timeout-seconds: '3600'
  revision-response-start-timeout-seconds: '120'
  revision-idle-timeout-seconds: '60'
  container-concurrency: '4'
---
";

    #[test]
    fn config_defaults_fill_what_a_revision_leaves_unset_and_bound_what_it_sets() {
        // An LLM service past upstream's 600 s maximum, which this cluster raised to 3600.
        let text = format!(
            "{CONFIG_DEFAULTS}{}",
            KNATIVE.replace("timeoutSeconds: 600", "timeoutSeconds: 1800")
        );
        let checked = check(&[Source::new("t.yaml", &text)], Mode::Local);
        assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        let local: Vec<_> = workloads(&checked.objects)
            .iter()
            .map(|w| {
                let t = w.timeouts;
                let timeouts = [t.request, t.response_start, t.idle];
                (w.name.clone(), timeouts, w.container_concurrency)
            })
            .collect();
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(
            local,
            [
                // Everything set by the revision itself; containerConcurrency from the cluster.
                ("llm".to_string(), [secs(1800), secs(30), secs(20)], 4),
                // KServe's `timeout` sets both; the idle timeout is the cluster's.
                ("iris".to_string(), [secs(120), None, secs(60)], 4),
                // Nothing set: the cluster's three.
                ("plain".to_string(), [secs(900), secs(120), secs(60)], 4),
            ]
        );
        // The KPA target follows the defaulted containerConcurrency (70 % of 4).
        let config = checked.kpa_config();
        let targets: Vec<_> = checked
            .autoscalers()
            .iter()
            .map(|a| {
                let settings = a.spec.kpa.as_ref().expect("a KPA");
                ebb_core::kpa::KpaSpec::resolve(&config, settings).target_value
            })
            .collect();
        assert_eq!(targets, [2.8, 2.8, 2.8]);

        // Without the ConfigMap, 1800 s is over upstream's maximum.
        let checked = check(
            &[Source::new("t.yaml", &text[CONFIG_DEFAULTS.len()..])],
            Mode::Local,
        );
        let found: Vec<String> = checked.diagnostics.iter().map(|d| d.to_string()).collect();
        assert!(
            found
                .iter()
                .any(|f| f.contains("expected 0 <= 1800 <= 600")),
            "{found:?}"
        );
    }

    #[test]
    fn config_defaults_narrow_container_concurrency_for_both_kinds() {
        let config = "apiVersion: v1
kind: ConfigMap
metadata: {name: config-defaults, namespace: knative-serving}
data: {container-concurrency-max-limit: '10', allow-container-concurrency-zero: 'false'}
---
";
        let text = format!(
            "{config}{}",
            KNATIVE
                .replace(
                    "timeoutSeconds: 600",
                    "timeoutSeconds: 600\n      containerConcurrency: 50"
                )
                .replace("timeout: 0", "timeout: 0\n    containerConcurrency: 5")
        );
        let checked = check(&[Source::new("t.yaml", &text)], Mode::Local);
        let found: Vec<String> = checked.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("Service/llm")
                && found[0].contains("spec.template.spec.containerConcurrency")
                && found[0].contains("expected 0 <= 50 <= 10"),
            "{found:?}"
        );
        // `iris` sets none, and the cluster's default is 0, which this cluster forbids.
        assert!(
            found[1].contains("InferenceService/iris")
                && found[1].contains("spec.predictor.containerConcurrency")
                && found[1].contains("allow-container-concurrency-zero"),
            "{found:?}"
        );
    }

    #[test]
    fn a_bad_config_defaults_is_an_error_at_its_key() {
        let text = format!(
            "{}{KNATIVE}",
            CONFIG_DEFAULTS.replace(
                "container-concurrency: '4'",
                "container-concurrency: '2000'"
            )
        );
        let checked = check(&[Source::new("t.yaml", &text)], Mode::Local);
        let found: Vec<String> = checked.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("t.yaml:9:")
                && found[0].contains("data[container-concurrency]")
                && found[0].contains("expected 0 <= 2000 <= 1000"),
            "{found:?}"
        );
    }

    #[test]
    fn expansion_follows_kubernetes() {
        let env = vec![
            ("PORT".to_string(), "8001".to_string()),
            ("HOST".to_string(), "127.0.0.1".to_string()),
        ];
        assert_eq!(expand("$(HOST):$(PORT)", &env), "127.0.0.1:8001");
        assert_eq!(
            expand("$(MISSING) $$(HOST) $", &env),
            "$(MISSING) $(HOST) $"
        );
        assert_eq!(expand("$(unclosed", &env), "$(unclosed");
    }

    #[test]
    fn the_port_reaches_arguments_and_values() {
        let process = LocalProcess {
            container: "app".into(),
            argv: vec![
                "serve".into(),
                "--port".into(),
                "{port}".into(),
                "--url=$(URL)".into(),
            ],
            env: vec![
                ("PORT".into(), "{port}".into()),
                ("URL".into(), "http://localhost:$(PORT)/".into()),
            ],
            inherited: vec![],
            working_dir: None,
            declared_port: Some(8080),
            readiness: None,
            liveness: None,
            startup: None,
            termination_grace: Duration::from_secs(30),
            cpu_request_milli: None,
            memory_request_bytes: None,
        };
        let (argv, env) = process.command_for(9001);
        assert_eq!(
            argv,
            ["serve", "--port", "9001", "--url=http://localhost:9001/"]
        );
        assert_eq!(env[0], ("PORT".to_string(), "9001".to_string()));
    }
}
