//! Real processes on 127.0.0.1: readiness, crash restarts, ordered stops, least-busy removal,
//! CPU sampling, and no survivors when the supervising process is SIGKILLed.
//!
//! Every wait is bounded; assertions are on orders, counts and generous time bounds, so a
//! loaded two-core machine does not make them flaky.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ebb_supervisor::{
    BackoffPolicy, EventKind, HttpGet, Probe, ProbeAction, ReplicaEvent, ReplicaPhase, ReplicaSet,
    ReplicaSpec, ReplicaStatus, Supervisor, SupervisorConfig,
};
use tokio::sync::broadcast;
use tokio::time::{Instant, timeout};

const LONG: Duration = Duration::from_secs(30);

fn config(dir: &Path) -> SupervisorConfig {
    let mut config = SupervisorConfig::new(dir);
    config.backoff = BackoffPolicy {
        initial: Duration::from_millis(200),
        max: Duration::from_millis(800),
        reset_after: Duration::from_secs(600),
    };
    config
}

fn sh(script: &str) -> ReplicaSpec {
    ReplicaSpec::new("sh", ["-c", script])
}

/// Ready as soon as it runs: an exec probe of `true`.
fn exec_ready(mut spec: ReplicaSpec) -> ReplicaSpec {
    spec.readiness_probe = Some(Probe::new(ProbeAction::Exec {
        command: vec!["true".into()],
    }));
    spec
}

async fn wait_status(
    set: &ReplicaSet,
    what: &str,
    pred: impl FnMut(&Vec<ReplicaStatus>) -> bool,
) -> Vec<ReplicaStatus> {
    let mut rx = set.watch();
    match timeout(LONG, rx.wait_for(pred)).await {
        Ok(Ok(status)) => status.clone(),
        _ => panic!("timed out waiting for {what}; status: {:#?}", set.status()),
    }
}

async fn wait_event(
    events: &mut broadcast::Receiver<ReplicaEvent>,
    mut pred: impl FnMut(&ReplicaEvent) -> bool,
) -> ReplicaEvent {
    let deadline = Instant::now() + LONG;
    loop {
        match timeout(
            deadline.saturating_duration_since(Instant::now()),
            events.recv(),
        )
        .await
        {
            Ok(Ok(event)) if pred(&event) => return event,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            other => panic!("no matching event: {other:?}"),
        }
    }
}

fn all_ready(n: usize) -> impl FnMut(&Vec<ReplicaStatus>) -> bool {
    move |s| s.len() == n && s.iter().all(|r| r.ready)
}

