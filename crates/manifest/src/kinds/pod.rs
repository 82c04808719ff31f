//! The pod template parts ebb uses to run replicas: containers (command, args, env, ports,
//! resources, probes) and the termination grace period, with the API server's rules for them.

use std::collections::{BTreeMap, BTreeSet};

use ebb_core::{FieldError, Quantity};
use serde::{Deserialize, Serialize};

use super::meta::{IntOrString, ObjectMeta, quoted};
use crate::diagnostic::Issues;

/// `spec.template` of a Deployment (and the revision template of a Knative Service).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateSpec {
    /// Labels the selector matches, annotations.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The pod.
    #[serde(default)]
    pub spec: PodSpec,
}

/// The fields of a PodSpec ebb reads. Other PodSpec fields (volumes, nodeSelector, ...) are
/// accepted and ignored locally.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// The containers; the first is the one ebb runs.
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Seconds between SIGTERM and SIGKILL (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
}

/// One container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// DNS-1123 label, unique in the pod.
    #[serde(default)]
    pub name: String,
    /// The image a cluster runs; locally ebb runs `command` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The program and its fixed arguments (the image's ENTRYPOINT when absent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments (the image's CMD when absent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Environment variables, in order (later ones may refer to earlier ones as `$(NAME)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Whole ConfigMaps or Secrets loaded as variables (not resolved locally).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<serde_json::Value>,
    /// Ports the container listens on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    /// Requests and limits.
    #[serde(default)]
    pub resources: ResourceRequirements,
    /// When the container can take traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    /// When the container should be restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    /// When the container has finished starting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
}

/// One environment variable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// Variable name.
    #[serde(default)]
    pub name: String,
    /// A literal value (may refer to earlier variables as `$(NAME)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A value from a Secret, ConfigMap, or the pod itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

/// Where an environment variable's value comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    /// A key of a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<KeySelector>,
    /// A key of a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<KeySelector>,
    /// A field of the pod (`metadata.name`, `status.podIP`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<FieldRef>,
    /// A resource of the container (`limits.cpu`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_field_ref: Option<ResourceFieldRef>,
}

/// `secretKeyRef` / `configMapKeyRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeySelector {
    /// The Secret or ConfigMap.
    #[serde(default)]
    pub name: String,
    /// The key in it.
    #[serde(default)]
    pub key: String,
    /// Whether a missing key leaves the variable unset instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// `fieldRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldRef {
    /// e.g. `metadata.name`.
    #[serde(default)]
    pub field_path: String,
    /// Version of the schema the path is written in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

/// `resourceFieldRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceFieldRef {
    /// e.g. `limits.cpu`.
    #[serde(default)]
    pub resource: String,
    /// Container name (defaults to this container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Unit to express the value in (`1m`, `1Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divisor: Option<Quantity>,
}

/// One container port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// Port number, 1–65535.
    #[serde(default)]
    pub container_port: i64,
    /// Name probes and Services can refer to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// TCP (default), UDP or SCTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// Requests and limits by resource name (`cpu`, `memory`, `nvidia.com/gpu`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    /// What the scheduler reserves; the base of HPA utilization.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, Quantity>,
    /// The most the container may use.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Quantity>,
}

impl ResourceRequirements {
    /// The request for `resource`, or the limit when only a limit is set (the API server
    /// defaults a missing request to the limit).
    pub fn effective_request(&self, resource: &str) -> Option<&Quantity> {
        self.requests
            .get(resource)
            .or_else(|| self.limits.get(resource))
    }
}

/// A readiness, liveness or startup probe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// An HTTP GET that must answer 200–399.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetAction>,
    /// A TCP connect that must succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketAction>,
    /// A command that must exit 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    /// A gRPC health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcAction>,
    /// Seconds after start before the first probe (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<i64>,
    /// Seconds before a probe times out (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// Seconds between probes (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i64>,
    /// Successes in a row to pass (default 1; must be 1 for liveness and startup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<i64>,
    /// Failures in a row to fail (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i64>,
    /// Grace period override when this probe kills the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
}

/// `httpGet`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpGetAction {
    /// Request path (default `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Port number or container port name (Knative and KServe default it to the serving port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<IntOrString>,
    /// Host (default: the pod's IP; locally 127.0.0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// HTTP (default) or HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Extra request headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<HttpHeader>,
}

/// One header of an HTTP probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpHeader {
    /// Header name.
    pub name: String,
    /// Header value.
    #[serde(default)]
    pub value: String,
}

/// `tcpSocket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpSocketAction {
    /// Port number or container port name (Knative and KServe default it to the serving port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<IntOrString>,
    /// Host (default: the pod's IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// `exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecAction {
    /// The command, run without a shell.
    #[serde(default)]
    pub command: Vec<String>,
}

