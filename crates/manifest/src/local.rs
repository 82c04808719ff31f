//! How a workload runs on one machine without a container runtime: each replica is a local
//! process started from the container's `command` + `args` (or the `ebb.dev/command`
//! annotation, which keeps the image for clusters), with its `env`, `PORT` set to the replica's
//! port, and `{port}` in arguments and values replaced by it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::diagnostic::Issue;
use crate::kinds::config::{ConfigMap, Secret};
use crate::kinds::meta::{IntOrString, ObjectMeta};
use crate::kinds::pod::{Container, EnvVar, Probe};
use crate::{Manifest, Parsed, shell};

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

/// A probe with Kubernetes' defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalProbe {
    /// What to check.
    pub action: ProbeAction,
    /// Before the first check.
    pub initial_delay: Duration,
    /// Per check.
    pub timeout: Duration,
    /// Between checks.
    pub period: Duration,
    /// Successes in a row to pass.
    pub success_threshold: u32,
    /// Failures in a row to fail.
    pub failure_threshold: u32,
}

/// A probe's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAction {
    /// GET `path` must answer 200–399.
    Http {
        /// Request path.
        path: String,
        /// Which port.
        port: ProbePort,
        /// `http` or `https`.
        https: bool,
        /// Extra headers.
        headers: Vec<(String, String)>,
    },
    /// A TCP connect must succeed.
    Tcp {
        /// Which port.
        port: ProbePort,
    },
    /// The command must exit 0.
    Exec {
        /// Program and arguments.
        command: Vec<String>,
    },
    /// gRPC health check.
    Grpc {
        /// Which port.
        port: ProbePort,
        /// Service name.
        service: Option<String>,
    },
}

/// Which port a probe targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbePort {
    /// The container's serving port: locally, the replica's own port.
    Serving,
    /// Another fixed port.
    Fixed(u16),
}