fn read_log(set: &ReplicaSet, ordinal: u32) -> String {
    std::fs::read_to_string(set.log_file(ordinal)).unwrap_or_default()
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

fn process_exists(pid: u32) -> bool {
    procfs::process::Process::new(pid as i32)
        .and_then(|p| p.stat())
        .is_ok_and(|s| s.state != 'Z')
}

fn group_members(pgid: u32) -> Vec<u32> {
    procfs::process::all_processes()
        .expect("/proc")
        .filter_map(Result::ok)
        .filter_map(|p| p.stat().ok())
        .filter(|s| s.pgrp == pgid as i32 && s.state != 'Z')
        .map(|s| s.pid as u32)
        .collect()
}

/// Polls until `pred` holds, for at most `bound`.
fn eventually(bound: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let step = Duration::from_millis(20);
    for _ in 0..(bound.as_millis() / step.as_millis()).max(1) {
        if pred() {
            return true;
        }
        std::thread::sleep(step);
    }
    pred()
}

fn monotonic_secs() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_server_gets_its_port_becomes_ready_and_serves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    let mut spec = ReplicaSpec::new(
        "python3",
        ["-m", "http.server", "{port}", "--bind", "127.0.0.1"],
    );
    spec.readiness_probe = Some(Probe::new(ProbeAction::HttpGet(HttpGet::path("/"))));
    let set = sup.add_service("web", spec).expect("add");
    let change = set.set_desired(2, |_| 0);
    assert_eq!(change.started, ["web-1", "web-2"]);
    let status = wait_status(&set, "two ready replicas", all_ready(2)).await;
    let ports: Vec<u16> = status
        .iter()
        .map(|r| r.address.expect("address").port())
        .collect();
    assert_ne!(ports[0], ports[1], "each replica has its own port");
    for replica in &status {
        assert_eq!(replica.phase, ReplicaPhase::Running);
        let cold_start = replica.start_to_ready().expect("timestamps");
        assert!(cold_start < LONG, "{cold_start:?}");
        assert!(replica.created_at <= replica.started_at.expect("started"));
        let response = http_get(replica.address.expect("address"), "/");
        assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    }
    sup.shutdown().await;
    for replica in &status {
        assert!(!process_exists(replica.pid.expect("pid")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_port_env_args_and_logs_reach_the_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    let mut spec = exec_ready(ReplicaSpec::new(
        "sh",
        [
            "-c",
            "echo \"arg=$0 port=$PORT replica=$EBB_REPLICA greeting=$GREETING\"; echo oops >&2; exec sleep 60",
            "{port}",
        ],
    ));
    spec.env = vec![("GREETING".into(), "hi-{port}".into())];
    let set = sup.add_service("envy", spec).expect("add");
    set.set_desired(1, |_| 0);
    let status = wait_status(&set, "ready", all_ready(1)).await;
    let port = status[0].address.expect("address").port();
    let expected = format!("arg={port} port={port} replica=envy-1 greeting=hi-{port}\n");
    assert!(
        eventually(Duration::from_secs(10), || read_log(&set, 1)
            .contains(&expected)),
        "log: {:?}",
        read_log(&set, 1)
    );
    assert!(
        read_log(&set, 1).contains("oops\n"),
        "stderr goes to the same log"
    );
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_seen_within_milliseconds_of_the_port_opening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bound_file = dir.path().join("bound_at");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    // Loads for a second, then listens and notes when (CLOCK_MONOTONIC, as ours).
    let script = "import os, socket, sys, time\n\
                  time.sleep(1)\n\
                  s = socket.socket(); s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen(16)\n\
                  bound = time.monotonic()\n\
                  open(sys.argv[1] + '.tmp', 'w').write(repr(bound)); os.replace(sys.argv[1] + '.tmp', sys.argv[1])\n\
                  time.sleep(60)\n";
    let spec = ReplicaSpec::new(
        "python3",
        ["-c", script, bound_file.to_str().expect("utf-8 path")],
    );
    // No readinessProbe: the default TCP probe, whose period (10 s) must not apply yet.
    let set = sup.add_service("slow", spec).expect("add");
    set.set_desired(1, |_| 0);
    let status = wait_status(&set, "ready", all_ready(1)).await;
    let seen = monotonic_secs();
    // The replica notes the time right after listen(), and writes it a moment later.
    assert!(eventually(Duration::from_secs(10), || bound_file.exists()));
    let bound: f64 = std::fs::read_to_string(&bound_file)
        .expect("bound_at")
        .trim()
        .parse()
        .expect("a number");
    let delay = seen - bound;
    assert!(
        (0.0..1.0).contains(&delay),
        "readiness seen {delay:.3}s after the port opened"
    );
    let cold_start = status[0].start_to_ready().expect("timestamps");
    assert!(cold_start >= Duration::from_secs(1), "{cold_start:?}");
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_goes_and_comes_back_with_the_probe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = dir.path().join("unhealthy");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    let script = "import http.server, os, sys\n\
                  class H(http.server.BaseHTTPRequestHandler):\n\
                  \x20   def do_GET(self):\n\
                  \x20       self.send_response(503 if os.path.exists(sys.argv[1]) else 200)\n\
                  \x20       self.end_headers()\n\
                  \x20   def log_message(self, *args): pass\n\
                  http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n";
    let mut spec = ReplicaSpec::new("python3", ["-c", script, flag.to_str().expect("utf-8")]);
    let mut probe = Probe::new(ProbeAction::HttpGet(HttpGet::path("/health")));
    probe.period = Duration::from_millis(100);
    probe.failure_threshold = 2;
    spec.readiness_probe = Some(probe);
    let set = sup.add_service("flaky", spec).expect("add");
    let mut events = set.events();
    set.set_desired(1, |_| 0);
    wait_status(&set, "ready", all_ready(1)).await;
    std::fs::write(&flag, "").expect("flag");
    wait_status(&set, "not ready", |s| !s[0].ready).await;
    let unhealthy = wait_event(&mut events, |e| e.kind == EventKind::Unhealthy).await;
    assert!(
        unhealthy.message.contains("statuscode: 503"),
        "{}",
        unhealthy.message
    );
    std::fs::remove_file(&flag).expect("unflag");
    let back = wait_status(&set, "ready again", all_ready(1)).await;
    assert_eq!(back[0].restarts, 0, "readiness never restarts a process");
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_replica_restarts_with_growing_backoff() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    let set = sup
        .add_service("crashy", exec_ready(sh("echo boom; exit 3")))
        .expect("add");
    let mut events = set.events();
    set.set_desired(1, |_| 0);
    let mut starts = Vec::new();
    while starts.len() < 4 {
        let event = wait_event(&mut events, |e| e.kind == EventKind::Started).await;
        starts.push(event.at);
    }
    let status = wait_status(&set, "CrashLoopBackOff", |s| {
        s[0].phase == ReplicaPhase::CrashLoopBackOff
    })
    .await;
    let exit = status[0].last_exit.clone().expect("last exit");
    assert_eq!((exit.reason, exit.exit_code), ("Error", 3));
    assert!(status[0].restarts >= 3, "{:?}", status[0]);
    assert!(status[0].restart_at.is_some());
    // Immediate, then 200 ms, 400 ms (bounded by 800 ms): waits are at least that long.
    let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[1] >= Duration::from_millis(200), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(400), "{gaps:?}");
    assert!(read_log(&set, 1).matches("boom").count() >= 4);
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_is_a_clear_error_and_crash_loop_not_a_hang() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    let set = sup
        .add_service("ghost", ReplicaSpec::new("ebb-no-such-program", ["x"]))
        .expect("add");
    let mut events = set.events();
    set.set_desired(1, |_| 0);
    let failed = wait_event(&mut events, |e| e.kind == EventKind::FailedToStart).await;
    assert_eq!(
        failed.message,
        "Cannot start replica ghost-1: program \"ebb-no-such-program\" not found in PATH"
    );
    let status = wait_status(&set, "CrashLoopBackOff", |s| {
        s[0].phase == ReplicaPhase::CrashLoopBackOff
    })
    .await;
    assert_eq!(
        status[0].last_exit.as_ref().map(|e| e.reason),
        Some("StartError")
    );
    assert!(
        status[0]
            .message
            .as_deref()
            .is_some_and(|m| m.contains("not found in PATH"))
    );
    assert!(read_log(&set, 1).contains("[ebb] cannot start replica ghost-1"));
    // Scaling a crash-looping replica away is immediate.
    set.set_desired(0, |_| 0);
    wait_status(&set, "removed", |s| s.is_empty()).await;
    sup.shutdown().await;
}

/// A replica that reports SIGTERM in its log (or ignores it).
fn term_script(on_term: &str) -> ReplicaSpec {
    exec_ready(sh(&format!(
        "trap '{on_term}' TERM; echo started; while :; do sleep 0.05; done"
    )))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_down_leaves_the_pool_waits_for_drain_then_sends_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    let set = sup
        .add_service("polite", term_script("echo got TERM; exit 0"))
        .expect("add");
    let mut events = set.events();
    set.set_desired(1, |_| 0);
    let status = wait_status(&set, "ready", all_ready(1)).await;
    let pid = status[0].pid.expect("pid");
    let change = set.set_desired(0, |_| 0);
    assert_eq!(change.stopping, ["polite-1"]);
    let now = set.status();
    assert_eq!(
        now[0].phase,
        ReplicaPhase::Terminating,
        "out of the pool at once"
    );
    assert!(!now[0].ready);
    // Still draining: no signal yet (grace period 30 s).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(process_exists(pid));
    assert!(!read_log(&set, 1).contains("got TERM"));
    let drained_at = Instant::now();
    assert!(set.drained("polite-1"));
    let removed = wait_event(&mut events, |e| e.kind == EventKind::Removed).await;
    assert!(removed.at - drained_at < Duration::from_secs(10));
    assert!(
        removed
            .message
            .ends_with("(its process exited with code 0)"),
        "{}",
        removed.message
    );
    assert!(read_log(&set, 1).contains("got TERM"));
    assert!(!process_exists(pid));
    assert!(set.status().is_empty());
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ignored_means_sigkill_after_the_grace_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    let mut spec = term_script("");
    spec.termination_grace_period = Duration::from_secs(3);
    let set = sup.add_service("stubborn", spec).expect("add");
    let mut events = set.events();
    set.set_desired(1, |_| 0);
    let pid = wait_status(&set, "ready", all_ready(1)).await[0]
        .pid
        .expect("pid");
    let asked = Instant::now();
    set.set_desired(0, |_| 0);
    set.drained("stubborn-1");
    let removed = wait_event(&mut events, |e| e.kind == EventKind::Removed).await;
    let took = removed.at - asked;
    assert!(
        took >= Duration::from_secs(3),
        "SIGKILL only after the grace period: {took:?}"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(
        removed
            .message
            .ends_with("(its process was killed by signal 9)"),
        "{}",
        removed.message
    );
    assert!(!process_exists(pid));
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undrained_replica_gets_sigterm_when_the_grace_period_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    let mut spec = term_script("echo got TERM; exit 0");
    spec.termination_grace_period = Duration::from_secs(1);
    let set = sup.add_service("slowdrain", spec).expect("add");
    let mut events = set.events();
    set.set_desired(1, |_| 0);
    wait_status(&set, "ready", all_ready(1)).await;
    let asked = Instant::now();
    set.set_desired(0, |_| 0);
    let removed = wait_event(&mut events, |e| e.kind == EventKind::Removed).await;
    let took = removed.at - asked;
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(
        read_log(&set, 1).contains("got TERM"),
        "SIGTERM, not SIGKILL"
    );
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_least_busy_replica_leaves_first_and_its_ordinal_is_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    let mut spec = exec_ready(sh("exec sleep 60"));
    spec.termination_grace_period = Duration::from_secs(5);
    let set = sup.add_service("pool", spec).expect("add");
    set.set_desired(3, |_| 0);
    wait_status(&set, "three ready", all_ready(3)).await;
    let load = BTreeMap::from([("pool-1", 4), ("pool-2", 0), ("pool-3", 9)]);
    let change = set.set_desired(2, |name| load.get(name).copied().unwrap_or(0));
    assert_eq!(change.stopping, ["pool-2"]);
    let active: Vec<String> = set
        .status()
        .into_iter()
        .filter(|r| r.phase != ReplicaPhase::Terminating)
        .map(|r| r.name)
        .collect();
    assert_eq!(active, ["pool-1", "pool-3"]);
    set.drained("pool-2");
    wait_status(&set, "pool-2 gone", |s| s.len() == 2).await;
    assert_eq!(set.set_desired(3, |_| 0).started, ["pool-2"]);
    wait_status(&set, "three ready again", all_ready(3)).await;
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_startup_and_liveness_probes_restart_the_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sick = dir.path().join("sick");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    let mut spec = exec_ready(sh("exec sleep 60"));
    spec.termination_grace_period = Duration::from_secs(2);
    let mut liveness = Probe::new(ProbeAction::Exec {
        command: vec![
            "test".into(),
            "!".into(),
            "-e".into(),
            sick.display().to_string(),
        ],
    });
    liveness.period = Duration::from_millis(100);
    liveness.failure_threshold = 2;
    spec.liveness_probe = Some(liveness);
    let mut startup = Probe::new(ProbeAction::Exec {
        command: vec![
            "test".into(),
            "-e".into(),
            dir.path().join("started").display().to_string(),
        ],
    });
    startup.period = Duration::from_millis(200);
    startup.failure_threshold = 3;
    spec.startup_probe = Some(startup);
    let set = sup.add_service("sick", spec).expect("add");
    let mut events = set.events();
    set.set_desired(1, |_| 0);
    // The startup probe never passes: the process is restarted after 0.6 s of failures.
    let event = wait_event(&mut events, |e| e.kind == EventKind::Unhealthy).await;
    assert!(
        event.message.starts_with("Startup probe failed"),
        "{}",
        event.message
    );
    wait_status(&set, "a restart", |s| s[0].restarts >= 1).await;
    assert!(
        !set.status()[0].ready,
        "not ready before the startup probe passes"
    );
    std::fs::write(dir.path().join("started"), "").expect("started");
    let ready = wait_status(&set, "ready", all_ready(1)).await;
    let restarts = ready[0].restarts;
    std::fs::write(&sick, "").expect("sick");
    let event = wait_event(&mut events, |e| {
        e.kind == EventKind::Unhealthy && e.message.starts_with("Liveness")
    })
    .await;
    assert!(event.message.contains("exited with"), "{}", event.message);
    std::fs::remove_file(&sick).expect("healthy again");
    let again = wait_status(&set, "restarted and ready", |s| {
        s[0].restarts > restarts && s[0].ready
    })
    .await;
    assert_eq!(
        again[0]
            .last_exit
            .as_ref()
            .and_then(|e| e.message.as_deref())
            .map(|m| m.starts_with("Liveness probe failed")),
        Some(true)
    );
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_is_summed_over_the_process_group_and_memory_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(dir.path());
    config.usage_interval = Duration::from_millis(500);
    let sup = Supervisor::start(config).expect("start");
    // The busy loop runs in a child of the replica's first process.
    let busy = sup
        .add_service("busy", exec_ready(sh("sh -c 'while :; do :; done' & wait")))
        .expect("add");
    let idle = sup
        .add_service("idle", exec_ready(sh("exec sleep 60")))
        .expect("add");
    busy.set_desired(1, |_| 0);
    idle.set_desired(1, |_| 0);
    wait_status(&busy, "busy ready", all_ready(1)).await;
    wait_status(&idle, "idle ready", all_ready(1)).await;
    let mut samples = Vec::new();
    let deadline = Instant::now() + LONG;
    while samples.len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(600)).await;
        if let (Some(b), Some(i)) = (busy.usage().pop(), idle.usage().pop()) {
            samples.push((b, i));
        }
    }
    assert!(samples.len() >= 3, "usage was sampled");
    let (b, i) = samples.last().cloned().expect("a sample");
    assert_eq!(b.replica, "busy-1");
    assert!(b.window >= Duration::from_millis(400), "{:?}", b.window);
    // One busy core on a shared two-core machine: expect well above idle, below two cores.
    let busy_avg = samples.iter().map(|(b, _)| b.cpu_cores).sum::<f64>() / samples.len() as f64;
    assert!(busy_avg > 0.2 && busy_avg < 2.1, "busy: {busy_avg} cores");
    assert!(i.cpu_cores < 0.1, "idle: {} cores", i.cpu_cores);
    assert!(b.memory_bytes > 100 * 1024 && i.memory_bytes > 100 * 1024);
    let pm = b.to_pod_metrics("busy", b.at);
    assert!(pm.containers[0].usage["cpu"].milli_value() > 200);
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_supervisor_kills_every_replica() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    let set = sup
        .add_service("dropped", exec_ready(sh("sleep 60 & sleep 60; wait")))
        .expect("add");
    set.set_desired(2, |_| 0);
    let pgids: Vec<u32> = wait_status(&set, "ready", all_ready(2))
        .await
        .iter()
        .map(|r| r.pid.expect("pid"))
        .collect();
    drop(sup);
    assert!(eventually(Duration::from_secs(10), || {
        pgids.iter().all(|g| group_members(*g).is_empty())
    }));
}

// --- A supervisor in a child process that the test SIGKILLs ------------------------------

const CHILD_ENV: &str = "EBB_SUPERVISOR_TEST_CHILD";

/// Runs only as the child of the tests below: starts two replicas whose first process has
/// children of its own, prints their process groups, and waits to be killed.
#[test]
#[ignore = "run by the SIGKILL tests in a child process"]
fn child_supervisor() {
    let Some(state_dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let watchdog = std::env::var("EBB_TEST_WATCHDOG").is_ok_and(|v| v == "1");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut config = config(Path::new(&state_dir));
        config.watchdog = watchdog;
        let sup = Supervisor::start(config).expect("start");
        let set = sup
            .add_service("orphan", exec_ready(sh("sleep 300 & sleep 300 & wait")))
            .expect("add");
        set.set_desired(2, |_| 0);
        let status = wait_status(&set, "ready", all_ready(2)).await;
        // Let the shells fork their sleeps before reporting.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let groups: Vec<String> = status
            .iter()
            .map(|r| r.pid.expect("pid").to_string())
            .collect();
        println!("GROUPS {}", groups.join(" "));
        std::io::stdout().flush().expect("flush");
        tokio::time::sleep(Duration::from_secs(120)).await;
        drop(sup);
    });
}