/// `grpc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrpcAction {
    /// Port number.
    pub port: i64,
    /// Service name for the health request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// The kind of probe, which changes what is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Readiness,
    Liveness,
    Startup,
}

impl PodSpec {
    /// API-server rules for the containers and the grace period. `prefix` is the path of this
    /// pod spec in its document; `image_required` is false where ebb runs a local command.
    pub(crate) fn validate(&self, prefix: &str, image_required: bool, issues: &mut Issues) {
        if self.containers.is_empty() {
            issues.field(FieldError::required(
                format!("{prefix}.containers"),
                "must specify at least one container",
            ));
        }
        let rules = ContainerRules {
            names_required: true,
            image_required,
            probe_ports_required: true,
        };
        validate_containers(&self.containers, prefix, rules, issues);
        if let Some(grace) = self.termination_grace_period_seconds
            && grace < 0
        {
            issues.field(FieldError::invalid(
                format!("{prefix}.terminationGracePeriodSeconds"),
                grace,
                "must be greater than or equal to 0",
            ));
        }
    }
}

/// What a platform requires of its containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContainerRules {
    /// Pods need names; Knative and KServe name unnamed containers themselves.
    pub(crate) names_required: bool,
    /// Clusters need images; locally ebb runs a command.
    pub(crate) image_required: bool,
    /// Pods need probe ports; Knative and KServe default them to the serving port.
    pub(crate) probe_ports_required: bool,
}

/// Rules for a list of containers at `{prefix}.containers`.
pub(crate) fn validate_containers(
    containers: &[Container],
    prefix: &str,
    rules: ContainerRules,
    issues: &mut Issues,
) {
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let path = format!("{prefix}.containers[{i}]");
        if c.name.is_empty() && !rules.names_required {
            // Defaulted by the platform (user-container, kserve-container).
        } else if c.name.is_empty() {
            issues.field(FieldError::required(format!("{path}.name"), ""));
        } else if !ebb_core::hpa::spec::is_dns1123_label(&c.name) {
            issues.field(FieldError::invalid(
                format!("{path}.name"),
                quoted(&c.name),
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            ));
        } else if !names.insert(c.name.as_str()) {
            issues.error(
                format!("{path}.name"),
                format!("Duplicate value: {}", quoted(&c.name)),
            );
        }
        if rules.image_required && c.image.as_deref().is_none_or(str::is_empty) {
            issues.field(FieldError::required(format!("{path}.image"), ""));
        }
        c.validate(&path, rules, issues);
    }
}

impl Container {
    fn validate(&self, path: &str, rules: ContainerRules, issues: &mut Issues) {
        let mut port_names = BTreeSet::new();
        for (i, port) in self.ports.iter().enumerate() {
            let pp = format!("{path}.ports[{i}]");
            if !(1..=65535).contains(&port.container_port) {
                issues.field(FieldError::invalid(
                    format!("{pp}.containerPort"),
                    port.container_port,
                    "must be between 1 and 65535, inclusive",
                ));
            }
            if let Some(name) = &port.name {
                if let Some(why) = port_name_problem(name) {
                    issues.field(FieldError::invalid(format!("{pp}.name"), quoted(name), why));
                } else if !port_names.insert(name.as_str()) {
                    issues.error(
                        format!("{pp}.name"),
                        format!("Duplicate value: {}", quoted(name)),
                    );
                }
            }
            if let Some(protocol) = &port.protocol
                && !matches!(protocol.as_str(), "TCP" | "UDP" | "SCTP")
            {
                issues.field(FieldError::unsupported(
                    format!("{pp}.protocol"),
                    protocol,
                    &["SCTP", "TCP", "UDP"],
                ));
            }
        }
        for (i, env) in self.env.iter().enumerate() {
            env.validate(&format!("{path}.env[{i}]"), issues);
        }
        self.resources
            .validate(&format!("{path}.resources"), issues);
        for (kind, field, probe) in [
            (
                ProbeKind::Readiness,
                "readinessProbe",
                &self.readiness_probe,
            ),
            (ProbeKind::Liveness, "livenessProbe", &self.liveness_probe),
            (ProbeKind::Startup, "startupProbe", &self.startup_probe),
        ] {
            if let Some(p) = probe {
                let context = ProbeContext {
                    kind,
                    port_names: &port_names,
                    port_required: rules.probe_ports_required,
                };
                p.validate(&context, &format!("{path}.{field}"), issues);
            }
        }
    }

    /// The port ebb should expect the process to listen on: the first TCP container port.
    pub fn serving_port(&self) -> Option<u16> {
        self.ports
            .iter()
            .find(|p| p.protocol.as_deref().unwrap_or("TCP") == "TCP")
            .and_then(|p| u16::try_from(p.container_port).ok())
    }
}

