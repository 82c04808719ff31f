//! Benchmark of the replica lifecycle (run by `bench/supervisor/run.sh`; prints numbers, never
//! fails on them):
//!
//! - order → spawned: from `set_desired(1)` to the replica's process running;
//! - port open → ready seen: from the moment a replica starts listening (it notes
//!   CLOCK_MONOTONIC right after `listen()`) to the moment a watcher of the status channel
//!   sees it ready, the delay the fast probing adds to every cold start;
//! - port open → first response: the same, plus one HTTP request through the new replica;
//! - start → ready for `ebb model-server` (its own start-up plus detection);
//! - drained → gone: from `drained()` to the replica removed (SIGTERM handled by the server).
//!
//! Usage: bench-replicas [--rounds N] [--fast-ms MS] [--ebb PATH]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use ebb_supervisor::{
    EventKind, HttpGet, Probe, ProbeAction, ReplicaEvent, ReplicaSet, ReplicaSpec, Supervisor,
    SupervisorConfig,
};
use tokio::sync::broadcast;
use tokio::time::{Instant, timeout};

const BOUND: Duration = Duration::from_secs(60);

/// A replica that starts listening after 300 ms, notes when, and answers every GET with 200.
const LATE_LISTENER: &str = "import http.server, os, sys, time\n\
time.sleep(0.3)\n\
class H(http.server.BaseHTTPRequestHandler):\n\
\x20   def do_GET(self):\n\
\x20       self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers(); self.wfile.write(b'ok')\n\
\x20   def log_message(self, *args): pass\n\
server = http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H)\n\
bound = time.monotonic()\n\
open(sys.argv[1] + '.tmp', 'w').write(repr(bound)); os.replace(sys.argv[1] + '.tmp', sys.argv[1])\n\
server.serve_forever()\n";

struct Options {
    rounds: usize,
    fast_ms: Option<u64>,
    ebb: Option<PathBuf>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        rounds: 20,
        fast_ms: None,
        ebb: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--rounds" => {
                options.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?
            }
            "--fast-ms" => {
                options.fast_ms = Some(value()?.parse().map_err(|e| format!("--fast-ms: {e}"))?);
            }
            "--ebb" => options.ebb = Some(PathBuf::from(value()?)),
            other => {
                return Err(format!(
                    "unknown flag {other}; use --rounds N --fast-ms MS --ebb PATH"
                ));
            }
        }
    }
    Ok(options)
}

fn monotonic_secs() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

async fn next_event(
    events: &mut broadcast::Receiver<ReplicaEvent>,
    kind: EventKind,
) -> Result<ReplicaEvent, String> {
    let deadline = Instant::now() + BOUND;
    loop {
        match timeout(
            deadline.saturating_duration_since(Instant::now()),
            events.recv(),
        )
        .await
        {
            Ok(Ok(event)) if event.kind == kind => return Ok(event),
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            other => return Err(format!("no {kind:?} event: {other:?}")),
        }
    }
}

async fn wait_ready(set: &ReplicaSet) -> Result<(), String> {
    let mut rx = set.watch();
    timeout(BOUND, rx.wait_for(|s| s.len() == 1 && s[0].ready))
        .await
        .map_err(|_| "replica never became ready".to_string())?
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn get(addr: std::net::SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET / HTTP/1.0\r\nHost: bench\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    if response.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        Err(format!("unexpected response {response:?}"))
    }
}