/// Kills, when a test ends (even by panicking), the child supervisor and any process it left.
struct Cleanup {
    child: std::process::Child,
    /// PID and start time, so a reused PID is never killed.
    processes: Vec<(u32, u64)>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for &(pid, start) in &self.processes {
            if start_ticks(pid) == Some(start)
                && let Some(pid) = rustix::process::Pid::from_raw(pid as i32)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

fn start_ticks(pid: u32) -> Option<u64> {
    procfs::process::Process::new(pid as i32)
        .and_then(|p| p.stat())
        .ok()
        .map(|s| s.starttime)
}

/// Starts the child supervisor; returns it with the replica groups and all their members.
fn start_child(state_dir: &Path, watchdog: bool) -> (Cleanup, Vec<(u32, Vec<u32>)>) {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_supervisor",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, state_dir)
        .env("EBB_TEST_WATCHDOG", if watchdog { "1" } else { "0" })
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child supervisor");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest prints "test child_supervisor ... " before the test's own output.
            if let Some((_, groups)) = line.split_once("GROUPS ") {
                let _ = tx.send(groups.to_string());
            }
        }
    });
    let mut cleanup = Cleanup {
        child,
        processes: Vec::new(),
    };
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the child supervisor reported its replicas");
    let groups: Vec<(u32, Vec<u32>)> = line
        .split_whitespace()
        .map(|g| {
            let pgid: u32 = g.parse().expect("pgid");
            (pgid, group_members(pgid))
        })
        .collect();
    cleanup.processes = all_pids(&groups)
        .into_iter()
        .filter_map(|pid| Some((pid, start_ticks(pid)?)))
        .collect();
    (cleanup, groups)
}

