//! YAML out, the way `kubectl ... -o yaml` prints objects: keys sorted, two-space indentation,
//! sequence items at their parent key's indentation, strings quoted only when a plain scalar
//! would read back as something else.

use serde_json::Value;

/// Renders a JSON value as a YAML block document (no leading `---`).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        let value = &map[key.as_str()];
        push_indent(out, indent);
        out.push_str(&quote_if_needed(key));
        out.push(':');
        write_value_after_key(out, value, indent);
    }
}

fn write_value_after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        push_indent(out, indent);
        out.push('-');
        // A collection item starts on the dash's line and continues aligned under its start.
        let mut block = String::new();
        match item {
            Value::Object(map) if !map.is_empty() => write_map(&mut block, map, indent + 2),
            Value::Array(inner) if !inner.is_empty() => write_seq(&mut block, inner, indent + 2),
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
                continue;
            }
        }
        out.push(' ');
        out.push_str(block.get(indent + 2..).unwrap_or(&block));
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote_if_needed(s),
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
    }
}

/// Plain when the text reads back as the same string; double-quoted otherwise.
fn quote_if_needed(s: &str) -> String {
    if needs_quotes(s) {
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    } else {
        s.to_string()
    }
}

fn needs_quotes(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return true;
    };
    let lower = s.to_ascii_lowercase();
    let reserved = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
    ];
    reserved.contains(&lower.as_str())
        || looks_numeric(s)
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || first.is_whitespace()
        || s.ends_with(char::is_whitespace)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control())
}

/// Integers, floats, and the YAML 1.1 spellings (`0x1F`, `1e3`, `.inf`) a reader would convert.
fn looks_numeric(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if body.parse::<f64>().is_ok() || body.starts_with('.') {
        return true;
    }
    let lower = body.to_ascii_lowercase();
    lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with("0b")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_kubectl() {
        let value = json!({
            "spec": {
                "metrics": [{"type": "Resource", "resource": {"name": "cpu"}}],
                "maxReplicas": 10,
                "list": [["a"], "b"],
            },
            "apiVersion": "autoscaling/v2",
            "status": {"currentMetrics": null, "desiredReplicas": 0},
        });
        let expected = "\
apiVersion: autoscaling/v2
spec:
  list:
  - - a
  - b
  maxReplicas: 10
  metrics:
  - resource:
      name: cpu
    type: Resource
status:
  currentMetrics: null
  desiredReplicas: 0
";
        assert_eq!(to_yaml(&value), expected);
    }

    #[test]
    fn quotes_strings_that_would_change_type() {
        let value = json!({"a": "10", "b": "true", "c": "", "d": "1.5", "e": "a: b",
                           "f": "plain text", "g": "*", "h": "500m", "i": "-1"});
        let yaml = to_yaml(&value);
        for line in [
            "a: \"10\"",
            "b: \"true\"",
            "c: \"\"",
            "d: \"1.5\"",
            "e: \"a: b\"",
            "f: plain text",
            "g: \"*\"",
            "h: 500m",
            "i: \"-1\"",
        ] {
            assert!(yaml.contains(line), "{line:?} not in:\n{yaml}");
        }
    }
}