/// IANA service name rules for port names.
fn port_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 15 {
        Some("must be no more than 15 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Some("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    } else if name.contains("--") {
        Some("must not contain consecutive hyphens")
    } else if name.starts_with('-') || name.ends_with('-') {
        Some("must not begin or end with a hyphen")
    } else if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        Some("must contain at least one letter (a-z)")
    } else {
        None
    }
}

impl EnvVar {
    fn validate(&self, path: &str, issues: &mut Issues) {
        if self.name.is_empty() {
            issues.field(FieldError::required(format!("{path}.name"), ""));
        } else if !is_env_var_name(&self.name) {
            issues.field(FieldError::invalid(
                format!("{path}.name"),
                quoted(&self.name),
                "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name', or 'MY_ENV.NAME', or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')",
            ));
        }
        let Some(from) = &self.value_from else {
            return;
        };
        let vp = format!("{path}.valueFrom");
        if self.value.as_deref().is_some_and(|v| !v.is_empty()) {
            issues.field(FieldError::invalid(
                vp.clone(),
                "\"\"",
                "may not be specified when `value` is not empty",
            ));
        }
        let sources = [
            from.field_ref.is_some(),
            from.resource_field_ref.is_some(),
            from.config_map_key_ref.is_some(),
            from.secret_key_ref.is_some(),
        ];
        match sources.iter().filter(|s| **s).count() {
            0 => issues.field(FieldError::invalid(
                vp.clone(),
                "\"\"",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            )),
            1 => {}
            _ => issues.field(FieldError::invalid(
                vp.clone(),
                "\"\"",
                "may not have more than one field specified at a time",
            )),
        }
        for (field, selector) in [
            ("secretKeyRef", &from.secret_key_ref),
            ("configMapKeyRef", &from.config_map_key_ref),
        ] {
            if let Some(s) = selector {
                if s.name.is_empty() {
                    issues.field(FieldError::required(format!("{vp}.{field}.name"), ""));
                }
                if s.key.is_empty() {
                    issues.field(FieldError::required(format!("{vp}.{field}.key"), ""));
                }
            }
        }
        if let Some(f) = &from.field_ref
            && f.field_path.is_empty()
        {
            issues.field(FieldError::required(format!("{vp}.fieldRef.fieldPath"), ""));
        }
        if let Some(r) = &from.resource_field_ref
            && r.resource.is_empty()
        {
            issues.field(FieldError::required(
                format!("{vp}.resourceFieldRef.resource"),
                "",
            ));
        }
    }
}

/// `[-._a-zA-Z][-._a-zA-Z0-9]*`.
fn is_env_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b"-._".contains(&b))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

impl ResourceRequirements {
    fn validate(&self, path: &str, issues: &mut Issues) {
        for (field, map) in [("requests", &self.requests), ("limits", &self.limits)] {
            for (name, q) in map {
                if q.milli_value() < 0 {
                    issues.field(FieldError::invalid(
                        format!("{path}.{field}[{name}]"),
                        format!("\"{q}\""),
                        "must be greater than or equal to 0",
                    ));
                }
            }
        }
        for (name, request) in &self.requests {
            if let Some(limit) = self.limits.get(name)
                && request > limit
            {
                issues.field(FieldError::invalid(
                    format!("{path}.requests[{name}]"),
                    format!("\"{request}\""),
                    format!("must be less than or equal to {name} limit of {limit}"),
                ));
            }
        }
    }
}

/// What a probe is checked against.
struct ProbeContext<'a> {
    kind: ProbeKind,
    port_names: &'a BTreeSet<&'a str>,
    port_required: bool,
}

