//! Field path → position. Checks report paths the way the Kubernetes API server does
//! (`spec.metrics[0].resource.target.averageUtilization`,
//! `metadata.annotations[autoscaling.knative.dev/target]`); this turns them back into the place
//! in the file, so every message can name its line and column.

use super::index::{Node, Pos, Value};

/// Where a path points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Located {
    /// The key of the last field reached, if the path went through a mapping key.
    pub(crate) key: Option<Pos>,
    /// The value of the last field reached.
    pub(crate) value: Pos,
    /// Whether the whole path exists; otherwise `key`/`value` belong to its deepest existing
    /// ancestor (a missing field is reported where its parent is).
    pub(crate) exact: bool,
}

impl Located {
    /// The key when there is one (unknown or forbidden fields, missing children), else the value.
    pub(crate) fn key_or_value(&self) -> Pos {
        self.key.unwrap_or(self.value)
    }
}

/// Follows `path` from `root` as far as the document goes.
pub(crate) fn locate(root: &Node, path: &str) -> Located {
    let mut node = root;
    let mut key = None;
    let mut rest = path;
    loop {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        if rest.is_empty() {
            return Located {
                key,
                value: node.pos,
                exact: true,
            };
        }
        let step = if let Some(inner) = rest.strip_prefix('[') {
            bracket_step(node, inner)
        } else {
            name_step(node, rest)
        };
        match step {
            Some((next, next_key, remaining)) => {
                node = next;
                key = next_key.or(key);
                if next_key.is_none() {
                    // A sequence item has no key of its own; its position is its value.
                    key = None;
                }
                rest = remaining;
            }
            None => {
                return Located {
                    key,
                    value: node.pos,
                    exact: false,
                };
            }
        }
    }
}

type Step<'n, 'p> = Option<(&'n Node, Option<Pos>, &'p str)>;

/// `[3]` into a sequence, or `[some.key/with-dots]` into a mapping.
fn bracket_step<'n, 'p>(node: &'n Node, inner: &'p str) -> Step<'n, 'p> {
    let close = inner.find(']')?;
    let (content, remaining) = (&inner[..close], &inner[close + 1..]);
    match &node.value {
        Value::Seq(items) => {
            let index: usize = content.parse().ok()?;
            items.get(index).map(|item| (item, None, remaining))
        }
        Value::Map(entries) => entries
            .iter()
            .find(|e| e.key == content)
            .map(|e| (&e.value, Some(e.key_pos), remaining)),
        _ => None,
    }
}

/// A plain field name. Keys may themselves contain dots (annotation keys written as
/// `metadata.annotations.autoscaling.knative.dev/target`), so the longest key that matches up to
/// a separator wins.
fn name_step<'n, 'p>(node: &'n Node, rest: &'p str) -> Step<'n, 'p> {
    let Value::Map(entries) = &node.value else {
        return None;
    };
    entries
        .iter()
        .filter(|e| {
            rest.strip_prefix(e.key.as_str()).is_some_and(|after| {
                after.is_empty() || after.starts_with('.') || after.starts_with('[')
            })
        })
        .max_by_key(|e| e.key.len())
        .map(|e| (&e.value, Some(e.key_pos), &rest[e.key.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::index::index;

    const TEXT: &str = "\
metadata:
  annotations:
    autoscaling.knative.dev/target: \"10\"
spec:
  metrics:
  - type: Resource
    resource:
      name: cpu
  scaleTargetRef:
    kind: Deployment
";

    fn root() -> Node {
        index(TEXT).documents[0].root.clone().expect("root")
    }

    fn pos(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }

    #[test]
    fn follows_keys_and_indices_to_the_value() {
        let at = locate(&root(), "spec.metrics[0].resource.name");
        assert!(at.exact);
        assert_eq!(at.value, pos(8, 13));
        assert_eq!(at.key, Some(pos(8, 7)));
    }

    #[test]
    fn annotation_keys_with_dots_resolve_in_both_spellings() {
        let bracketed = locate(
            &root(),
            "metadata.annotations[autoscaling.knative.dev/target]",
        );
        let dotted = locate(
            &root(),
            "metadata.annotations.autoscaling.knative.dev/target",
        );
        assert!(bracketed.exact && dotted.exact);
        assert_eq!(bracketed.value, pos(3, 37));
        assert_eq!(bracketed, dotted);
    }

    #[test]
    fn a_missing_field_points_at_its_parent_key() {
        let at = locate(&root(), "spec.scaleTargetRef.name");
        assert!(!at.exact);
        assert_eq!(at.key_or_value(), pos(9, 3));
        let out_of_range = locate(&root(), "spec.metrics[4].type");
        assert!(!out_of_range.exact);
        assert_eq!(out_of_range.key_or_value(), pos(5, 3));
    }
}
