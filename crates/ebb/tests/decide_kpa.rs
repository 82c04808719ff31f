//! `ebb decide` on KPA scenarios, run as the real binary: the acceptance scenario's answers,
//! JSON output, stdin input, and bad scenarios failing with the field and what would be valid.
//! (Every example's recorded output and its quote in docs/decide.md are checked by
//! `decide_examples.rs`, for both policies.)

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ebb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebb"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run ebb")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "ebb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8 output")
}

#[test]
fn idle_then_burst_says_when_panic_starts_what_each_tick_wants_and_when_it_is_back_at_zero() {
    let text = stdout(&ebb(&[
        "decide",
        "-f",
        "examples/decide/kpa-idle-then-burst.yaml",
        "--explain",
    ]));
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in\n{text}"))
            .to_string()
    };
    // Panic mode starts on the first tick after the burst reaches the windows.
    assert!(line("122s ").contains("panic starts"), "{text}");
    assert!(text.contains("panic mode: 122s–192s"), "{text}");
    // Each tick's want is a column; the burst asks for 5, 6, then 8 pods.
    let want = |l: String| l.split_whitespace().nth(6).unwrap_or_default().to_string();
    assert_eq!(want(line("122s ")), "5");
    assert_eq!(want(line("124s ")), "6");
    assert_eq!(want(line("126s ")), "8");
    assert!(text.contains("most pods wanted: 8"), "{text}");
    // Back at zero once panic is over, the stable window has drained and the grace allows.
    assert!(text.contains("back at zero: 201s"), "{text}");
}

#[test]
fn json_output_holds_every_decision_and_the_summary() {
    let out = stdout(&ebb(&[
        "decide",
        "-f",
        "examples/decide/kpa-idle-then-burst.yaml",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let decisions = v["decisions"].as_array().expect("decisions");
    assert!(decisions.len() > 100, "{}", decisions.len());
    assert!(decisions.iter().all(|d| d["decision"]["policy"] == "kpa"));
    let poke = decisions
        .iter()
        .find(|d| d["trigger"] == "poke")
        .expect("a poke");
    assert_eq!(poke["seconds"], 120.0);
    assert_eq!(poke["decision"]["scaleTo"], 1);
    assert_eq!(v["summary"]["panic"][0]["from"], 122.0);
    assert_eq!(v["summary"]["backAtZero"], 201.0);
    assert_eq!(
        v["spec"]["targetValue"]
            .as_f64()
            .map(|t| (t * 10.0).round()),
        Some(70.0)
    );
}

#[test]
fn scenarios_can_come_from_stdin() {
    let yaml =
        std::fs::read_to_string(root().join("examples/decide/kpa-windows-worked-numbers.yaml"))
            .expect("example");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ebb"))
        .args(["decide", "-f", "-", "--explain"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(yaml.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let text = stdout(&out);
    assert!(
        text.contains("4s    tick     3      350→5    700→10"),
        "{text}"
    );
}

#[test]
fn bad_scenarios_exit_1_naming_the_field_and_what_is_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "autoscaler:
  apiVersion: serving.knative.dev/v1
  kind: Service
  spec:
    template:
      metadata:
        annotations:
          autoscaling.knative.dev/window: 5s
          autoscaling.knative.dev/min-scale: \"-1\"
config:
  max-scale-down-rate: \"1\"
traffic:
  - for: 10s
    concurrency: 3
",
    )
    .expect("write");
    let out = ebb(&["decide", "-f", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "the scenario has 3 problem(s)",
        "config[max-scale-down-rate]: Invalid value: 1: must be greater than 1.0",
        "autoscaler.spec.template.metadata.annotations[autoscaling.knative.dev/window]: Invalid value: 5s: expected 6s <= 5s <= 1h0m0s",
        "autoscaler.spec.template.metadata.annotations[autoscaling.knative.dev/min-scale]: Invalid value: -1: expected 0 <= -1 <= 2147483647",
    ] {
        assert!(err.contains(want), "missing {want:?} in\n{err}");
    }
    assert!(out.stdout.is_empty());
}
