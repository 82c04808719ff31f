//! `ebb load` as a user runs it: the real binary against a small HTTP server on 127.0.0.1.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

/// A keep-alive HTTP/1.1 server on a thread per connection; answers `200 ok` and counts.
fn server() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/predict", listener.local_addr().unwrap());
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = seen.clone();
            thread::spawn(move || serve(stream, &seen));
        }
    });
    (url, count)
}

fn serve(stream: TcpStream, seen: &AtomicU64) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        // Request line and headers.
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        seen.fetch_add(1, Ordering::SeqCst);
        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        if writer.write_all(reply).is_err() {
            return;
        }
    }
}

fn ebb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebb"))
        .args(args)
        .output()
        .expect("run ebb")
}

#[test]
fn a_bounded_run_writes_its_summary_json_and_timeline() {
    let (url, seen) = server();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("summary.json");
    let timeline = dir.path().join("timeline.csv");
    let out = ebb(&[
        "load",
        &url,
        "-c",
        "3",
        "-n",
        "60",
        "--body-template",
        "sentiment",
        "--json",
        json.to_str().unwrap(),
        "--timeline",
        timeline.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Requests:  60 sent, 60 completed, 0 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("LATENCY"), "{stdout}");
    assert_eq!(seen.load(Ordering::SeqCst), 60);

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(summary["requests"]["completed"], 60);
    assert_eq!(summary["status_codes"]["200"], 60);
    let csv = std::fs::read_to_string(&timeline).unwrap();
    assert!(csv.starts_with("second,time,intended,sent,"), "{csv}");
    let sent: u64 = csv
        .lines()
        .skip(1)
        .map(|row| row.split(',').nth(3).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(sent, 60);
}

#[test]
fn json_to_stdout_replaces_the_text_summary() {
    let (url, _) = server();
    let out = ebb(&["load", &url, "--rate", "50/s:1s", "--json", "-", "-q"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["requests"]["intended"], 50);
    assert_eq!(summary["requests"]["sent"], 50);
    assert_eq!(summary["latency_from"], "intended send time");
}

#[test]
fn mistakes_exit_1_and_say_what_would_be_valid() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["load", "http://127.0.0.1:9/", "--rate", "100/s"],
            "--run-time",
        ),
        (
            &["load", "http://127.0.0.1:9/", "--rate", "10/x", "-n", "5"],
            "100/s",
        ),
        (&["load", "127.0.0.1:9", "-c", "1", "-n", "5"], "http://"),
        (
            &["load", "http://127.0.0.1:9/", "-c", "1", "-t", "5"],
            "missing unit",
        ),
        (
            &[
                "load",
                "http://127.0.0.1:9/",
                "--users",
                "2",
                "--wait",
                "5s..1s",
                "-n",
                "2",
            ],
            "MIN..MAX",
        ),
        (
            &[
                "load",
                "http://127.0.0.1:9/",
                "-c",
                "1",
                "-n",
                "1",
                "-H",
                "nocolon",
            ],
            "Name: value",
        ),
        (
            &[
                "load",
                "http://127.0.0.1:9/",
                "--trace",
                "/nonexistent/trace.csv",
            ],
            "cannot read",
        ),
    ];
    for (args, hint) in cases {
        let out = ebb(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(hint), "{args:?}: {stderr}");
    }
}

#[test]
fn a_bad_trace_line_is_reported_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.csv");
    std::fs::write(&trace, "timestamp_ms,input_length\n0,1\nsoon,2\n").unwrap();
    let out = ebb(&[
        "load",
        "http://127.0.0.1:9/",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("trace.csv: line 3: invalid timestamp_ms"),
        "{stderr}"
    );
}

#[test]
fn help_ends_with_examples() {
    let out = ebb(&["load", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    let examples = help.find("Examples:").expect("an Examples section");
    assert!(help[examples..].contains("ebb load http://"), "{help}");
    assert!(help.trim_end().ends_with("--json -"), "{help}");
}
