//! The real `ebb model-server` binary: it reports its port, answers the seed's requests, and
//! exits 0 on SIGTERM as a scaled-down replica must. Bad flags are user errors.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn ebb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ebb"))
}

fn post(addr: SocketAddr, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: custom-model-autoscaling.default.example.com\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[test]
fn serves_the_seed_request_and_stops_cleanly_on_sigterm() {
    let mut child = ebb()
        .args(["model-server", "--port", "0", "--cost-per-text", "0s"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ebb model-server");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let addr: SocketAddr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no Listening line; log so far: {log:#?}"));
        if let Some((_, addr)) = line.split_once("Listening. addr=") {
            break addr.trim().parse().expect("an address");
        }
        log.push(line);
    };
    assert!(
        log.iter().any(|l| l.contains("heldout_accuracy=\"77.5%\"")),
        "the training summary is logged: {log:#?}"
    );
    let response = post(
        addr,
        "/v1/models/custom-model:predict",
        r#"{"instances": ["good", "bad123"]}"#,
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#"{"predictions":[["#), "{response}");
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let mut status = None;
    for _ in 0..300 {
        if let Some(s) = child.try_wait().expect("try_wait") {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("ebb model-server did not exit on SIGTERM");
    };
    assert!(status.success(), "{status}");
}

#[test]
fn bad_flags_are_user_errors_that_say_what_would_be_valid() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["--load-seconds=-1"],
            "--load-seconds -1 must be a number of seconds, 0 or more",
        ),
        (
            &["--load-seconds", "NaN"],
            "--load-seconds NaN must be a number of seconds",
        ),
        (&["--name", "a/b"], "--name \"a/b\" must be letters, digits"),
        (&["--workers", "0"], "--workers must be at least 1"),
    ];
    for (args, expected) in cases {
        let out = ebb()
            .arg("model-server")
            .args(args)
            .output()
            .expect("run ebb");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let out = ebb()
        .args(["model-server", "--cost-per-text", "fast"])
        .output()
        .expect("run ebb");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("examples: 1ms, 2.5ms, 0s"));
}

#[test]
fn a_taken_port_is_a_user_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let out = ebb()
        .args(["model-server", "--port", &port])
        .output()
        .expect("run ebb");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("choose another --port"), "{stderr}");
}