impl LocalProcess {
    /// argv and environment of a replica listening on `port`: `{port}` replaced, then `$(VAR)`
    /// references expanded as Kubernetes does (env values see earlier variables; arguments see
    /// all of them; unknown references stay as written; `$$` escapes).
    pub fn command_for(&self, port: u16) -> (Vec<String>, Vec<(String, String)>) {
        let port = port.to_string();
        let mut env: Vec<(String, String)> = Vec::with_capacity(self.env.len());
        for (name, value) in &self.env {
            let value = expand(&value.replace(PORT_PLACEHOLDER, &port), &env);
            env.retain(|(n, _)| n != name);
            env.push((name.clone(), value));
        }
        let argv = self
            .argv
            .iter()
            .map(|a| expand(&a.replace(PORT_PLACEHOLDER, &port), &env))
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

/// ConfigMaps and Secrets by (namespace, name).
struct Lookups<'a> {
    config_maps: BTreeMap<(&'a str, &'a str), &'a ConfigMap>,
    secrets: BTreeMap<(&'a str, &'a str), &'a Secret>,
}

impl<'a> Lookups<'a> {
    fn new(objects: &'a [Parsed]) -> Self {
        let mut config_maps = BTreeMap::new();
        let mut secrets = BTreeMap::new();
        for p in objects {
            let meta = p.manifest.metadata();
            let key = (meta.namespace_or_default(), meta.name.as_str());
            match &p.manifest {
                Manifest::ConfigMap(c) => {
                    config_maps.insert(key, c);
                }
                Manifest::Secret(s) => {
                    secrets.insert(key, s);
                }
                _ => {}
            }
        }
        Lookups {
            config_maps,
            secrets,
        }
    }
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

/// `PORT` first, then the container's variables with `valueFrom` resolved where the files
/// allow. Returns the variables and the names to inherit from ebb's environment.
fn environment(
    c: &Container,
    path: &str,
    namespace: &str,
    kind: WorkloadKind,
    lookups: &Lookups<'_>,
    issues: &mut Vec<Issue>,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut env = vec![("PORT".to_string(), PORT_PLACEHOLDER.to_string())];
    let mut inherited = Vec::new();
    for (i, var) in c.env.iter().enumerate() {
        let vp = format!("{path}.env[{i}]");
        if var.name == "PORT" {
            if kind == WorkloadKind::Deployment {
                issues.push(Issue::warning(
                    format!("{vp}.name"),
                    "PORT is set by ebb to each replica's own port; this value is not used locally",
                ));
            }
            continue;
        }
        match resolve(var, &vp, namespace, lookups, issues) {
            Resolved::Value(v) => env.push((var.name.clone(), v)),
            Resolved::Inherit => inherited.push(var.name.clone()),
            Resolved::Unset => {}
        }
    }
    (env, inherited)
}

enum Resolved {
    Value(String),
    Inherit,
    Unset,
}

fn resolve(
    var: &EnvVar,
    path: &str,
    namespace: &str,
    lookups: &Lookups<'_>,
    issues: &mut Vec<Issue>,
) -> Resolved {
    let Some(from) = &var.value_from else {
        return Resolved::Value(var.value.clone().unwrap_or_default());
    };
    let unavailable = |issues: &mut Vec<Issue>, field: &str, what: String| {
        issues.push(Issue::warning(
            format!("{path}.valueFrom.{field}"),
            format!(
                "{what} is not in the given files, so {} is not available locally; ebb passes it through from its own environment when set there",
                var.name
            ),
        ));
        Resolved::Inherit
    };
    if let Some(r) = &from.config_map_key_ref {
        let found = lookups
            .config_maps
            .get(&(namespace, r.name.as_str()))
            .map(|cm| cm.data.get(&r.key));
        return match found {
            Some(Some(v)) => Resolved::Value(v.clone()),
            Some(None) if r.optional == Some(true) => Resolved::Unset,
            Some(None) => {
                issues.push(Issue::error(
                    format!("{path}.valueFrom.configMapKeyRef.key"),
                    format!(
                        "Invalid value: {:?}: ConfigMap {:?} has no such key",
                        r.key, r.name
                    ),
                ));
                Resolved::Unset
            }
            None => unavailable(issues, "configMapKeyRef", format!("ConfigMap {:?}", r.name)),
        };
    }
    if let Some(r) = &from.secret_key_ref {
        let found = lookups
            .secrets
            .get(&(namespace, r.name.as_str()))
            .map(|s| s.value(&r.key));
        return match found {
            Some(Some(v)) => Resolved::Value(v),
            Some(None) if r.optional == Some(true) => Resolved::Unset,
            Some(None) => {
                issues.push(Issue::error(
                    format!("{path}.valueFrom.secretKeyRef.key"),
                    format!(
                        "Invalid value: {:?}: Secret {:?} has no such key (or its value is not UTF-8)",
                        r.key, r.name
                    ),
                ));
                Resolved::Unset
            }
            None => unavailable(issues, "secretKeyRef", format!("Secret {:?}", r.name)),
        };
    }
    if let Some(f) = &from.field_ref {
        let value = match f.field_path.as_str() {
            "metadata.namespace" => Some(namespace.to_string()),
            "status.podIP" | "status.hostIP" => Some("127.0.0.1".to_string()),
            "spec.nodeName" => Some("localhost".to_string()),
            "spec.serviceAccountName" => Some("default".to_string()),
            _ => None,
        };
        return match value {
            Some(v) => Resolved::Value(v),
            None => {
                issues.push(Issue::warning(
                    format!("{path}.valueFrom.fieldRef.fieldPath"),
                    format!(
                        "{:?} has no local value; {} is left unset (local values exist for metadata.namespace, status.podIP, status.hostIP, spec.nodeName, spec.serviceAccountName)",
                        f.field_path, var.name
                    ),
                ));
                Resolved::Unset
            }
        };
    }
    if from.resource_field_ref.is_some() {
        issues.push(Issue::warning(
            format!("{path}.valueFrom.resourceFieldRef"),
            format!(
                "not resolved locally; {} is passed through from ebb's environment when set there",
                var.name
            ),
        ));
        return Resolved::Inherit;
    }
    Resolved::Unset
}

/// A probe with upstream defaults; ports that name the serving port map to the replica's port.
fn local_probe(
    p: &Probe,
    declared: Option<u16>,
    names: &BTreeMap<&str, i64>,
) -> Option<LocalProbe> {
    let port = |port: Option<&IntOrString>| -> Option<ProbePort> {
        let number = match port {
            None => return Some(ProbePort::Serving),
            Some(IntOrString::Int(n)) => *n,
            Some(IntOrString::Str(name)) => *names.get(name.as_str())?,
        };
        let number = u16::try_from(number).ok()?;
        Some(if declared.is_none_or(|d| d == number) {
            ProbePort::Serving
        } else {
            ProbePort::Fixed(number)
        })
    };
    let action = if let Some(h) = &p.http_get {
        ProbeAction::Http {
            path: h.path.clone().unwrap_or_else(|| "/".to_string()),
            port: port(h.port.as_ref())?,
            https: h.scheme.as_deref() == Some("HTTPS"),
            headers: h
                .http_headers
                .iter()
                .map(|x| (x.name.clone(), x.value.clone()))
                .collect(),
        }
    } else if let Some(t) = &p.tcp_socket {
        ProbeAction::Tcp {
            port: port(t.port.as_ref())?,
        }
    } else if let Some(e) = &p.exec {
        ProbeAction::Exec {
            command: e.command.clone(),
        }
    } else {
        let g = p.grpc.as_ref()?;
        ProbeAction::Grpc {
            port: port(Some(&IntOrString::Int(g.port)))?,
            service: g.service.clone(),
        }
    };
    let secs = |v: Option<i64>, default: u64| {
        Duration::from_secs(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(default))
    };
    let count = |v: Option<i64>, default: u32| {
        v.and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v > 0)
            .unwrap_or(default)
    };
    Some(LocalProbe {
        action,
        initial_delay: secs(p.initial_delay_seconds, 0),
        timeout: secs(p.timeout_seconds.filter(|t| *t > 0), 1),
        period: secs(p.period_seconds.filter(|t| *t > 0), 10),
        success_threshold: count(p.success_threshold, 1),
        failure_threshold: count(p.failure_threshold, 3),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
