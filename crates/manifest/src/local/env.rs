//! A replica's environment: `PORT` first, then the container's variables, with `valueFrom`
//! resolved from the ConfigMaps, Secrets and pod fields the files give.

use std::collections::BTreeMap;

use super::PORT_PLACEHOLDER;
use super::WorkloadKind;
use crate::diagnostic::Issue;
use crate::kinds::config::{ConfigMap, Secret};
use crate::kinds::defaults::RevisionDefaults;
use crate::kinds::pod::{Container, EnvVar};
use crate::{Manifest, Parsed};

/// ConfigMaps and Secrets by (namespace, name), and the revision defaults they hold.
pub(super) struct Lookups<'a> {
    config_maps: BTreeMap<(&'a str, &'a str), &'a ConfigMap>,
    secrets: BTreeMap<(&'a str, &'a str), &'a Secret>,
    pub(super) revision_defaults: RevisionDefaults,
}

impl<'a> Lookups<'a> {
    pub(super) fn new(objects: &'a [Parsed]) -> Self {
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
            revision_defaults: crate::revision_defaults(objects),
        }
    }
}

/// `PORT` first, then the container's variables with `valueFrom` resolved where the files
/// allow. Returns the variables and the names to inherit from ebb's environment.
pub(super) fn environment(
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
