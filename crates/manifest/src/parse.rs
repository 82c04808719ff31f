//! The second, typed pass over one document: serde-saphyr straight into the kind's Rust type,
//! with unknown fields collected (serde_ignored) and parse errors turned into field-path
//! messages that say what was expected.

use serde::de::DeserializeOwned;

use crate::diagnostic::Issue;
use crate::yaml::Pos;
use crate::yaml::index::{Node, Value};

/// A document that did not fit its type, with where it stopped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TypeError {
    pub(crate) pos: Option<Pos>,
    pub(crate) issue: Issue,
}

/// Parses `range` of `text` into `T`. The rest of the file is blanked (newlines kept), so
/// positions in errors are the file's own. Returns the value and the paths serde did not know.
pub(crate) fn parse_document<T: DeserializeOwned>(
    text: &str,
    range: std::ops::Range<usize>,
    root: &Node,
) -> Result<(T, Vec<String>), TypeError> {
    let masked = mask(text, range);
    let mut unknown = Vec::new();
    let options = serde_saphyr::options! {
        strict_booleans: true,
    };
    let result = serde_saphyr::with_deserializer_from_str_with_options(&masked, options, |de| {
        serde_ignored::deserialize(de, |path| unknown.push(render_path(&path)))
    });
    match result {
        Ok(value) => Ok((value, unknown)),
        Err(error) => Err(explain(&error, root)),
    }
}

/// Everything outside `range` becomes spaces, except newlines.
fn mask(text: &str, range: std::ops::Range<usize>) -> String {
    let start = range.start.min(text.len());
    let end = range.end.clamp(start, text.len());
    let blank = |s: &str| -> String {
        s.chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect()
    };
    let mut out = blank(text.get(..start).unwrap_or_default());
    out.push_str(text.get(start..end).unwrap_or_default());
    out
}

/// serde_ignored's path in our notation: `spec.metrics[0].foo`.
fn render_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", render_path(parent)),
        Path::Map { parent, key } => {
            let parent = render_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => render_path(parent),
    }
}

/// Turns a serde-saphyr error into a message about the field it stopped at.
fn explain(error: &serde_saphyr::Error, root: &Node) -> TypeError {
    let pos = error.location().map(|l| Pos {
        line: u32::try_from(l.line()).unwrap_or(u32::MAX),
        column: u32::try_from(l.column()).unwrap_or(u32::MAX),
    });
    let raw = error.without_snippet().to_string();
    let message = match raw.rfind(" at line ") {
        Some(i) => raw[..i].to_string(),
        None => raw,
    };
    let found = pos.and_then(|p| node_at(root, p));
    let (path, scalar) = match &found {
        Some((path, node)) => (path.clone(), node.scalar().map(str::to_string)),
        None => (String::new(), None),
    };
    if let Some(field) = between(&message, "missing field `", "`") {
        // Placed by path: at the key of the mapping that lacks the field.
        let mapping = pos.and_then(|p| mapping_at(root, p));
        let parent = mapping.as_ref().map(|(p, _)| p.as_str()).unwrap_or(&path);
        let full = join(parent, field);
        let typo = mapping
            .as_ref()
            .and_then(|(_, node)| crate::suggest::near_key(node, field))
            .map(|k| format!(" (found {k:?}: misspelled?)"))
            .unwrap_or_default();
        return TypeError {
            pos: None,
            issue: Issue::error(full, format!("Required value{typo}")).at_key(),
        };
    }
    let issue = if let Some(key) = between(&message, "duplicate mapping key: ", ",") {
        Issue::error(
            path,
            format!("Duplicate value: the key {key:?} appears twice in this mapping; keep one"),
        )
    } else if let Some(rest) = message.strip_prefix("unknown field `") {
        // Types that deny unknown fields (spec.kpa): an error, with the fields that exist.
        let (field, expected) = rest.split_once("`, expected ").unwrap_or((rest, ""));
        let allowed: Vec<&str> = expected
            .trim_start_matches("one of ")
            .split([',', ' '])
            .map(|s| s.trim_matches('`'))
            .filter(|s| !s.is_empty() && *s != "or")
            .collect();
        let hint = crate::suggest::closest(field, &allowed)
            .map(|m| format!(" (did you mean {m:?}?)"))
            .unwrap_or_default();
        let parent = pos.and_then(|p| mapping_at(root, p)).map(|(p, _)| p);
        Issue::error(
            join(parent.as_deref().unwrap_or(&path), field),
            format!(
                "Unknown field{hint}: allowed fields are {}",
                allowed.join(", ")
            ),
        )
        .at_key()
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (value, expected) = rest.split_once("`, expected ").unwrap_or((rest, ""));
        let supported: Vec<String> = expected
            .trim_start_matches("one of ")
            .split(", ")
            .map(|s| format!("\"{}\"", s.trim_matches('`')))
            .collect();
        Issue::error(
            path,
            format!(
                "Unsupported value: \"{value}\": supported values: {}",
                supported.join(", ")
            ),
        )
    } else {
        let what = describe(&message);
        match scalar {
            Some(s) => Issue::error(path, format!("Invalid value: \"{s}\": {what}")),
            None => Issue::error(path, format!("Invalid value: {what}")),
        }
    };
    TypeError { pos, issue }
}