#[derive(Default)]
struct Samples(Vec<(&'static str, Vec<f64>)>);

impl Samples {
    fn add(&mut self, name: &'static str, ms: f64) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(ms),
            None => self.0.push((name, vec![ms])),
        }
    }

    fn print(&self) {
        println!(
            "{:<34} {:>5} {:>9} {:>9} {:>9} {:>9}",
            "measure (ms)", "n", "min", "median", "p90", "max"
        );
        for (name, values) in &self.0 {
            let mut v = values.clone();
            v.sort_by(f64::total_cmp);
            let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
            println!(
                "{name:<34} {:>5} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                v.len(),
                v[0],
                at(0.5),
                at(0.9),
                v[v.len() - 1]
            );
        }
    }
}

async fn late_listener_round(
    set: &ReplicaSet,
    file: &std::path::Path,
    samples: &mut Samples,
) -> Result<(), String> {
    let _ = std::fs::remove_file(file);
    let mut events = set.events();
    let ordered = Instant::now();
    set.set_desired(1, |_| 0);
    let started = next_event(&mut events, EventKind::Started).await?;
    samples.add(
        "order -> spawned",
        (started.at - ordered).as_secs_f64() * 1e3,
    );
    wait_ready(set).await?;
    let seen = monotonic_secs();
    // The replica notes the time right after listen() and writes it a moment later.
    for _ in 0..1000 {
        if file.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let bound: f64 = std::fs::read_to_string(file)
        .map_err(|e| format!("bind time: {e}"))?
        .trim()
        .parse()
        .map_err(|e| format!("bind time: {e}"))?;
    samples.add("port open -> ready seen", (seen - bound) * 1e3);
    let addr = set.status()[0].address.ok_or("no address")?;
    tokio::task::spawn_blocking(move || get(addr))
        .await
        .map_err(|e| e.to_string())??;
    samples.add(
        "port open -> first response",
        (monotonic_secs() - bound) * 1e3,
    );
    set.set_desired(0, |_| 0);
    set.drained(&set.status()[0].name);
    next_event(&mut events, EventKind::Removed).await?;
    Ok(())
}

async fn model_server_round(set: &ReplicaSet, samples: &mut Samples) -> Result<(), String> {
    let mut events = set.events();
    set.set_desired(1, |_| 0);
    wait_ready(set).await?;
    let status = set.status();
    let cold = status[0].start_to_ready().ok_or("no timestamps")?;
    samples.add("model-server start -> ready", cold.as_secs_f64() * 1e3);
    set.set_desired(0, |_| 0);
    let drained = Instant::now();
    set.drained(&status[0].name);
    let removed = next_event(&mut events, EventKind::Removed).await?;
    if !removed.message.ends_with("exited with code 0)") {
        return Err(format!(
            "model server did not exit cleanly: {}",
            removed.message
        ));
    }
    samples.add(
        "model-server drained -> gone",
        (removed.at - drained).as_secs_f64() * 1e3,
    );
    Ok(())
}

async fn run(options: Options, dir: &std::path::Path) -> Result<(), String> {
    let mut config = SupervisorConfig::new(dir.join("state"));
    if let Some(ms) = options.fast_ms {
        config.fast_probe_interval = Duration::from_millis(ms);
    }
    println!(
        "fast probe interval {:?}, {} rounds",
        config.fast_probe_interval, options.rounds
    );
    let sup = Supervisor::start(config).map_err(|e| e.to_string())?;
    let file = dir.join("bound_at");
    let mut spec = ReplicaSpec::new(
        "python3",
        ["-c", LATE_LISTENER, file.to_str().ok_or("path")?],
    );
    spec.termination_grace_period = Duration::from_secs(5);
    let late = sup.add_service("late", spec).map_err(|e| e.to_string())?;
    let model = match &options.ebb {
        Some(ebb) => {
            let mut spec = ReplicaSpec::new(
                ebb.to_str().ok_or("path")?,
                ["model-server", "--port", "{port}", "--cost-per-text", "0s"],
            );
            spec.readiness_probe = Some(Probe::new(ProbeAction::HttpGet(HttpGet::path(
                "/v1/models/custom-model",
            ))));
            Some(sup.add_service("model", spec).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let mut samples = Samples::default();
    for _ in 0..options.rounds {
        late_listener_round(&late, &file, &mut samples).await?;
        if let Some(model) = &model {
            model_server_round(model, &mut samples).await?;
        }
    }
    samples.print();
    sup.shutdown().await;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let dir = std::env::temp_dir().join(format!("ebb-bench-replicas-{}", std::process::id()));
    let result = runtime.block_on(run(options, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
