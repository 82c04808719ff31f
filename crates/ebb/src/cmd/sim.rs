//! `ebb sim`: replay traffic through autoscaling policies and compare them side by side.
//!
//! The arguments become a workload, a simulator configuration and a list of policies (one per
//! autoscaler in the files, times the sweep's values); each policy runs on the same requests and
//! the comparison is printed, and written with charts when `--out` is given. Docs: docs/sim.md.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ebb_core::Quantity;
use ebb_core::kpa::KpaConfig;
use ebb_core::units::duration::parse_duration;
use ebb_sim::arrivals::ArrivalSpec;
use ebb_sim::cluster::CpuModel;
use ebb_sim::dist::{Dist, format_secs};
use ebb_sim::manifest::{Defaults, ManifestError, Sweep, vary};
use ebb_sim::report::{self, Comparison, Sweeps};
use ebb_sim::{MetricsPipeline, PolicyDef, PolicyKind, ServiceModel, SimConfig, Workload};
use indicatif::{ProgressBar, ProgressStyle};

use super::UserError;
use super::validate::{read_sources, render};

/// Replay traffic through autoscaling policies and compare them.
///
/// Every policy sees the same requests (from a trace or a seeded generator), runs on virtual
/// time through the same engine ebb uses in production, and is measured: cost in
/// replica-hours, latency, SLO attainment, requests held during cold starts, timeouts.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  ebb sim -f examples/sim/seed-hpa.yaml -f examples/sim/kpa-defaults.yaml \\
      --trace traces/azure-llm-2023/AzureLLMInferenceTrace_code.csv \\
      --service tokens:a=20,b=0.05,c=15 --concurrency 4 --slo 2s --out sim-out
  ebb sim -f examples/sim/seed-hpa.yaml --arrivals step:from=5,to=40,at=10m --duration 30m \\
      --service lognormal:mean=100ms,p99=400ms --slo 500ms
  ebb sim -f examples/sim/kpa-target-10.yaml --arrivals sine:mean=20,amplitude=15,period=1h \\
      --duration 2h --sweep target=5,10,20,40 --slo 1s --out sweep
  ebb sim --fixed 2 --fixed 4 --arrivals poisson:rate=30 --duration 1h --service exp:mean=100ms")]
pub(crate) struct Args {
    /// Policy manifests (files or directories, `-` for stdin), as `ebb validate` reads them:
    /// HorizontalPodAutoscaler (v1, v2), KServe InferenceService, Knative Service, KEDA
    /// ScaledObject, ebb Autoscaler. Every autoscaler in the files is a policy.
    #[arg(short = 'f', long = "filename", help_heading = "Policies")]
    files: Vec<PathBuf>,
    /// Also run a fixed replica count as a baseline (repeatable).
    #[arg(long, help_heading = "Policies")]
    fixed: Vec<u32>,
    /// Repeat each policy over one parameter: target, min, max (and for the KPA any
    /// autoscaling annotation, like window).
    #[arg(long, value_name = "PARAM=V1,V2,...", help_heading = "Policies")]
    sweep: Option<String>,
    /// Knative `config-autoscaler` (a ConfigMap, or its data as a YAML map).
    #[arg(long, value_name = "FILE", help_heading = "Policies")]
    kpa_config: Option<PathBuf>,

    /// Request trace: Azure LLM or Mooncake CSV, `timestamp[,input_tokens,output_tokens]`,
    /// a `time,rate` CSV, or one timestamp (s) per line.
    #[arg(long, conflicts_with = "arrivals", help_heading = "Traffic")]
    trace: Option<PathBuf>,
    /// Generated arrivals: poisson:rate=20, step:from=5,to=50,at=10m,
    /// spike:base=5,peak=100,at=20m,for=30s, sine:mean=20,amplitude=15,period=24h,
    /// onoff:rate=50,on=30s,off=90s.
    #[arg(long, help_heading = "Traffic")]
    arrivals: Option<String>,
    /// How long to generate arrivals (default 1h), or where to cut a trace.
    #[arg(long, help_heading = "Traffic")]
    duration: Option<String>,
    /// Service time per request: 200ms, exp:mean=200ms, lognormal:mean=200ms,p99=1s,
    /// uniform:min=..,max=.., or tokens:a=20,b=0.05,c=15 (ms, from a trace's tokens).
    #[arg(long, default_value = "exp:mean=100ms", help_heading = "Traffic")]
    service: String,
    /// Random seed: the same seed gives the same output, bit for bit.
    #[arg(long, default_value_t = 1, help_heading = "Traffic")]
    seed: u64,

