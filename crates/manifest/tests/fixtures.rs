//! Every fixture under `tests/fixtures/` states the findings it must produce, in its own
//! comments:
//!
//! ```yaml
//! # expect: 9:16 error HorizontalPodAutoscaler/web: spec.maxReplicas: Invalid value: 0: ...
//! ```
//!
//! (`line:column severity object: message`, one line per finding, in order). A fixture without
//! `# expect:` lines must produce no finding at all. `# mode: cluster` checks as for the
//! Kubernetes controller. The whole list must match: a missing finding or an extra one fails.

use std::path::{Path, PathBuf};

use ebb_manifest::{Mode, Source, check};

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// What a fixture says it must produce, and how to check it.
fn expectations(text: &str) -> (Vec<String>, Mode) {
    let expected = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("# expect: "))
        .map(str::to_string)
        .collect();
    let mode = if text.lines().any(|l| l.trim() == "# mode: cluster") {
        Mode::Cluster
    } else {
        Mode::Local
    };
    (expected, mode)
}

/// Runs one fixture; returns a description of the mismatch, if any.
fn run(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let (expected, mode) = expectations(&text);
    let name = path.file_name()?.to_string_lossy().into_owned();
    let result = check(&[Source::new(name.clone(), text)], mode);
    let got: Vec<String> = result
        .diagnostics
        .iter()
        .map(|d| {
            let object = d
                .object
                .as_ref()
                .map(|o| format!("{o}: "))
                .unwrap_or_default();
            format!(
                "{}:{} {} {object}{}",
                d.pos.line, d.pos.column, d.severity, d.message
            )
        })
        .collect();
    (got != expected).then(|| {
        format!(
            "{name}\n  expected:\n{}\n  got:\n{}",
            lines(&expected),
            lines(&got)
        )
    })
}

fn lines(items: &[String]) -> String {
    if items.is_empty() {
        return "    (nothing)".to_string();
    }
    items
        .iter()
        .map(|s| format!("    # expect: {s}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn run_all(dir: &str) -> usize {
    let files = fixtures(dir);
    let failures: Vec<String> = files.iter().filter_map(|f| run(f)).collect();
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
    files.len()
}

#[test]
fn broken_manifests_report_the_expected_errors_at_their_positions() {
    let count = run_all("broken");
    assert!(count >= 25, "only {count} broken fixtures");
    for file in fixtures("broken") {
        let text = std::fs::read_to_string(&file).expect("readable");
        let (expected, _) = expectations(&text);
        assert!(
            expected
                .iter()
                .any(|e| e.split(' ').nth(1) == Some("error")),
            "{} expects no error: a broken fixture must",
            file.display()
        );
    }
}

#[test]
fn valid_manifests_report_only_what_they_expect() {
    let count = run_all("valid");
    assert!(count > 0);
    for file in fixtures("valid") {
        let text = std::fs::read_to_string(&file).expect("readable");
        let (expected, _) = expectations(&text);
        assert!(
            expected
                .iter()
                .all(|e| e.split(' ').nth(1) == Some("warning")),
            "{} expects an error: a valid fixture must not",
            file.display()
        );
    }
}
