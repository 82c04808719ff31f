//! What every Kubernetes object has: `apiVersion`, `kind`, `metadata`, and the name rules the
//! API server applies to them.

use std::collections::BTreeMap;
use std::fmt;

use ebb_core::FieldError;
use ebb_core::hpa::spec::is_dns1123_label;
use serde::{Deserialize, Serialize};

/// A top-level object with a `spec`: Deployment, HPA, InferenceService, ScaledObject, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S> {
    /// e.g. `apps/v1`.
    pub api_version: String,
    /// e.g. `Deployment`.
    pub kind: String,
    /// Name, namespace, labels, annotations.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The kind's own fields.
    pub spec: S,
}

/// The parts of `metadata` ebb reads. Server-filled fields (uid, resourceVersion,
/// creationTimestamp, managedFields, ...) are accepted and ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Object name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Namespace; absent means the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations (Knative autoscaling settings, `ebb.dev/command`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ObjectMeta {
    /// The namespace, with the default filled in.
    pub fn namespace_or_default(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }
}

/// A port given by number or by name (`targetPort`, probe ports).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IntOrString {
    /// A port number.
    Int(i64),
    /// A named port of the container.
    Str(String),
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(n) => write!(f, "{n}"),
            IntOrString::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl Serialize for IntOrString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            IntOrString::Int(n) => s.serialize_i64(*n),
            IntOrString::Str(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number or a port name")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i64::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom("port number out of range"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::Str(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `metadata.name` rules. `rule` is the name format the kind requires.
pub(crate) fn validate_name(name: &str, rule: NameRule) -> Option<FieldError> {
    if name.is_empty() {
        return Some(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    }
    let ok = match rule {
        NameRule::Subdomain => is_dns1123_subdomain(name),
        NameRule::Label1035 => is_dns1035_label(name),
    };
    (!ok).then(|| FieldError::invalid("metadata.name", format!("{name:?}"), rule.message()))
}

/// The name formats Kubernetes uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// Most objects (Deployment, HPA, ConfigMap): `my-app.v2`.
    Subdomain,
    /// Services and InferenceServices: `my-app`, starting with a letter.
    Label1035,
}

impl NameRule {
    fn message(self) -> &'static str {
        match self {
            NameRule::Subdomain => {
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            }
            NameRule::Label1035 => {
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name', or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            }
        }
    }
}

/// RFC 1123 subdomain: dot-separated RFC 1123 labels, at most 253 characters.
pub(crate) fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// RFC 1035 label: an RFC 1123 label that starts with a letter.
pub(crate) fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// A quoted string for `Invalid value: "x"` messages, as the API server prints strings.
pub(crate) fn quoted(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules_follow_kubernetes() {
        assert!(is_dns1123_subdomain("app-fastapi.v2"));
        assert!(!is_dns1123_subdomain("App"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(is_dns1035_label("custom-model"));
        assert!(!is_dns1035_label("1model"));
        assert!(!is_dns1035_label("a.b"));
        assert_eq!(
            validate_name("", NameRule::Subdomain).map(|e| e.to_string()),
            Some("metadata.name: Required value: name or generateName is required".to_string())
        );
        let bad = validate_name("Web_App", NameRule::Subdomain).expect("invalid");
        assert!(
            bad.to_string()
                .starts_with("metadata.name: Invalid value: \"Web_App\": a lowercase RFC 1123")
        );
    }
}
