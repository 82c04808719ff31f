//! `ebb serve`: run services locally — gateway, replicas, autoscalers — in the foreground.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ebb_core::hpa::HpaSettings;
use ebb_manifest::{Mode, Severity};
use ebb_supervisor::StateDir;

use super::UserError;
use super::validate::{read_sources, render};
use crate::serve::{self, PlanError, ServeConfig};

/// Run services locally: a gateway on their ports, replicas as processes, autoscaled.
///
/// Each Kubernetes Service in the files is served on its own port; InferenceServices and
/// Knative Services share --port and are told apart by Host header or model path. HPAs scale
/// on the replicas' CPU and memory; Knative-style autoscalers on concurrency or requests per
/// second, down to zero, holding the first request until a replica is ready.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  ebb serve -f examples/quickstart.yaml
  ebb serve -f examples/seed/app-fastapi-resources.yaml -f examples/seed/app-fastapi-hpa.yaml
  RUST_LOG=debug ebb serve -f app.yaml --hpa-sync-period 5s
Then, in another terminal:
  ebb get hpa -w
  ebb describe custom-model-scale-to-zero")]
pub(crate) struct Args {
    /// Manifest files or directories.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<PathBuf>,
    /// Port shared by InferenceServices and Knative Services.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Where the admin API listens (`ebb get`, `ebb describe` and /metrics use it).
    #[arg(long, default_value = "127.0.0.1:9090", env = "EBB_ADMIN")]
    admin: SocketAddr,
    /// Bearer token the admin API requires; needed to bind it anywhere but loopback.
    #[arg(long, env = "EBB_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Where replica logs and records live (default: $EBB_STATE_DIR, $XDG_STATE_HOME/ebb or ~/.local/state/ebb).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// HPA: how often each HPA is evaluated (upstream: 15s).
    #[arg(long, default_value = "15s", value_parser = duration)]
    hpa_sync_period: Duration,
    /// HPA: scale-down stabilization when `behavior` sets none (upstream: 5m).
    #[arg(long, default_value = "5m", value_parser = duration)]
    hpa_downscale_stabilization: Duration,
    /// HPA: how long after start a pod's CPU is distrusted unless it is ready (upstream: 5m).
    #[arg(long, default_value = "5m", value_parser = duration)]
    hpa_cpu_initialization_period: Duration,
    /// How often replicas' CPU and memory are sampled, like metrics-server (upstream: 15s).
    #[arg(long, default_value = "15s", value_parser = duration)]
    metrics_resolution: Duration,
    /// KPA, ebb extension: when the requests in flight alone would put a service in panic,
    /// decide at once instead of at the next 2 s tick (Knative waits for the tick).
    #[arg(long)]
    kpa_immediate_panic: bool,
    /// Threads serving requests (default: one per core).
    #[arg(long)]
    gateway_threads: Option<usize>,
    /// Longest a client may send nothing of a request body before it gets 408 and its replica
    /// slot is freed (nginx's client_body_timeout). Knative has no such limit: a value
    /// longer than the request timeout (300s) leaves a stalled upload to that timeout and its 504.
    #[arg(long, default_value = "60s", value_parser = super::positive_duration)]
    gateway_body_read_timeout: Duration,
    /// Time a client has to send a request's headers, and longest an idle keep-alive
    /// connection is kept; then the connection is closed. For HTTP/2 clients also the
    /// keep-alive ping's interval and how long its answer may take.
    #[arg(long, default_value = "30s", value_parser = super::positive_duration)]
    gateway_header_read_timeout: Duration,
    /// Largest request head (request line and headers) accepted; a larger one gets 431.
    #[arg(long, default_value = "64Ki", value_parser = super::header_bytes)]
    gateway_max_header_bytes: usize,
    /// Most client connections open at once; more wait in the listen backlog.
    #[arg(long, default_value = "10000", value_parser = super::connection_count)]
    gateway_max_connections: usize,
    /// Whose answers the gateway gives where ebb deliberately differs from Knative.
    #[arg(long, value_enum, default_value = "ebb")]
    gateway_answers: super::Answers,
    /// How the gateway chooses a replica among those with a free slot.
    #[arg(long, value_enum, default_value = "least-of-two")]
    gateway_balancing: super::Balancing,
}

fn duration(s: &str) -> Result<Duration, String> {
    ebb_core::units::parse_duration(s).map_err(|e| e.to_string())
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::init_logging();
    let sources = read_sources(&args.files)?;
    let checked = ebb_manifest::check(&sources, Mode::Local);
    for d in &checked.diagnostics {
        eprintln!("{}\n", render(d, &sources));
    }
    if checked.of(Severity::Error).next().is_some() {
        return Err(UserError("not starting: fix the errors above (`ebb validate -f ...` checks files without running them)".into()).into());
    }
    let self_exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("ebb"));
    let plan = serve::plan(&checked, args.port, &self_exe).map_err(|PlanError(errors)| {
        UserError(format!("not starting:\n  {}", errors.join("\n  ")))
    })?;
    let hpa = HpaSettings {
        sync_period: args.hpa_sync_period,
        downscale_stabilization: args.hpa_downscale_stabilization,
        cpu_initialization_period: args.hpa_cpu_initialization_period,
        ..HpaSettings::default()
    };
    let config = ServeConfig {
        files: args.files,
        shared_port: args.port,
        self_exe,
        admin: args.admin,
        admin_token: args.admin_token,
        state_dir: args.state_dir.unwrap_or_else(StateDir::default_root),
        metrics_resolution: args.metrics_resolution,
        hpa,
        kpa_immediate_panic: args.kpa_immediate_panic,
        gateway_threads: super::threads_or_one_per_core(args.gateway_threads),
        client_limits: ebb_gateway::Limits {
            header_read_timeout: args.gateway_header_read_timeout,
            body_read_timeout: args.gateway_body_read_timeout,
            max_header_bytes: args.gateway_max_header_bytes,
            max_connections: args.gateway_max_connections,
            ..ebb_gateway::Limits::default()
        },
        answers: args.gateway_answers.into(),
        balancing: args.gateway_balancing.into(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve::run(config, plan))?;
    Ok(ExitCode::SUCCESS)
}