    /// Requests one replica serves at once (a policy's containerConcurrency wins).
    #[arg(long, default_value_t = 1, help_heading = "Replicas")]
    concurrency: u32,
    /// Time from creating a replica until it is ready.
    #[arg(
        long,
        default_value = "lognormal:mean=20s,p99=60s",
        help_heading = "Replicas"
    )]
    cold_start: String,
    /// Replicas at the start (default: the policy's lower bound).
    #[arg(long, help_heading = "Replicas")]
    initial_replicas: Option<u32>,
    /// CPU request of a replica (HPA utilization is relative to it).
    #[arg(long, default_value = "200m", help_heading = "Replicas")]
    cpu_request: String,
    /// CPU a replica uses with every slot busy.
    #[arg(long, default_value = "500m", help_heading = "Replicas")]
    cpu_busy: String,
    /// CPU a replica uses when idle.
    #[arg(long, default_value = "5m", help_heading = "Replicas")]
    cpu_idle: String,
    /// CPU a replica uses while it starts (default: --cpu-busy).
    #[arg(long, help_heading = "Replicas")]
    cpu_startup: Option<String>,

    /// A request no replica has taken after this long gives up.
    #[arg(long, default_value = "300s", help_heading = "Gateway")]
    timeout: String,
    /// Requests the gateway queues at most; more are rejected (503).
    #[arg(long, default_value_t = 10_000, help_heading = "Gateway")]
    queue_limit: usize,

    /// HPA sync period (kube-controller-manager's --horizontal-pod-autoscaler-sync-period).
    #[arg(long, default_value = "15s", help_heading = "Metrics")]
    hpa_sync_period: String,
    /// metrics-server --metric-resolution.
    #[arg(long, default_value = "15s", help_heading = "Metrics")]
    metrics_resolution: String,
    /// Time from a metrics-server scrape until the HPA can read it.
    #[arg(long, default_value = "2s", help_heading = "Metrics")]
    metrics_lag: String,

    /// Latency objective: the table reports the share of requests served within it.
    #[arg(long, help_heading = "Output")]
    slo: Option<String>,
    /// Write the table, CSV time series, SVG charts and report.html here.
    #[arg(long, help_heading = "Output")]
    out: Option<PathBuf>,
    /// Time-series interval.
    #[arg(long, default_value = "10s", help_heading = "Output")]
    interval: String,
    /// Also write every decision as an `ebb decide` scenario under OUT/decisions/.
    #[arg(long, requires = "out", help_heading = "Output")]
    record_decisions: bool,
}

fn duration(flag: &str, text: &str) -> Result<Duration, UserError> {
    parse_duration(text).map_err(|e| UserError(format!("--{flag}: {e}")))
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn millicores(flag: &str, text: &str) -> Result<f64, UserError> {
    let q: Quantity = text
        .parse()
        .map_err(|e| UserError(format!("--{flag}: {e}")))?;
    Ok(q.milli_value() as f64)
}

fn kpa_config(path: &PathBuf) -> Result<KpaConfig, UserError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| UserError(format!("cannot read {origin}: {e}")))?;
    let value: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|e| UserError(format!("{origin}: {e}")))?;
    let map = value.get("data").unwrap_or(&value);
    let data: BTreeMap<String, String> = map
        .as_object()
        .ok_or_else(|| {
            UserError(format!(
                "{origin}: expected a ConfigMap or a map of config-autoscaler keys"
            ))
        })?
        .iter()
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            (k.clone(), text)
        })
        .collect();
    KpaConfig::from_map(&data).map_err(|errs| {
        let list: Vec<String> = errs.iter().map(|e| format!("  {e}")).collect();
        UserError(format!(
            "{origin}: invalid config-autoscaler:\n{}",
            list.join("\n")
        ))
    })
}