/// Plain words for the parser's type messages.
fn describe(message: &str) -> String {
    let int = |bits: &str| format!("must be a whole number (int{bits})");
    match message {
        "invalid i32" => int("32"),
        "invalid i64" => int("64"),
        "invalid u16" | "invalid u32" | "invalid u64" => {
            "must be a whole number, not negative".to_string()
        }
        "invalid f64" | "invalid f32" => "must be a number".to_string(),
        "invalid bool" => "must be true or false".to_string(),
        "expected mapping start" => "must be a mapping (key: value pairs)".to_string(),
        "expected sequence start" => "must be a list".to_string(),
        "expected string scalar" => "must be a string".to_string(),
        other => other.to_string(),
    }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &s[s.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_string()
    } else {
        format!("{parent}.{field}")
    }
}

/// The mapping that starts at `pos` or has a key there, with its path: where serde-saphyr
/// reports a missing field.
fn mapping_at(root: &Node, pos: Pos) -> Option<(String, &Node)> {
    let mut found = None;
    let mut stack = vec![(String::new(), root)];
    while let Some((path, node)) = stack.pop() {
        match &node.value {
            Value::Map(entries) => {
                if node.pos == pos || entries.iter().any(|e| e.key_pos == pos) {
                    found = Some((path.clone(), node));
                }
                for e in entries {
                    stack.push((join(&path, &e.key), &e.value));
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    stack.push((format!("{path}[{i}]"), item));
                }
            }
            Value::Scalar(_) | Value::Alias => {}
        }
    }
    found
}

/// The deepest node starting at `pos`, with its path. A block mapping starts where its first
/// key does, so a "missing field" error at that key resolves to the mapping.
fn node_at(root: &Node, pos: Pos) -> Option<(String, &Node)> {
    let mut best = (root.pos == pos).then(|| (String::new(), root));
    let mut stack = vec![(String::new(), root)];
    while let Some((path, node)) = stack.pop() {
        match &node.value {
            Value::Map(entries) => {
                for e in entries {
                    let child = join(&path, &e.key);
                    if e.value.pos == pos || e.key_pos == pos && best.is_none() {
                        best = Some((child.clone(), &e.value));
                    }
                    stack.push((child, &e.value));
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let child = format!("{path}[{i}]");
                    if item.pos == pos {
                        best = Some((child.clone(), item));
                    }
                    stack.push((child, item));
                }
            }
            Value::Scalar(_) | Value::Alias => {}
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::index::index;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Spec {
        max_replicas: i32,
        #[serde(default)]
        policy: Option<Policy>,
    }
    #[derive(Debug, Deserialize)]
    enum Policy {
        Max,
        Min,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        spec: Spec,
    }

    fn parse(text: &str) -> Result<(Doc, Vec<String>), TypeError> {
        let indexed = index(text);
        let doc = &indexed.documents[indexed.documents.len() - 1];
        let root = doc.root.as_ref().expect("root");
        parse_document(text, doc.bytes.clone(), root)
    }

    #[test]
    fn positions_are_the_files_own_in_later_documents() {
        let text = "kind: A\n---\nspec:\n  maxReplicas: ten\n";
        let err = parse(text).expect_err("bad int");
        assert_eq!(
            err.pos,
            Some(Pos {
                line: 4,
                column: 16
            })
        );
        assert_eq!(
            err.issue.message,
            "spec.maxReplicas: Invalid value: \"ten\": must be a whole number (int32)"
        );
    }

    #[test]
    fn missing_fields_and_bad_enums_name_the_field() {
        let err = parse("spec:\n  maxReplica: 3\n").expect_err("missing");
        assert_eq!(
            err.issue.message,
            "spec.maxReplicas: Required value (found \"maxReplica\": misspelled?)"
        );
        let err = parse("spec:\n  maxReplicas: 3\n  policy: Fastest\n").expect_err("enum");
        assert_eq!(
            err.issue.message,
            "spec.policy: Unsupported value: \"Fastest\": supported values: \"Max\", \"Min\""
        );
    }

    #[test]
    fn unknown_fields_are_collected_with_their_paths() {
        let (_, unknown) =
            parse("spec:\n  maxReplicas: 3\n  minReplica: 1\nextra: [1]\n").expect("parses");
        assert_eq!(unknown, ["spec.minReplica", "extra"]);
    }
}
