//! What checks report, first by field path (the pure checks know nothing of files) and then,
//! once the path is looked up in the document, by file:line:column.

use std::fmt;

use ebb_core::FieldError;
use ebb_core::validation::FieldErrorKind;
use serde::Serialize;

use crate::yaml::Pos;
use crate::yaml::index::Node;
use crate::yaml::locate::locate;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The manifest cannot be used as written.
    Error,
    /// The manifest works, but probably not as its author meant.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding, placed in its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file as the user named it.
    pub file: String,
    /// Where in the file.
    pub pos: Pos,
    /// The object the finding is about, as `Kind/name` (absent for YAML syntax errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The field path, when the finding is about one field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What is wrong and what would be valid; starts with the field path when there is one.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: ",
            self.file, self.pos.line, self.pos.column, self.severity
        )?;
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl Diagnostic {
    /// The one-line form followed by the source line and a caret under the column, like a
    /// compiler prints it. `text` is the content of [`Diagnostic::file`].
    pub fn render(&self, text: &str) -> String {
        let mut out = self.to_string();
        let line_no = self.pos.line as usize;
        if let Some(line) = text.lines().nth(line_no.saturating_sub(1)) {
            let gutter = line_no.to_string();
            let pad = " ".repeat(gutter.len());
            let caret_col = (self.pos.column as usize).saturating_sub(1);
            let spaces: String = line
                .chars()
                .take(caret_col)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("\n {gutter} | {line}\n {pad} | {spaces}^"));
        }
        out
    }
}

/// Which position of a field a finding should point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// The value (a bad value).
    Value,
    /// The key (a field that should not be there, or whose child is missing).
    Key,
}

/// A finding before it has a position: what the pure checks return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    pub(crate) severity: Severity,
    pub(crate) path: String,
    pub(crate) message: String,
    pub(crate) anchor: Anchor,
}

impl Issue {
    /// An error from an upstream-style field rule.
    pub(crate) fn field(error: FieldError) -> Self {
        let anchor = match error.kind {
            FieldErrorKind::Invalid | FieldErrorKind::Unsupported => Anchor::Value,
            FieldErrorKind::Required | FieldErrorKind::Forbidden => Anchor::Key,
        };
        Issue {
            severity: Severity::Error,
            path: error.path.clone(),
            message: error.to_string(),
            anchor,
        }
    }

    /// An error in free words about the field at `path`.
    pub(crate) fn error(path: impl Into<String>, message: impl fmt::Display) -> Self {
        Self::at(Severity::Error, path.into(), message)
    }

    /// A warning about the field at `path`.
    pub(crate) fn warning(path: impl Into<String>, message: impl fmt::Display) -> Self {
        Self::at(Severity::Warning, path.into(), message)
    }

    fn at(severity: Severity, path: String, message: impl fmt::Display) -> Self {
        let message = if path.is_empty() {
            message.to_string()
        } else {
            format!("{path}: {message}")
        };
        Issue {
            severity,
            path,
            message,
            anchor: Anchor::Value,
        }
    }

    /// The same finding, pointing at the field's key.
    pub(crate) fn at_key(mut self) -> Self {
        self.anchor = Anchor::Key;
        self
    }

    /// The same finding, downgraded to a warning (a rule that only matters in some modes).
    pub(crate) fn downgraded(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// Places the finding in its document.
    pub(crate) fn place(self, file: &str, root: &Node, object: Option<String>) -> Diagnostic {
        let at = locate(root, &self.path);
        let pos = match (self.anchor, at.exact) {
            (Anchor::Value, true) => at.value,
            _ => at.key_or_value(),
        };
        Diagnostic {
            severity: self.severity,
            file: file.to_string(),
            pos,
            object,
            path: (!self.path.is_empty()).then_some(self.path),
            message: self.message,
        }
    }
}

/// The findings of one object, in the order the checks made them.
#[derive(Debug, Default)]
pub(crate) struct Issues(pub(crate) Vec<Issue>);

impl Issues {
    pub(crate) fn push(&mut self, issue: Issue) {
        self.0.push(issue);
    }

    pub(crate) fn field(&mut self, error: FieldError) {
        self.0.push(Issue::field(error));
    }

    pub(crate) fn fields(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.0.extend(errors.into_iter().map(Issue::field));
    }

    pub(crate) fn error(&mut self, path: impl Into<String>, message: impl fmt::Display) {
        self.0.push(Issue::error(path, message));
    }

    pub(crate) fn warning(&mut self, path: impl Into<String>, message: impl fmt::Display) {
        self.0.push(Issue::warning(path, message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_caret_under_the_column() {
        let d = Diagnostic {
            severity: Severity::Error,
            file: "hpa.yaml".to_string(),
            pos: Pos {
                line: 2,
                column: 16,
            },
            object: Some("HorizontalPodAutoscaler/web".to_string()),
            path: Some("spec.maxReplicas".to_string()),
            message: "spec.maxReplicas: Invalid value: 0: must be greater than 0".to_string(),
        };
        let text = "spec:\n  maxReplicas: 0\n";
        assert_eq!(
            d.render(text),
            "hpa.yaml:2:16: error: HorizontalPodAutoscaler/web: spec.maxReplicas: Invalid value: 0: must be greater than 0\n 2 |   maxReplicas: 0\n   |                ^"
        );
    }
}
