//! Every scenario in `examples/decide/` runs through the real `ebb` binary and must print
//! exactly its recorded explanation (`<name>.explain.txt`); `docs/decide.md` must quote both
//! the scenario and that output verbatim, so the documentation cannot drift from the code.
//!
//! After an intended change of output, regenerate the recordings with
//! `EBB_BLESS=1 cargo test -p ebb --test decide_examples` and review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ebb(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ebb"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("run ebb");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_decide_example_prints_its_recorded_explanation_and_is_quoted_in_the_docs() {
    let mut docs = std::fs::read_to_string(root().join("docs/decide.md")).expect("docs/decide.md");
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root().join("examples/decide"))
        .expect("examples/decide")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    examples.sort();
    assert!(
        examples.len() >= 6,
        "expected at least six examples, found {}",
        examples.len()
    );
    let bless = std::env::var_os("EBB_BLESS").is_some();
    let mut failures = Vec::new();
    for path in &examples {
        let rel = path
            .strip_prefix(root())
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned();
        let (ok, text, stderr) = ebb(&["decide", "-f", &rel, "--explain"]);
        assert!(ok, "{rel} failed: {stderr}");
        let recorded_path = path.with_extension("explain.txt");
        if bless {
            std::fs::write(&recorded_path, &text).expect("write recording");
        }
        let recorded = std::fs::read_to_string(&recorded_path).unwrap_or_default();
        if text != recorded {
            failures.push(format!(
                "{rel}: output differs from {}:\n--- recorded\n{recorded}\n--- now\n{text}",
                recorded_path.display()
            ));
        }

        // The JSON form of the same run agrees with the explanation.
        let (ok, json, stderr) = ebb(&["decide", "-f", &rel]);
        assert!(ok, "{rel} (json) failed: {stderr}");
        let value: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{rel}: invalid JSON: {e}"));
        let summary = value.get("summary").and_then(|s| s.as_str()).or_else(|| {
            value
                .pointer("/decisions/0/summary")
                .and_then(|s| s.as_str())
        });
        if let Some(summary) = summary {
            assert!(
                text.contains(summary),
                "{rel}: the JSON summary {summary:?} is not in the explanation"
            );
        }

        let scenario = std::fs::read_to_string(path).expect("read scenario");
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let block = doc_block(name, &scenario, &text);
        if bless {
            docs = replace_block(&docs, name, &block)
                .unwrap_or_else(|| panic!("docs/decide.md has no marker for {name}"));
        } else if !docs.contains(&block) {
            failures.push(format!("{rel}: docs/decide.md does not quote the scenario and its output verbatim (expected this block:)\n{block}"));
        }
    }
    if bless {
        std::fs::write(root().join("docs/decide.md"), &docs).expect("write docs");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// How docs/decide.md quotes an example: between markers, the scenario then its output.
fn doc_block(name: &str, scenario: &str, output: &str) -> String {
    format!(
        "<!-- decide-example: {name} -->\n```yaml\n{scenario}```\n\n```text\n{output}```\n<!-- /decide-example -->"
    )
}

/// `docs` with the marked block of `name` replaced by `block`, or `None` without a marker.
fn replace_block(docs: &str, name: &str, block: &str) -> Option<String> {
    let start = docs.find(&format!("<!-- decide-example: {name} -->"))?;
    let end_marker = "<!-- /decide-example -->";
    let end = start + docs[start..].find(end_marker)? + end_marker.len();
    Some(format!("{}{block}{}", &docs[..start], &docs[end..]))
}

#[test]
fn a_typo_in_the_hpa_is_reported_not_silently_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("typo.yaml");
    std::fs::write(
        &file,
        "autoscaler:\n  apiVersion: autoscaling/v1\n  kind: HorizontalPodAutoscaler\n  spec:\n    scaleTargetRef: {kind: Deployment, name: app}\n    maxReplicas: 3\n    maxReplica: 5\n    targetCPUUtilizationPercentage: 50\ntarget: {replicas: 1}\n",
    )
    .expect("write");
    let (ok, _, stderr) = ebb(&["decide", "-f", file.to_str().expect("utf-8 path")]);
    assert!(ok);
    assert!(
        stderr.contains("unknown field `autoscaler.spec.maxReplica` is ignored"),
        "{stderr}"
    );
}