fn policies(args: &Args) -> anyhow::Result<(Vec<PolicyDef>, Sweeps)> {
    let mut defaults = Defaults::default();
    defaults.hpa.sync_period = duration("hpa-sync-period", &args.hpa_sync_period)?;
    if let Some(path) = &args.kpa_config {
        defaults.kpa = kpa_config(path)?;
    }
    let base = if args.files.is_empty() {
        Vec::new()
    } else {
        manifest_policies(&args.files, args.kpa_config.is_none(), &mut defaults)?
    };
    if base.is_empty() && args.fixed.is_empty() {
        return Err(UserError(
            "no policy to simulate: give -f POLICY.yaml (an HPA, InferenceService, Knative Service, ScaledObject or ebb Autoscaler) or --fixed N".into(),
        )
        .into());
    }
    let mut out = Vec::new();
    let mut sweeps = Vec::new();
    match &args.sweep {
        None => out.extend(base),
        Some(text) => {
            let sweep = Sweep::parse(text).map_err(UserError)?;
            for p in &base {
                let mut members = Vec::new();
                for v in &sweep.values {
                    members.push((v.clone(), out.len()));
                    out.push(
                        vary(p, &sweep.param, v, &defaults)
                            .map_err(|e| UserError(e.to_string()))?,
                    );
                }
                sweeps.push((format!("{} ({})", p.name, sweep.param), members));
            }
        }
    }
    for n in &args.fixed {
        out.push(PolicyDef {
            name: format!("fixed-{n}"),
            kind: PolicyKind::Fixed { replicas: *n },
        });
    }
    // Names must tell runs apart in tables and files.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for p in &mut out {
        let n = seen.entry(p.name.clone()).or_default();
        *n += 1;
        if *n > 1 {
            p.name = format!("{}-{n}", p.name);
        }
    }
    Ok((out, sweeps))
}

/// The policies in the files, read as `ebb validate` and `ebb convert` read them: every finding
/// is printed with its file:line:column, and any error stops the run.
fn manifest_policies(
    files: &[PathBuf],
    config_from_files: bool,
    defaults: &mut Defaults,
) -> anyhow::Result<Vec<PolicyDef>> {
    let sources = read_sources(files)?;
    let checked = ebb_sim::manifest::check(&sources);
    defaults.revision = checked.revision_defaults();
    if config_from_files {
        defaults.kpa = checked.kpa_config();
    }
    for d in &checked.diagnostics {
        eprintln!("{}\n", render(d, &sources));
    }
    let result = ebb_sim::manifest::policies(&checked, defaults);
    if let Err(e @ ManifestError::Findings(_)) = &result {
        let already_printed = checked.has_errors();
        let errors = e.findings();
        if !already_printed {
            for d in errors {
                eprintln!("{}\n", render(d, &sources));
            }
        }
        return Err(UserError(format!(
            "nothing simulated: {} error{} above",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ))
        .into());
    }
    Ok(result.map_err(|e| UserError(e.to_string()))?)
}

