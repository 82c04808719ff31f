//! `ebb validate`, `ebb convert` and `ebb autoscale` through the real binary: exit codes,
//! positions in messages, standard input, and the outputs `docs/manifests.md` quotes verbatim.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn ebb_with_input(args: &[&str], input: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ebb"))
        .current_dir(root())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ebb");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(text) = input {
        stdin.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("ebb finishes");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ebb(args: &[&str]) -> Run {
    ebb_with_input(args, None)
}

const FIXTURES: &str = "crates/manifest/tests/fixtures";

#[test]
fn the_seed_examples_validate() {
    let run = ebb(&["validate", "-f", "examples/seed/"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .ends_with("7 objects in 6 files: 0 errors, 4 warnings\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn errors_exit_1_and_name_file_line_and_column() {
    let file = format!("{FIXTURES}/broken/06-hpa-typo-max-replica.yaml");
    let run = ebb(&["validate", "-f", &file]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let expected = format!(
        "{file}:6:1: error: HorizontalPodAutoscaler/web: spec.maxReplicas: Required value (found \"maxReplica\": misspelled?)\n 6 | spec:\n   | ^\n"
    );
    assert!(run.stdout.starts_with(&expected), "{}", run.stdout);
    assert!(
        run.stdout
            .ends_with("0 objects in 1 file: 1 error, 0 warnings\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn all_errors_of_a_file_are_reported_at_once() {
    let file = format!("{FIXTURES}/broken/39-several-errors-in-one-file.yaml");
    let run = ebb(&["validate", "-f", &file, "--quiet", "--cluster"]);
    assert_eq!(run.code, 1);
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with(&file))
        .collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert!(
        lines.iter().all(|l| l.contains(": error: ")),
        "--quiet hides warnings"
    );
}

#[test]
fn standard_input_and_json_output() {
    let text = std::fs::read_to_string(
        root()
            .join(FIXTURES)
            .join("broken/13-hpa-max-not-a-number.yaml"),
    )
    .expect("fixture");
    let run = ebb_with_input(&["validate", "-f", "-", "-o", "json"], Some(&text));
    assert_eq!(run.code, 1);
    let findings: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let first = &findings[0];
    assert_eq!(first["file"], "<stdin>");
    assert_eq!(first["pos"]["line"], 10);
    assert_eq!(first["pos"]["column"], 16);
    assert_eq!(first["severity"], "error");
    assert_eq!(first["path"], "spec.maxReplicas");
}

#[test]
fn unreadable_files_are_user_errors() {
    let run = ebb(&["validate", "-f", "no/such/file.yaml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("error: cannot read no/such/file.yaml"),
        "{}",
        run.stderr
    );
}

#[test]
fn convert_prints_the_normalized_autoscaler() {
    let run = ebb(&["convert", "-f", "examples/seed/app-fastapi-hpa.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("apiVersion: ebb.dev/v1alpha1\nkind: Autoscaler\n")
    );
    let json = ebb(&["convert", "-f", "examples/seed/", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(list["kind"], "List");
    let classes: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["spec"]["class"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(classes, ["hpa", "hpa", "kpa", "kpa", "kpa"]);
}

#[test]
fn convert_without_an_autoscaler_says_what_it_found() {
    let run = ebb(&["convert", "-f", "examples/seed/app-fastapi-resources.yaml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "error: no autoscaler to convert (found: Deployment/app-fastapi, Service/app-fastapi)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn convert_refuses_invalid_manifests() {
    let file = format!("{FIXTURES}/broken/24-isvc-bad-annotations.yaml");
    let run = ebb(&["convert", "-f", &file]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains(":6:37: error: "), "{}", run.stderr);
    assert!(
        run.stderr
            .ends_with("error: nothing converted: 3 errors above\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn autoscale_prints_what_kubectl_prints_and_refuses_what_it_refuses() {
    let run = ebb(&[
        "autoscale",
        "deployment",
        "app-fastapi",
        "--cpu-percent=50",
        "--min=1",
        "--max=10",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("apiVersion: autoscaling/v2\n"));
    // The output is a valid autoscaling/v2 HPA for ebb too.
    let check = ebb_with_input(&["validate", "-f", "-", "--cluster"], Some(&run.stdout));
    assert!(
        check
            .stdout
            .ends_with("1 object in 1 file: 0 errors, 1 warning\n"),
        "{}",
        check.stdout
    );

    let refused = ebb(&[
        "autoscale",
        "deployment",
        "app-fastapi",
        "--min=5",
        "--max=3",
    ]);
    assert_eq!(refused.code, 1);
    assert_eq!(
        refused.stderr,
        "error: --max=MAXPODS must be larger or equal to --min=MINPODS, max: 3, min: 5\n"
    );
}

/// `docs/manifests.md` quotes what the commands print: keep them in step.
#[test]
fn the_docs_quote_the_commands_outputs() {
    let docs = std::fs::read_to_string(root().join("docs/manifests.md")).expect("docs");
    for args in [
        "autoscale deployment app-fastapi --cpu-percent=50 --min=1 --max=10",
        "convert -f examples/seed/app-fastapi-hpa.yaml",
        "convert -f examples/seed/kserve-inferenceserver-autoscaling.yaml",
        "validate -f crates/manifest/tests/fixtures/broken/16-deployment-image-only.yaml",
        "validate -f crates/manifest/tests/fixtures/valid/01-tutorial-scale-to-zero-as-written.yaml",
    ] {
        let run = ebb(&args.split(' ').collect::<Vec<_>>());
        let block = format!("```console\n$ ebb {args}\n{}```", run.stdout);
        assert!(
            docs.contains(&block),
            "docs/manifests.md must contain:\n{block}"
        );
    }
}