#[test]
fn scenario_errors_name_the_line_and_column_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "autoscaler:\n  apiVersion: autoscaling/v2\n  kind: HorizontalPodAutoscaler\n  spec: {scaleTargetRef: {kind: Deployment, name: a}, maxReplicas: 2}\ntarget:\n  replica: 2\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_ebb"))
        .args(["decide", "-f"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 6 column 3: unknown field `replica`, expected one of replicas"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_hpa_lists_every_violation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("invalid.yaml");
    std::fs::write(
        &file,
        "autoscaler:\n  apiVersion: autoscaling/v2\n  kind: HorizontalPodAutoscaler\n  spec:\n    scaleTargetRef: {kind: Deployment, name: a}\n    minReplicas: 5\n    maxReplicas: 2\n    behavior: {scaleUp: {stabilizationWindowSeconds: 4000}}\ntarget: {replicas: 2}\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_ebb"))
        .args(["decide", "-f"])
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("autoscaler.spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"), "{stderr}");
    assert!(stderr.contains("autoscaler.spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600"), "{stderr}");
}

/// `ebb convert` output placed under `autoscaler:` with the rest of a scenario.
fn converted_scenario(manifest: &str, rest: &str) -> String {
    let (ok, converted, stderr) = ebb(&["convert", "-f", manifest]);
    assert!(ok, "convert {manifest}: {stderr}");
    let indented: String = converted.lines().map(|l| format!("  {l}\n")).collect();
    format!("autoscaler:\n{indented}{rest}")
}

fn decide_text(scenario: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("scenario.yaml");
    std::fs::write(&file, scenario).expect("write");
    let (ok, json, stderr) = ebb(&["decide", "-f", file.to_str().expect("utf-8 path")]);
    assert!(ok, "decide failed: {stderr}\n{scenario}");
    serde_json::from_str(&json).expect("json")
}

#[test]
fn converted_seed_hpa_is_decided_like_the_hpa_itself() {
    let rest = "target:\n  replicas: 5\npods:\n  - count: 5\n    requests: {cpu: 200m, memory: 512Mi}\n    usage: {cpu: 90%, memory: 300Mi}\n";
    let converted = decide_text(&converted_scenario(
        "examples/seed/app-fastapi-hpa-v2.yaml",
        rest,
    ));
    let original = std::fs::read_to_string(root().join("examples/seed/app-fastapi-hpa-v2.yaml"))
        .expect("seed hpa");
    let original_indented: String = original
        .lines()
        .filter(|l| !l.starts_with("---"))
        .map(|l| format!("  {l}\n"))
        .collect();
    let direct = decide_text(&format!("autoscaler:\n{original_indented}{rest}"));
    for field in [
        "desiredReplicas",
        "scaleTo",
        "reason",
        "steps",
        "conditions",
        "events",
    ] {
        assert_eq!(
            converted[field], direct[field],
            "{field} differs between the Autoscaler and the HPA"
        );
    }
    assert_eq!(converted["desiredReplicas"], 7);
}

#[test]
fn converted_seed_kserve_service_is_decided_like_the_inference_service() {
    let rest = "pods:\n  readyAtStart: 1\n  startupDelay: 10s\ntraffic:\n  - for: 60s\n    concurrency: 10\n  - for: 2m\n    concurrency: 0\n";
    let manifest = "examples/seed/kserve-inferenceserver-annotations.yaml";
    let converted = decide_text(&converted_scenario(manifest, rest));
    let original = std::fs::read_to_string(root().join(manifest)).expect("seed kserve");
    let original_indented: String = original
        .lines()
        .filter(|l| !l.starts_with("---"))
        .map(|l| format!("  {l}\n"))
        .collect();
    let direct = decide_text(&format!("autoscaler:\n{original_indented}{rest}"));
    assert_eq!(
        converted["decisions"], direct["decisions"],
        "the replayed decisions differ"
    );
    assert!(
        converted["decisions"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
    );
}