fn workload(args: &Args) -> Result<(Workload, String), UserError> {
    let service =
        ServiceModel::parse(&args.service).map_err(|e| UserError(format!("--service: {e}")))?;
    let duration_ns = args
        .duration
        .as_deref()
        .map(|d| duration("duration", d).map(nanos))
        .transpose()?;
    match (&args.trace, &args.arrivals) {
        (Some(path), _) => {
            let trace = ebb_trace::read(path).map_err(|e| UserError(e.to_string()))?;
            let w = Workload::from_trace(trace, service, duration_ns, args.seed)
                .map_err(|e| UserError(e.to_string()))?;
            Ok((w, format!("trace {}", path.display())))
        }
        (None, Some(spec)) => {
            let arrivals =
                ArrivalSpec::parse(spec).map_err(|e| UserError(format!("--arrivals: {e}")))?;
            let d = duration_ns.unwrap_or(3_600_000_000_000);
            let w = Workload::generated(arrivals, service, Some(d), args.seed)
                .map_err(|e| UserError(e.to_string()))?;
            Ok((w, format!("arrivals {spec}")))
        }
        (None, None) => Err(UserError(
            "no traffic: give --trace FILE or --arrivals SPEC (like poisson:rate=20)".into(),
        )),
    }
}

fn config(args: &Args) -> Result<SimConfig, UserError> {
    let busy = millicores("cpu-busy", &args.cpu_busy)?;
    let request = millicores("cpu-request", &args.cpu_request)?;
    if request <= 0.0 {
        return Err(UserError(
            "--cpu-request must be greater than 0, like 200m".into(),
        ));
    }
    let interval = duration("interval", &args.interval)?;
    if interval < Duration::from_secs(1) {
        return Err(UserError("--interval must be at least 1s".into()));
    }
    if args.concurrency == 0 {
        return Err(UserError("--concurrency must be at least 1".into()));
    }
    Ok(SimConfig {
        concurrency: args.concurrency,
        cold_start: Dist::parse("cold start", &args.cold_start)
            .map_err(|e| UserError(format!("--cold-start: {e}")))?,
        cpu: CpuModel {
            request_milli: request,
            busy_milli: busy,
            idle_milli: millicores("cpu-idle", &args.cpu_idle)?,
            startup_milli: match &args.cpu_startup {
                Some(s) => millicores("cpu-startup", s)?,
                None => busy,
            },
        },
        metrics: MetricsPipeline {
            resolution_ns: nanos(duration("metrics-resolution", &args.metrics_resolution)?).max(1),
            lag_ns: nanos(duration("metrics-lag", &args.metrics_lag)?),
        },
        slo_ns: args
            .slo
            .as_deref()
            .map(|s| duration("slo", s).map(nanos))
            .transpose()?,
        timeout_ns: nanos(duration("timeout", &args.timeout)?).max(1),
        queue_limit: args.queue_limit,
        interval_ns: nanos(interval),
        initial_replicas: args.initial_replicas,
        record_decisions: args.record_decisions,
    })
}

pub(crate) fn run(args: Box<Args>) -> anyhow::Result<ExitCode> {
    let (workload, source) = workload(&args)?;
    let config = config(&args)?;
    let (policies, sweeps) = policies(&args)?;
    let bar = ProgressBar::new(1000 * policies.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:30} [{bar:30}] {percent}% {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut runs = Vec::new();
    for (i, p) in policies.iter().enumerate() {
        bar.set_message(p.name.clone());
        let base = 1000 * i as u64;
        let r = ebb_sim::run(&workload, p, &config, &mut |f| {
            bar.set_position(base + (f * 1000.0) as u64)
        });
        runs.push(r);
    }
    bar.finish_and_clear();

    let setup = format!(
        "{source}; service {}; {} slot(s) per replica (unless containerConcurrency); cold start {}; seed {}; {} simulated",
        workload.service(),
        config.concurrency,
        config.cold_start,
        workload.seed(),
        format_secs(workload.horizon_ns() as f64 / 1e9),
    );
    let summaries: Vec<_> = runs.iter().map(|r| r.summary.clone()).collect();
    super::output(&report::table(&summaries))?;
    if let Some(dir) = &args.out {
        let decisions: Vec<_> = runs
            .iter_mut()
            .flat_map(|r| std::mem::take(&mut r.decide_records))
            .collect();
        let comparison = Comparison {
            runs: &runs,
            sweeps,
            setup,
        };
        let written = report::write(dir, &comparison, &decisions)?;
        eprintln!(
            "wrote {} files to {} (open report.html)",
            written.len(),
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