fn all_pids(groups: &[(u32, Vec<u32>)]) -> Vec<u32> {
    groups
        .iter()
        .flat_map(|(_, members)| members.clone())
        .collect()
}

fn state_dir_of(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("state")
}

#[test]
fn sigkill_of_the_supervising_process_leaves_no_replica_alive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut cleanup, groups) = start_child(&state_dir_of(&dir), true);
    let pids = all_pids(&groups);
    assert_eq!(groups.len(), 2);
    assert!(
        pids.len() >= 6,
        "two shells with two sleeps each: {groups:?}"
    );
    cleanup.child.kill().expect("SIGKILL the supervisor");
    cleanup.child.wait().expect("reap");
    assert!(
        eventually(Duration::from_secs(10), || pids
            .iter()
            .all(|p| !process_exists(*p))),
        "survivors: {:?}",
        pids.iter()
            .filter(|p| process_exists(**p))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_supervisor_sweeps_what_a_killed_one_left_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = state_dir_of(&dir);
    // Without the watchdog, the parent-death signal kills only each replica's first process;
    // its children survive the SIGKILL, as a model server's workers would.
    let (mut cleanup, groups) = start_child(&state, false);
    cleanup.child.kill().expect("SIGKILL the supervisor");
    cleanup.child.wait().expect("reap");
    let leaders: Vec<u32> = groups.iter().map(|(pgid, _)| *pgid).collect();
    assert!(
        eventually(Duration::from_secs(10), || leaders
            .iter()
            .all(|p| !process_exists(*p))),
        "the parent-death signal killed the first processes"
    );
    let survivors: Vec<u32> = all_pids(&groups)
        .into_iter()
        .filter(|p| process_exists(*p))
        .collect();
    assert!(survivors.len() >= 4, "grandchildren survive: {survivors:?}");
    let sup = Supervisor::start(config(&state)).expect("restart");
    let swept = sup.leftovers();
    assert_eq!(swept.len(), 2, "{swept:?}");
    assert!(swept.iter().all(|l| l.service == "orphan"));
    assert!(
        eventually(Duration::from_secs(10), || survivors
            .iter()
            .all(|p| !process_exists(*p))),
        "swept"
    );
    sup.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurdly_long_durations_neither_panic_nor_block_a_drained_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sup = Supervisor::start(config(dir.path())).expect("start");
    let mut spec = sh("exec sleep 60");
    spec.termination_grace_period = Duration::MAX;
    let mut probe = Probe::new(ProbeAction::TcpSocket { port: None });
    probe.initial_delay = Duration::MAX;
    probe.period = Duration::MAX;
    spec.readiness_probe = Some(probe);
    let set = sup.add_service("forever", spec).expect("add");
    let mut events = set.events();
    set.set_desired(1, |_| 0);
    wait_event(&mut events, |e| e.kind == EventKind::Started).await;
    assert!(!set.status()[0].ready, "the probe is not due for a century");
    set.set_desired(0, |_| 0);
    set.drained("forever-1");
    let removed = wait_event(&mut events, |e| e.kind == EventKind::Removed).await;
    assert!(
        removed
            .message
            .ends_with("(its process was killed by signal 15)"),
        "{}",
        removed.message
    );
    sup.shutdown().await;
}
