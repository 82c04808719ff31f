//! The CRD in `deploy/` is the one the Rust types generate, it is a structural schema the API
//! server accepts, and every Autoscaler in `deploy/` fits it.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_checked_in_crd_is_the_generated_one() {
    let path = repo().join("deploy/crd.yaml");
    let generated = ebb_kube::crd_yaml();
    if std::env::var_os("EBB_WRITE_CRD").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "deploy/crd.yaml differs from the Rust types: regenerate it with `ebb controller crd > deploy/crd.yaml` \
         (or EBB_WRITE_CRD=1 cargo test -p ebb-kube --test crd)"
    );
}

/// The API server's rules for a structural schema (apiextensions.k8s.io/v1), those our
/// generator could break: every node has a type (or is int-or-string / preserves unknown
/// fields); no `$ref`, `definitions` or value-only logic (`anyOf`, `oneOf`, `allOf`, `not`);
/// `properties` and `additionalProperties` never together, and `additionalProperties: false`
/// never at all.
fn structural_problems(schema: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(node) = schema.as_object() else {
        problems.push(format!("{path}: not an object"));
        return;
    };
    let special = node.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if !special && !node.get("type").is_some_and(Value::is_string) {
        problems.push(format!("{path}: no type"));
    }
    for banned in [
        "$ref",
        "definitions",
        "$defs",
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "$schema",
    ] {
        if node.contains_key(banned) {
            problems.push(format!("{path}: {banned} is not allowed"));
        }
    }
    if node.contains_key("properties") && node.contains_key("additionalProperties") {
        problems.push(format!(
            "{path}: properties and additionalProperties together"
        ));
    }
    if node.get("additionalProperties") == Some(&Value::Bool(false)) {
        problems.push(format!("{path}: additionalProperties: false"));
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            structural_problems(v, &format!("{path}.{k}"), problems);
        }
    }
    if let Some(items) = node.get("items") {
        structural_problems(items, &format!("{path}[]"), problems);
    }
    if let Some(extra) = node.get("additionalProperties").filter(|v| v.is_object()) {
        structural_problems(extra, &format!("{path}{{}}"), problems);
    }
    if let Some(required) = node.get("required").and_then(Value::as_array) {
        for r in required {
            let name = r.as_str().unwrap_or_default();
            if node.get("properties").and_then(|p| p.get(name)).is_none() {
                problems.push(format!("{path}: required {name} is not a property"));
            }
        }
    }
}

fn crd() -> Value {
    serde_json::to_value(<ebb_kube::crd::Autoscaler as kube::CustomResourceExt>::crd()).unwrap()
}

fn schema() -> Value {
    crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

#[test]
fn the_schema_is_structural_with_the_status_subresource() {
    let crd = crd();
    let version = &crd["spec"]["versions"][0];
    assert_eq!(crd["metadata"]["name"], "autoscalers.ebb.dev");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"]["status"], serde_json::json!({}));
    let mut problems = Vec::new();
    structural_problems(&schema(), "openAPIV3Schema", &mut problems);
    assert!(
        problems.is_empty(),
        "not structural:\n{}",
        problems.join("\n")
    );
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("priority").is_none())
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "Reference",
            "Targets",
            "MinPods",
            "MaxPods",
            "Replicas",
            "Age"
        ]
    );
}

/// Problems of `value` against `schema`, as the API server would find them: wrong types, missing
/// required fields, values outside an enum, and unknown fields (which it would drop silently).
fn fit(value: &Value, schema: &Value, path: &str, problems: &mut Vec<String>) {
    if value.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) {
            problems.push(format!("{path}: null is not allowed"));
        }
        return;
    }
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        && schema.get("properties").is_none()
    {
        return;
    }
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        if !(value.is_i64() || value.is_u64() || value.is_string()) {
            problems.push(format!("{path}: must be an integer or a string"));
        }
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        problems.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    let ok = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => false,
    };
    if !ok {
        problems.push(format!("{path}: {value} is not of type {}", schema["type"]));
        return;
    }
    if let Some(items) = value.as_array() {
        for (i, item) in items.iter().enumerate() {
            fit(item, &schema["items"], &format!("{path}[{i}]"), problems);
        }
    }
    if let Some(fields) = value.as_object() {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !fields.contains_key(r.as_str().unwrap_or_default()) {
                problems.push(format!(
                    "{path}.{}: required",
                    r.as_str().unwrap_or_default()
                ));
            }
        }
        for (k, v) in fields {
            match schema.get("properties").and_then(|p| p.get(k)) {
                Some(s) => fit(v, s, &format!("{path}.{k}"), problems),
                None => match schema.get("additionalProperties") {
                    Some(s) if s.is_object() => fit(v, s, &format!("{path}.{k}"), problems),
                    _ => problems.push(format!(
                        "{path}.{k}: unknown field (the API server would drop it)"
                    )),
                },
            }
        }
    }
}

#[test]
fn every_autoscaler_in_deploy_fits_the_crd() {
    let schema = schema();
    let mut checked = 0;
    let mut problems = Vec::new();
    let dir = repo().join("deploy/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    for file in &files {
        for doc in read_yaml_documents(file) {
            if doc["kind"] != "Autoscaler" {
                continue;
            }
            let mut body = doc.clone();
            let obj = body.as_object_mut().unwrap();
            for k in ["apiVersion", "kind", "metadata"] {
                obj.remove(k);
            }
            assert_eq!(doc["apiVersion"], "ebb.dev/v1alpha1", "{}", file.display());
            fit(&body, &schema, &file.display().to_string(), &mut problems);
            let typed: Result<ebb_kube::crd::Autoscaler, _> = serde_json::from_value(doc.clone());
            if let Err(e) = typed {
                problems.push(format!("{}: {e}", file.display()));
            }
            checked += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        checked >= 3,
        "only {checked} Autoscalers in deploy/examples"
    );
}

#[test]
fn the_fit_check_finds_what_the_api_server_would_reject() {
    let schema = schema();
    let mut problems = Vec::new();
    let bad = serde_json::json!({"spec": {"class": "hpa", "maxReplica": 3,
        "scaleTargetRef": {"kind": "Deployment", "name": "web"},
        "metrics": [{"type": "Cpu"}]}});
    fit(&bad, &schema, "bad", &mut problems);
    let text = problems.join("\n");
    assert!(
        text.contains("bad.spec.maxReplica: unknown field"),
        "{text}"
    );
    assert!(text.contains("\"Cpu\" is not one of"), "{text}");
}