impl Probe {
    fn validate(&self, context: &ProbeContext<'_>, path: &str, issues: &mut Issues) {
        let kind = context.kind;
        let handlers = [
            ("exec", self.exec.is_some()),
            ("httpGet", self.http_get.is_some()),
            ("tcpSocket", self.tcp_socket.is_some()),
            ("grpc", self.grpc.is_some()),
        ];
        let set: Vec<&str> = handlers.iter().filter(|h| h.1).map(|h| h.0).collect();
        match set.as_slice() {
            [] => issues.field(FieldError::required(path, "must specify a handler type")),
            [_] => {}
            [_, extra, ..] => issues.field(FieldError::forbidden(
                format!("{path}.{extra}"),
                "may not specify more than 1 handler type",
            )),
        }
        for (field, value) in [
            ("initialDelaySeconds", self.initial_delay_seconds),
            ("timeoutSeconds", self.timeout_seconds),
            ("periodSeconds", self.period_seconds),
            ("successThreshold", self.success_threshold),
            ("failureThreshold", self.failure_threshold),
        ] {
            if let Some(v) = value
                && v < 0
            {
                issues.field(FieldError::invalid(
                    format!("{path}.{field}"),
                    v,
                    "must be greater than or equal to 0",
                ));
            }
        }
        if kind != ProbeKind::Readiness
            && let Some(s) = self.success_threshold
            && s != 1
        {
            issues.field(FieldError::invalid(
                format!("{path}.successThreshold"),
                s,
                "must be 1",
            ));
        }
        if kind == ProbeKind::Readiness && self.termination_grace_period_seconds.is_some() {
            issues.field(FieldError::invalid(
                format!("{path}.terminationGracePeriodSeconds"),
                self.termination_grace_period_seconds.unwrap_or_default(),
                "must not be set for readinessProbes",
            ));
        }
        if let Some(h) = &self.http_get {
            validate_probe_port(
                h.port.as_ref(),
                &format!("{path}.httpGet.port"),
                context,
                issues,
            );
            if let Some(scheme) = &h.scheme
                && !matches!(scheme.as_str(), "HTTP" | "HTTPS")
            {
                issues.field(FieldError::unsupported(
                    format!("{path}.httpGet.scheme"),
                    scheme,
                    &["HTTP", "HTTPS"],
                ));
            }
        }
        if let Some(t) = &self.tcp_socket {
            validate_probe_port(
                t.port.as_ref(),
                &format!("{path}.tcpSocket.port"),
                context,
                issues,
            );
        }
        if let Some(e) = &self.exec
            && e.command.is_empty()
        {
            issues.field(FieldError::required(format!("{path}.exec.command"), ""));
        }
        if let Some(g) = &self.grpc
            && !(1..=65535).contains(&g.port)
        {
            issues.field(FieldError::invalid(
                format!("{path}.grpc.port"),
                g.port,
                "must be between 1 and 65535, inclusive",
            ));
        }
    }
}

fn validate_probe_port(
    port: Option<&IntOrString>,
    path: &str,
    context: &ProbeContext<'_>,
    issues: &mut Issues,
) {
    let Some(port) = port else {
        if context.port_required {
            issues.field(FieldError::required(path, ""));
        }
        return;
    };
    match port {
        IntOrString::Int(n) if !(1..=65535).contains(n) => issues.field(FieldError::invalid(
            path,
            n,
            "must be between 1 and 65535, inclusive",
        )),
        IntOrString::Int(_) => {}
        IntOrString::Str(name) => {
            if let Some(why) = port_name_problem(name) {
                issues.field(FieldError::invalid(path, quoted(name), why));
            } else if !context.port_names.contains(name.as_str()) {
                issues.field(FieldError::invalid(
                    path,
                    quoted(name),
                    "must be the name of one of the container's ports",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(issues: &Issues) -> Vec<String> {
        issues.0.iter().map(|i| i.message.clone()).collect()
    }

    #[test]
    fn env_names_follow_the_api_rule() {
        assert!(is_env_var_name("WANDB_API_KEY"));
        assert!(is_env_var_name("my.env-name"));
        assert!(!is_env_var_name("1X"));
        assert!(!is_env_var_name("A B"));
    }

    #[test]
    fn a_probe_needs_exactly_one_handler() {
        let mut issues = Issues::default();
        let probe = Probe {
            exec: Some(ExecAction {
                command: vec!["true".into()],
            }),
            tcp_socket: Some(TcpSocketAction {
                port: Some(IntOrString::Int(8080)),
                host: None,
            }),
            ..Probe::default()
        };
        let names = BTreeSet::new();
        let context = |kind| ProbeContext {
            kind,
            port_names: &names,
            port_required: true,
        };
        probe.validate(&context(ProbeKind::Liveness), "p", &mut issues);
        Probe::default().validate(&context(ProbeKind::Readiness), "q", &mut issues);
        assert_eq!(
            messages(&issues),
            [
                "p.tcpSocket: Forbidden: may not specify more than 1 handler type",
                "q: Required value: must specify a handler type",
            ]
        );
    }

    #[test]
    fn requests_may_not_exceed_limits() {
        let mut issues = Issues::default();
        let q = |s: &str| s.parse::<Quantity>().expect("quantity");
        let resources = ResourceRequirements {
            requests: [("cpu".to_string(), q("600m"))].into(),
            limits: [("cpu".to_string(), q("500m"))].into(),
        };
        resources.validate("r", &mut issues);
        assert_eq!(
            messages(&issues),
            [
                "r.requests[cpu]: Invalid value: \"600m\": must be less than or equal to cpu limit of 500m"
            ]
        );
    }
}
