//! `ebb serve` end to end: the real binary on 127.0.0.1, real replicas (`ebb model-server`),
//! real load (`ebb load`), observed through the admin API and `ebb get` as a user would.
//!
//! Knative's windows are shortened with a `config-autoscaler` ConfigMap in the manifests, and
//! the HPA's periods with `ebb serve` flags, so each test takes seconds, not minutes. The tests
//! run one at a time: several ebbs with their replicas on a small machine would measure each
//! other. Timeouts are generous; every wait names what it waited for.

// These tests wait on real time for real processes: std's clock is the right one here.
#![allow(clippy::disallowed_types)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

const EBB: &str = env!("CARGO_BIN_EXE_ebb");

/// One test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Knative timers short enough for a test: 6 s stable window (the minimum), 1 s grace.
const FAST_KNATIVE: &str = "
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
  namespace: knative-serving
data:
  stable-window: 6s
  scale-to-zero-grace-period: 1s
";

/// A KServe model whose requests take `delay` without using CPU.
fn isvc(name: &str, min: i32, max: i32, target: i32, delay: &str) -> String {
    format!(
        "apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {name}
  annotations:
    ebb.dev/command: \"ebb model-server --port {{port}} --name {name} --delay {delay} --cost-per-text 0s\"
spec:
  predictor:
    minReplicas: {min}
    maxReplicas: {max}
    scaleMetric: concurrency
    scaleTarget: {target}
    containers:
      - name: kserve-container
        image: example/model:latest
{FAST_KNATIVE}"
    )
}

struct Serve {
    child: Child,
    port: u16,
    admin: SocketAddr,
    dir: tempfile::TempDir,
}

