//! v1 ConfigMap and Secret: read only so that `env[].valueFrom` can be resolved locally when
//! the referenced object is in the same files.

use std::collections::BTreeMap;

use ebb_core::FieldError;
use serde::{Deserialize, Serialize};

use super::meta::{NameRule, ObjectMeta, quoted, validate_name};
use crate::diagnostic::Issues;

/// v1 ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    /// `v1`.
    pub api_version: String,
    /// `ConfigMap`.
    pub kind: String,
    /// Name and namespace.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Key → value.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    /// Key → base64 bytes (not usable as environment values).
    #[serde(default)]
    pub binary_data: BTreeMap<String, String>,
    /// Whether the ConfigMap may change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

/// v1 Secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// `v1`.
    pub api_version: String,
    /// `Secret`.
    pub kind: String,
    /// Name and namespace.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Key → base64 value.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    /// Key → plain value (wins over `data`).
    #[serde(default)]
    pub string_data: BTreeMap<String, String>,
    /// e.g. `Opaque`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub secret_type: Option<String>,
    /// Whether the Secret may change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

impl ConfigMap {
    pub(crate) fn validate(&self, issues: &mut Issues) {
        issues.fields(validate_name(&self.metadata.name, NameRule::Subdomain));
        validate_keys(
            self.data.keys().chain(self.binary_data.keys()),
            "data",
            issues,
        );
    }
}

impl Secret {
    pub(crate) fn validate(&self, issues: &mut Issues) {
        issues.fields(validate_name(&self.metadata.name, NameRule::Subdomain));
        validate_keys(self.data.keys(), "data", issues);
        validate_keys(self.string_data.keys(), "stringData", issues);
        for (key, value) in &self.data {
            if decode_base64(value).is_none() {
                issues.field(FieldError::invalid(
                    format!("data[{key}]"),
                    "<secret contents redacted>",
                    "must be base64 encoded (use stringData for plain text)",
                ));
            }
        }
    }

    /// The value of `key` as text: `stringData` first, then decoded `data`.
    pub fn value(&self, key: &str) -> Option<String> {
        if let Some(v) = self.string_data.get(key) {
            return Some(v.clone());
        }
        let bytes = decode_base64(self.data.get(key)?)?;
        String::from_utf8(bytes).ok()
    }
}

fn validate_keys<'a>(keys: impl Iterator<Item = &'a String>, field: &str, issues: &mut Issues) {
    for key in keys {
        let ok = !key.is_empty()
            && key.len() <= 253
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if !ok {
            issues.field(FieldError::invalid(
                format!("{field}[{key}]"),
                quoted(key),
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or 'KEY_NAME', or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            ));
        }
    }
}

/// Standard base64 with padding (what Kubernetes stores in `Secret.data`); whitespace ignored.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(4) {
        return None;
    }
    let value = |b: u8| -> Option<u32> {
        match b {
            b'A'..=b'Z' => Some(u32::from(b - b'A')),
            b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(digits.len() / 4 * 3);
    let chunks = digits.chunks(4).count();
    for (i, chunk) in digits.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|b| **b == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return None;
        }
        let mut n = 0u32;
        for &b in &chunk[..4 - pad] {
            n = (n << 6) | value(b)?;
        }
        n <<= 6 * pad as u32;
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_what_kubectl_encodes() {
        assert_eq!(decode_base64("c2VjcmV0").as_deref(), Some(&b"secret"[..]));
        assert_eq!(decode_base64("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode_base64("YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(decode_base64("").as_deref(), Some(&b""[..]));
        assert_eq!(decode_base64("abc"), None);
        assert_eq!(decode_base64("a=bc"), None);
        assert_eq!(decode_base64("YQ==YQ=="), None);
    }

    #[test]
    fn string_data_wins_over_data() {
        let secret = Secret {
            data: [("k".to_string(), "b2xk".to_string())].into(),
            string_data: [("k".to_string(), "new".to_string())].into(),
            ..Secret::default()
        };
        assert_eq!(secret.value("k").as_deref(), Some("new"));
        let only_data = Secret {
            data: [("k".to_string(), "b2xk".to_string())].into(),
            ..Secret::default()
        };
        assert_eq!(only_data.value("k").as_deref(), Some("old"));
    }
}
