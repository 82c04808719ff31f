//! The real `ebb logs` binary over a state directory laid out as `ebb serve` writes it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn write_log(state: &Path, service: &str, n: u32, text: &str) {
    let dir = state.join("logs").join(service);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{service}-{n}.log")))
        .expect("open");
    file.write_all(text.as_bytes()).expect("write");
}

fn logs(state: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ebb"))
        .arg("logs")
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .expect("run ebb logs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn prints_one_replica_or_all_of_them_prefixed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path();
    write_log(state, "custom-model", 1, "loading\nready\n");
    write_log(state, "custom-model", 2, "loading\nno newline at the end");
    let (code, out, _) = logs(state, &["custom-model"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        "[custom-model-1] loading\n[custom-model-1] ready\n\
         [custom-model-2] loading\n[custom-model-2] no newline at the end\n"
    );
    let (_, out, _) = logs(state, &["custom-model", "--replica", "1"]);
    assert_eq!(out, "loading\nready\n");
    let (_, out, _) = logs(state, &["custom-model-2"]);
    assert_eq!(out, "loading\nno newline at the end\n");
    let (_, out, _) = logs(state, &["custom-model", "--tail", "1"]);
    assert_eq!(
        out,
        "[custom-model-1] ready\n[custom-model-2] no newline at the end\n"
    );
}

#[test]
fn unknown_names_are_user_errors_listing_what_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path();
    write_log(state, "web", 1, "x\n");
    let (code, _, err) = logs(state, &["api"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no logs for \"api\"") && err.contains("services with logs: web"),
        "{err}"
    );
    let (code, _, err) = logs(state, &["web", "--replica", "3"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("service \"web\" has no replica 3; replicas with logs: web-1"),
        "{err}"
    );
}

#[test]
fn follow_prints_new_lines_and_new_replicas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path();
    write_log(state, "m", 1, "first\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ebb"))
        .args(["logs", "m", "-f", "--state-dir"])
        .arg(state)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn ebb logs -f");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(20)).expect("a line");
    assert_eq!(next(), "[m-1] first");
    write_log(state, "m", 1, "second\n");
    assert_eq!(next(), "[m-1] second");
    write_log(state, "m", 2, "scaled up\n");
    assert_eq!(next(), "[m-2] scaled up");
    child.kill().expect("stop following");
    child.wait().expect("reap");
}