impl Serve {
    fn start(manifest: &str, args: &[&str]) -> Serve {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("app.yaml");
        std::fs::write(&file, manifest).expect("write manifest");
        let port = free_port();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let log = std::fs::File::create(dir.path().join("serve.log")).expect("log file");
        let child = Command::new(EBB)
            .arg("serve")
            .arg("-f")
            .arg(&file)
            .args(["--port", &port.to_string(), "--admin", &admin.to_string()])
            .args(args)
            .env("EBB_STATE_DIR", dir.path().join("state"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn ebb serve");
        let serve = Serve {
            child,
            port,
            admin,
            dir,
        };
        serve.wait_for("the admin API", Duration::from_secs(30), |s| {
            s.http(s.admin, "/healthz", None).0 == 200
        });
        serve
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// GET (or POST with a body) over plain HTTP/1.1; status 0 when nothing answers.
    fn http(&self, addr: SocketAddr, path: &str, body: Option<(&str, &str)>) -> (u16, String) {
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            return (0, String::new());
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let request = match body {
            None => format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
            Some((host, body)) => format!(
                "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        };
        if s.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    fn api(&self, path: &str) -> Value {
        let (status, body) = self.http(self.admin, path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    fn pods(&self) -> Vec<Value> {
        self.api("/api/v1/pods")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn replicas(&self, service: &str) -> i64 {
        let services = self.api("/api/v1/services");
        services
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == service)
            .map_or(-1, |s| s["replicas"].as_i64().unwrap_or(-1))
    }

    fn predict(&self, host: &str, model: &str) -> (u16, String) {
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().expect("addr");
        self.http(
            addr,
            &format!("/v1/models/{model}:predict"),
            Some((host, r#"{"instances": ["a wonderful film"]}"#)),
        )
    }

    fn wait_for(&self, what: &str, timeout: Duration, ok: impl Fn(&Serve) -> bool) {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if ok(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "waited {timeout:?} for {what}; pods: {:?}\n--- ebb serve log ---\n{}",
            self.http(self.admin, "/api/v1/pods", None).1,
            self.log()
        );
    }

    /// `ebb load` against this server, in the background; its JSON summary goes to a file.
    fn load(&self, path: &str, host: &str, args: &[&str]) -> Load {
        let summary = self.dir.path().join(format!("load-{}.json", free_port()));
        let child = Command::new(EBB)
            .arg("load")
            .arg(format!("http://127.0.0.1:{}{path}", self.port))
            .args([
                "-H",
                &format!("Host: {host}"),
                "--body-template",
                "sentiment",
                "--json",
            ])
            .arg(&summary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ebb load");
        Load { child, summary }
    }

    fn stop(mut self) {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"))
            .expect("pid");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let status = self.child.wait().expect("wait for ebb serve");
        assert!(
            status.success(),
            "ebb serve did not stop cleanly: {status:?}\n{}",
            self.log()
        );
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Load {
    child: Child,
    summary: PathBuf,
}

impl Load {
    /// Waits for the run to end; returns (requests completed with 2xx, failed).
    fn finish(mut self) -> (u64, u64) {
        let status = self.child.wait().expect("wait for ebb load");
        assert!(status.success(), "ebb load failed: {status:?}");
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(&self.summary).expect("load summary"))
                .expect("json");
        let codes = summary["status_codes"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let ok: u64 = codes
            .iter()
            .filter(|(c, _)| c.starts_with('2'))
            .map(|(_, n)| n.as_u64().unwrap_or(0))
            .sum();
        let all: u64 = codes.values().map(|n| n.as_u64().unwrap_or(0)).sum();
        let errors = summary["errors"].as_object().map_or(0, |e| {
            e.values().map(|n| n.as_u64().unwrap_or(0)).sum::<u64>()
        });
        (ok, all - ok + errors)
    }
}

fn alive(pid: i64) -> bool {
    // A zombie is as good as gone: its process has exited.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn kpa_scales_up_under_load_and_back_down_without_failing_a_request() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let serve = Serve::start(&isvc("sentiment", 1, 4, 2, "300ms"), &[]);
    let host = "sentiment.default.example.com";
    // 8 in flight against 1.4 per replica: the panic window asks for the maximum, 4.
    let burst = serve.load(
        "/v1/models/sentiment:predict",
        host,
        &["--concurrency", "8", "--run-time", "8s"],
    );
    serve.wait_for("a scale-up to 4 replicas", Duration::from_secs(20), |s| {
        s.replicas("sentiment") == 4
    });
    let (ok, failed) = burst.finish();
    assert!(
        ok > 0 && failed == 0,
        "during the scale-up: {ok} ok, {failed} failed"
    );

    // Light load while it scales back down: drained replicas finish their requests.
    let light = serve.load(
        "/v1/models/sentiment:predict",
        host,
        &["--concurrency", "1", "--run-time", "30s"],
    );
    serve.wait_for(
        "the scale-down to 1 replica",
        Duration::from_secs(40),
        |s| s.replicas("sentiment") == 1,
    );
    let (ok, failed) = light.finish();
    assert!(
        ok > 0 && failed == 0,
        "across the scale-down: {ok} ok, {failed} failed"
    );

    let out = Command::new(EBB)
        .args(["get", "hpa", "--admin", &serve.admin.to_string()])
        .output()
        .expect("ebb get");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.starts_with("NAME")
            && table.contains("InferenceService/sentiment")
            && table.contains("concurrency: "),
        "{table}"
    );
    let detail = serve.api("/api/v1/services/sentiment");
    let events = detail["events"].to_string();
    assert!(events.contains("Scaled up from 1 to"), "{events}");
    assert!(events.contains("Scaled down from"), "{events}");
    serve.stop();
}

#[test]
fn kpa_scales_to_zero_and_holds_the_first_request_until_a_replica_is_ready() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let serve = Serve::start(&isvc("zero", 0, 2, 10, "0s"), &[]);
    let (status, body) = serve.predict("zero.default.example.com", "zero");
    assert_eq!(status, 200, "{body}");
    // Idle: a stable window (6 s) of nothing, active that long, then the 1 s grace.
    serve.wait_for("scale to zero", Duration::from_secs(45), |s| {
        s.pods().is_empty()
    });
    let (status, body) = serve.predict("zero.default.example.com", "zero");
    assert_eq!(status, 200, "the request that woke the service: {body}");
    assert!(body.contains("predictions"), "{body}");
    let detail = serve.api("/api/v1/services/zero");
    let events = detail["events"].to_string();
    assert!(
        events.contains("first replica ready")
            && events.contains("after the first request at zero"),
        "{events}"
    );
    let metrics = serve.http(serve.admin, "/metrics", None).1;
    assert!(
        metrics
            .contains("ebb_autoscaler_cold_starts_total{namespace=\"default\",service=\"zero\"} 2"),
        "{metrics}"
    );
    serve.stop();
}

fn deployment(name: &str, replicas: i32, port: u16, command: &str, cpu: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: app
          command: {command}
          resources:
            requests: {{cpu: {cpu}}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports:
    - port: {port}
"
    )
}

#[test]
fn a_killed_replica_is_restarted_and_only_its_requests_fail() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let port = free_port();
    let command = format!(
        "[\"{EBB}\", \"model-server\", \"--port\", \"{{port}}\", \"--delay\", \"300ms\", \"--cost-per-text\", \"0s\"]"
    );
    let serve = Serve::start(&deployment("web", 2, port, &command, "100m"), &[]);
    serve.wait_for("2 ready replicas", Duration::from_secs(20), |s| {
        s.pods().iter().filter(|p| p["ready"] == true).count() == 2
    });
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    // The Service's own port routes to its only workload, whatever the Host.
    let load = Command::new(EBB)
        .args([
            "load",
            &format!("http://{addr}/predict"),
            "--body-template",
            "sentiment",
            "--concurrency",
            "4",
            "--run-time",
            "6s",
            "--json",
        ])
        .arg(serve.dir.path().join("killed.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ebb load");
    let load = Load {
        child: load,
        summary: serve.dir.path().join("killed.json"),
    };
    std::thread::sleep(Duration::from_secs(2));
    let victim = serve
        .pods()
        .into_iter()
        .find(|p| p["name"] == "web-1")
        .expect("web-1");
    let pid = victim["pid"].as_i64().expect("pid");
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    let (ok, failed) = load.finish();
    // Only requests in flight on the killed replica can fail: at most the 4 in flight.
    assert!(
        failed <= 4,
        "{failed} requests failed; only the killed replica's in-flight ones may"
    );
    assert!(ok > 20, "the other replica kept serving: {ok} ok");
    serve.wait_for("web-1 restarted and ready", Duration::from_secs(20), |s| {
        s.pods().iter().any(|p| {
            p["name"] == "web-1" && p["restarts"].as_u64() >= Some(1) && p["ready"] == true
        })
    });
    serve.stop();
}

#[test]
fn a_command_that_does_not_exist_is_crash_loop_back_off_not_a_hang() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let serve = Serve::start(
        &deployment(
            "broken",
            1,
            free_port(),
            "[\"/nonexistent/model-server\"]",
            "100m",
        ),
        &[],
    );
    serve.wait_for("CrashLoopBackOff", Duration::from_secs(20), |s| {
        s.pods().iter().any(|p| p["status"] == "CrashLoopBackOff")
    });
    let events = serve.api("/api/v1/services/broken")["events"].to_string();
    assert!(
        events.contains("does not exist"),
        "the event says why: {events}"
    );
    let out = Command::new(EBB)
        .args(["get", "pods", "--admin", &serve.admin.to_string()])
        .output()
        .expect("ebb get pods");
    assert!(String::from_utf8_lossy(&out.stdout).contains("CrashLoopBackOff"));
    serve.stop();
}

#[test]
fn sigkill_of_ebb_leaves_no_replica_behind() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let command = format!("[\"{EBB}\", \"model-server\", \"--port\", \"{{port}}\"]");
    let mut serve = Serve::start(
        &deployment("orphans", 2, free_port(), &command, "100m"),
        &[],
    );
    serve.wait_for("2 ready replicas", Duration::from_secs(20), |s| {
        s.pods().iter().filter(|p| p["ready"] == true).count() == 2
    });
    let pids: Vec<i64> = serve
        .pods()
        .iter()
        .filter_map(|p| p["pid"].as_i64())
        .collect();
    assert_eq!(pids.len(), 2);
    serve.child.kill().expect("SIGKILL ebb");
    serve.child.wait().expect("reap ebb");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|p| alive(*p)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let survivors: Vec<i64> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(
        survivors.is_empty(),
        "replicas outlived a SIGKILLed ebb: {survivors:?}"
    );
}

#[test]
fn hpa_scales_on_the_replicas_cpu() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let port = free_port();
    let command = format!(
        "[\"{EBB}\", \"model-server\", \"--port\", \"{{port}}\", \"--cost-per-text\", \"2ms\", \"--workers\", \"1\"]"
    );
    let manifest = format!(
        "{}---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: cpu
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: cpu}}
  minReplicas: 1
  maxReplicas: 3
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 50}}}}
",
        deployment("cpu", 1, port, &command, "100m")
    );
    let serve = Serve::start(
        &manifest,
        &[
            "--hpa-sync-period",
            "1s",
            "--metrics-resolution",
            "1s",
            "--hpa-cpu-initialization-period",
            "1s",
        ],
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let load = Command::new(EBB)
        .args([
            "load",
            &format!("http://{addr}/predict"),
            "--body-template",
            "sentiment",
            "--concurrency",
            "2",
            "--run-time",
            "15s",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ebb load");
    // One busy worker is about a whole core against a 100m request: far above 50%.
    serve.wait_for("the HPA scaling to 3", Duration::from_secs(30), |s| {
        s.replicas("cpu") == 3
    });
    let out = Command::new(EBB)
        .args(["get", "hpa", "--admin", &serve.admin.to_string()])
        .output()
        .expect("ebb get hpa");
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        table.contains("cpu: ") && table.contains("%/50%"),
        "{table}"
    );
    let detail = serve.api("/api/v1/services/cpu");
    assert!(
        detail["events"].to_string().contains("SuccessfulRescale"),
        "{detail}"
    );
    let mut load = load;
    let _ = load.wait();
    serve.stop();
}

#[test]
fn sighup_reloads_the_manifests_and_converges_to_the_new_spec() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let port = free_port();
    let command = format!("[\"{EBB}\", \"model-server\", \"--port\", \"{{port}}\"]");
    let serve = Serve::start(&deployment("fixed", 1, port, &command, "100m"), &[]);
    serve.wait_for("1 ready replica", Duration::from_secs(20), |s| {
        s.pods().iter().filter(|p| p["ready"] == true).count() == 1
    });
    // The user edits the file: two replicas, and a new command (which needs a restart).
    let edited = deployment(
        "fixed",
        2,
        port,
        &command.replace("model-server\"", "model-server\", \"--workers\", \"2\""),
        "100m",
    );
    std::fs::write(serve.dir.path().join("app.yaml"), edited).expect("edit");
    let pid =
        rustix::process::Pid::from_raw(i32::try_from(serve.child.id()).expect("pid")).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).expect("SIGHUP");
    serve.wait_for(
        "2 ready replicas after the reload",
        Duration::from_secs(20),
        |s| s.pods().iter().filter(|p| p["ready"] == true).count() == 2,
    );
    serve.wait_for("the reload report", Duration::from_secs(5), |s| {
        s.log()
            .contains("its command, environment or probes changed")
    });
    assert!(
        serve.api("/api/v1/services/fixed")["events"]
            .to_string()
            .contains("Reloaded")
    );
    serve.stop();
}

#[test]
fn immediate_panic_decides_before_the_tick_when_enabled() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let serve = Serve::start(&isvc("eager", 1, 4, 1, "500ms"), &["--kpa-immediate-panic"]);
    serve.wait_for("1 ready replica", Duration::from_secs(20), |s| {
        s.pods().iter().filter(|p| p["ready"] == true).count() == 1
    });
    let host = "eager.default.example.com";
    let load = serve.load(
        "/v1/models/eager:predict",
        host,
        &["--concurrency", "8", "--run-time", "3s"],
    );
    serve.wait_for("a scale-up", Duration::from_secs(10), |s| {
        s.replicas("eager") > 1
    });
    let (_, failed) = load.finish();
    assert_eq!(failed, 0);
    let events = serve.api("/api/v1/services/eager")["events"].to_string();
    assert!(
        events.contains("ImmediatePanic") && events.contains("deciding now"),
        "{events}"
    );
    serve.stop();
}

#[test]
fn the_predictors_timeout_and_the_client_limit_flags_bound_a_request() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // KServe's `timeout` (Knative's timeoutSeconds): 1 s, against a model that takes 3 s.
    let manifest =
        isvc("slow", 1, 1, 10, "3s").replace("  predictor:\n", "  predictor:\n    timeout: 1\n");
    let serve = Serve::start(
        &manifest,
        &[
            "--gateway-body-read-timeout",
            "500ms",
            "--gateway-header-read-timeout",
            "700ms",
            "--gateway-max-header-bytes",
            "8Ki",
        ],
    );
    serve.wait_for("a ready replica", Duration::from_secs(30), |s| {
        s.pods().iter().any(|p| p["ready"] == true)
    });
    let started = std::time::Instant::now();
    let (status, body) = serve.predict("slow.default.example.com", "slow");
    let took = started.elapsed();
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("within responseTimeout (1s)"), "{body}");
    assert!(
        took < Duration::from_millis(2900),
        "answered at the timeout, not the model: {took:?}"
    );
    // A client that stops sending its body: 408 at the flag's 0.5 s, not at the 1 s timeout.
    let addr = SocketAddr::from(([127, 0, 0, 1], serve.port));
    let mut client = TcpStream::connect(addr).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    client
        .write_all(
            b"POST /v1/models/slow:predict HTTP/1.1\r\nHost: slow.default.example.com\r\n\
              Content-Length: 40\r\n\r\n{\"instances\": [",
        )
        .expect("write");
    let mut answer = String::new();
    client.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("bodyReadTimeout (500ms)"), "{answer}");
    // A head over the flag's 8 KiB (the default allows 64 KiB): 431.
    let mut client = TcpStream::connect(addr).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let big = format!(
        "GET /v1/models/slow HTTP/1.1\r\nHost: slow.default.example.com\r\nX-Big: {}\r\n\r\n",
        "b".repeat(9 * 1024)
    );
    client.write_all(big.as_bytes()).expect("write");
    let mut answer = String::new();
    client.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // A head that stops coming: the connection closes at the flag's 0.7 s, not the default 30 s.
    let mut client = TcpStream::connect(addr).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let started = std::time::Instant::now();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: slow")
        .expect("write");
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(10),
        "closed after {took:?}"
    );
    serve.stop();
}

