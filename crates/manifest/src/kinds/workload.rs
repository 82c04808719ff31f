//! apps/v1 Deployment and v1 Service: what ebb runs locally and where it listens.

use std::collections::BTreeMap;

use ebb_core::FieldError;
use ebb_core::hpa::spec::LabelSelector;
use serde::{Deserialize, Serialize};

use super::meta::{IntOrString, NameRule, Object, quoted, validate_name};
use super::pod::PodTemplateSpec;
use crate::diagnostic::Issues;

/// apps/v1 Deployment.
pub type Deployment = Object<DeploymentSpec>;

/// `spec` of a Deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    /// Desired replicas (default 1); an autoscaler takes over from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Which pods belong to the Deployment; must match the template's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// The pod every replica runs.
    #[serde(default)]
    pub template: PodTemplateSpec,
}

/// Whether a missing container image is an error: a cluster needs one; locally ebb runs the
/// container's command and only warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageRule {
    Required,
    Optional,
}

impl Deployment {
    /// API-server rules for a Deployment.
    pub(crate) fn validate(&self, images: ImageRule, issues: &mut Issues) {
        issues.fields(validate_name(&self.metadata.name, NameRule::Subdomain));
        let spec = &self.spec;
        if let Some(r) = spec.replicas
            && r < 0
        {
            issues.field(FieldError::invalid(
                "spec.replicas",
                r,
                "must be greater than or equal to 0",
            ));
        }
        match &spec.selector {
            None => issues.field(FieldError::required("spec.selector", "")),
            Some(s) if s.match_labels.is_empty() && s.match_expressions.is_empty() => {
                issues.field(FieldError::invalid(
                    "spec.selector",
                    "{}",
                    "empty selector is invalid for deployment",
                ))
            }
            Some(s) => {
                if let Err(e) = selector_matches(s, &spec.template.metadata.labels) {
                    issues.push(crate::diagnostic::Issue::field(e));
                }
            }
        }
        spec.template
            .spec
            .validate("spec.template.spec", images == ImageRule::Required, issues);
        if images == ImageRule::Optional {
            for (i, c) in spec.template.spec.containers.iter().enumerate() {
                if c.image.as_deref().is_none_or(str::is_empty) {
                    issues.warning(
                        format!("spec.template.spec.containers[{i}].image"),
                        "Required value: a Kubernetes cluster rejects a container without an image (ebb runs its command locally)",
                    );
                }
            }
        }
    }

    /// The replica count a Deployment starts with.
    pub fn initial_replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }
}

/// Whether `selector` selects `labels`; the error is the API server's when it does not.
fn selector_matches(
    selector: &LabelSelector,
    labels: &BTreeMap<String, String>,
) -> Result<(), FieldError> {
    if label_selector_matches(selector, labels) {
        return Ok(());
    }
    let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
    Err(FieldError::invalid(
        "spec.template.metadata.labels",
        format!("map[string]string{{{}}}", shown.join(", ")),
        "`selector` does not match template `labels`",
    ))
}

/// Kubernetes label selector semantics: every matchLabels pair and every expression holds.
pub fn label_selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    selector
        .match_labels
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
        && selector.match_expressions.iter().all(|e| {
            let value = labels.get(&e.key);
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| e.values.contains(v)),
                "NotIn" => value.is_none_or(|v| !e.values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// v1 Service.
pub type Service = Object<ServiceSpec>;

/// `spec` of a Service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Ports the Service exposes.
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    /// The pods behind the Service.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    /// ClusterIP (default), NodePort, LoadBalancer or ExternalName.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
}

/// One Service port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Required when there is more than one port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The port clients connect to (locally: where ebb listens).
    #[serde(default)]
    pub port: i64,
    /// The pod port (number or container port name); defaults to `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<IntOrString>,
    /// TCP (default), UDP or SCTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// NodePort services only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<i64>,
}

impl Service {
    /// API-server rules for a Service.
    pub(crate) fn validate(&self, issues: &mut Issues) {
        issues.fields(validate_name(&self.metadata.name, NameRule::Label1035));
        let spec = &self.spec;
        let service_type = spec.service_type.as_deref().unwrap_or("ClusterIP");
        if !matches!(
            service_type,
            "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName"
        ) {
            issues.field(FieldError::unsupported(
                "spec.type",
                service_type,
                &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
            ));
        }
        if spec.ports.is_empty() && service_type != "ExternalName" {
            issues.field(FieldError::required("spec.ports", ""));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, port) in spec.ports.iter().enumerate() {
            let path = format!("spec.ports[{i}]");
            match &port.name {
                None if spec.ports.len() > 1 => {
                    issues.field(FieldError::required(format!("{path}.name"), ""))
                }
                Some(name) if !names.insert(name.as_str()) => issues.error(
                    format!("{path}.name"),
                    format!("Duplicate value: {}", quoted(name)),
                ),
                _ => {}
            }
            if !(1..=65535).contains(&port.port) {
                issues.field(FieldError::invalid(
                    format!("{path}.port"),
                    port.port,
                    "must be between 1 and 65535, inclusive",
                ));
            }
            if let Some(IntOrString::Int(t)) = &port.target_port
                && !(1..=65535).contains(t)
            {
                issues.field(FieldError::invalid(
                    format!("{path}.targetPort"),
                    t,
                    "must be between 1 and 65535, inclusive",
                ));
            }
            if let Some(protocol) = &port.protocol
                && !matches!(protocol.as_str(), "TCP" | "UDP" | "SCTP")
            {
                issues.field(FieldError::unsupported(
                    format!("{path}.protocol"),
                    protocol,
                    &["SCTP", "TCP", "UDP"],
                ));
            }
        }
    }
}
