//! Validation errors that point at a field.
//!
//! Every rule of upstream API validation lives next to the type it checks (HPA spec, KPA
//! annotations) and reports a [`FieldError`] with the field's path, in the same words the
//! Kubernetes API server uses. The manifest reader turns the path into file:line:column;
//! `ebb decide` prints it as is.

use std::fmt;

use serde::Serialize;

/// The Kubernetes field-error kinds we report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FieldErrorKind {
    /// `Invalid value: X: why`.
    Invalid,
    /// `Required value: why`.
    Required,
    /// `Unsupported value: X: supported values: ...`.
    Unsupported,
    /// `Forbidden: why`.
    Forbidden,
}

/// One violated rule: where, what was there, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Dotted path from the object root, with indices: `spec.metrics[0].resource.target`.
    pub path: String,
    /// Which kind of error.
    pub kind: FieldErrorKind,
    /// The offending value as the user wrote it (empty when the field is missing).
    pub value: String,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl FieldError {
    /// `Invalid value`.
    pub fn invalid(
        path: impl Into<String>,
        value: impl fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            path: path.into(),
            kind: FieldErrorKind::Invalid,
            value: value.to_string(),
            message: message.into(),
        }
    }

    /// `Required value`.
    pub fn required(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            kind: FieldErrorKind::Required,
            value: String::new(),
            message: message.into(),
        }
    }

    /// `Unsupported value`, listing what is supported.
    pub fn unsupported(
        path: impl Into<String>,
        value: impl fmt::Display,
        supported: &[&str],
    ) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        FieldError {
            path: path.into(),
            kind: FieldErrorKind::Unsupported,
            value: format!("{:?}", value.to_string()),
            message: format!("supported values: {}", list.join(", ")),
        }
    }

    /// `Forbidden`.
    pub fn forbidden(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            kind: FieldErrorKind::Forbidden,
            value: String::new(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FieldErrorKind::Invalid => write!(f, "{}: Invalid value: {}", self.path, self.value)?,
            FieldErrorKind::Required => write!(f, "{}: Required value", self.path)?,
            FieldErrorKind::Unsupported => {
                write!(f, "{}: Unsupported value: {}", self.path, self.value)?
            }
            FieldErrorKind::Forbidden => write!(f, "{}: Forbidden", self.path)?,
        }
        // Like the API server, an empty detail adds nothing (no trailing ": ").
        if self.message.is_empty() {
            Ok(())
        } else {
            write!(f, ": {}", self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_api_server() {
        assert_eq!(
            FieldError::invalid("spec.maxReplicas", 0, "must be greater than 0").to_string(),
            "spec.maxReplicas: Invalid value: 0: must be greater than 0"
        );
        assert_eq!(
            FieldError::unsupported(
                "spec.behavior.scaleUp.selectPolicy",
                "Fastest",
                &["Max", "Min", "Disabled"]
            )
            .to_string(),
            "spec.behavior.scaleUp.selectPolicy: Unsupported value: \"Fastest\": supported values: \"Max\", \"Min\", \"Disabled\""
        );
        assert_eq!(
            FieldError::required("spec.ports[1].name", "").to_string(),
            "spec.ports[1].name: Required value"
        );
        assert_eq!(
            FieldError::required("spec.scaleTargetRef.name", "name is required").to_string(),
            "spec.scaleTargetRef.name: Required value: name is required"
        );
    }
}