#[test]
fn the_answers_flag_gives_knatives_503_to_a_request_held_past_its_wait() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A replica that takes 5 s to load and a 1 s request timeout: the request is held, and
    // gets the activator's 503 instead of ebb's 504 when it runs out.
    let manifest = isvc("cold", 0, 1, 10, "0s")
        .replace("--cost-per-text 0s", "--cost-per-text 0s --load-seconds 5")
        .replace("  predictor:\n", "  predictor:\n    timeout: 1\n");
    let serve = Serve::start(&manifest, &["--gateway-answers", "knative"]);
    let started = std::time::Instant::now();
    let (status, body) = serve.predict("cold.default.example.com", "cold");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no ready replica"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "answered at the 1 s wait"
    );
    serve.stop();
}

#[test]
fn the_balancing_flag_gives_knatives_first_free_replica_at_low_concurrency() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Two replicas of containerConcurrency 2 and two requests at once: the activator's rule
    // sends both to the first replica, where least-of-two would give each replica one.
    let manifest = isvc("pair", 2, 2, 10, "1s").replace(
        "  predictor:\n",
        "  predictor:\n    containerConcurrency: 2\n",
    );
    let serve = Serve::start(&manifest, &["--gateway-balancing", "knative"]);
    serve.wait_for("two ready replicas", Duration::from_secs(20), |s| {
        s.pods().iter().filter(|p| p["ready"] == true).count() == 2
    });
    std::thread::scope(|scope| {
        let requests: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| serve.predict("pair.default.example.com", "pair")))
            .collect();
        for request in requests {
            let (status, body) = request.join().expect("request thread");
            assert_eq!(status, 200, "{body}");
        }
    });
    let metrics = serve.http(serve.admin, "/metrics", None).1;
    let mut completed: Vec<u64> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("ebb_gateway_replica_completed_total{") && l.contains("service=\"pair\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    completed.sort_unstable();
    assert_eq!(completed, [0, 2], "{metrics}");
    serve.stop();
}
