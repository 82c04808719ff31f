//! `ebb autoscale`: print the HorizontalPodAutoscaler `kubectl autoscale ... --dry-run=client
//! -o yaml` prints, for the seed tutorial's first step without a cluster.

use std::process::ExitCode;

use ebb_manifest::autoscale::{Request, hpa};

use super::UserError;

/// Print an HPA manifest, as `kubectl autoscale` would create it.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  ebb autoscale deployment app-fastapi --cpu-percent=50 --min=1 --max=10
  ebb autoscale deployment/app-fastapi --cpu=70% --memory=80% --min=2 --max=20 > hpa.yaml
  ebb autoscale deploy app-fastapi --max=5 -o json")]
pub(crate) struct Args {
    /// `deployment`, `replicaset`, `statefulset` or `replicationcontroller` (or TYPE/NAME).
    resource: String,
    /// The workload's name.
    name: Option<String>,
    /// Lower limit of replicas (written only when above 0; the default is 1).
    #[arg(long, allow_negative_numbers = true)]
    min: Option<i32>,
    /// Upper limit of replicas.
    #[arg(long, allow_negative_numbers = true)]
    max: i32,
    /// Target average CPU utilization, in percent of the CPU request.
    #[arg(long = "cpu-percent", allow_negative_numbers = true)]
    cpu_percent: Option<i32>,
    /// Target CPU: `70%` (utilization) or a quantity like `500m` (average value; bare numbers
    /// are millicores).
    #[arg(long)]
    cpu: Option<String>,
    /// Target memory: `60%` (utilization) or a quantity like `200Mi` (bare numbers are MiB).
    #[arg(long)]
    memory: Option<String>,
    /// Name of the HPA (default: the workload's name).
    #[arg(long = "name")]
    hpa_name: Option<String>,
    /// Namespace to write into metadata.
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Accepted for kubectl compatibility; ebb only prints.
    #[arg(long = "dry-run", num_args = 0..=1, default_missing_value = "client", hide = true)]
    dry_run: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Yaml)]
    output: Output,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(mode) = &args.dry_run
        && !matches!(mode.as_str(), "client" | "none" | "server")
    {
        return Err(UserError(format!(
            "invalid --dry-run value {mode:?}: use client (ebb autoscale only prints)"
        ))
        .into());
    }
    let request = Request {
        resource: args.resource,
        name: args.name.unwrap_or_default(),
        min: args.min,
        max: args.max,
        cpu_percent: args.cpu_percent,
        cpu: args.cpu,
        memory: args.memory,
        hpa_name: args.hpa_name,
        namespace: args.namespace,
    };
    let object = hpa(&request).map_err(|e| UserError(e.0))?;
    match args.output {
        Output::Yaml => print!("{}", ebb_manifest::yaml::to_yaml(&object)),
        Output::Json => println!("{}", serde_json::to_string_pretty(&object)?),
    }
    Ok(ExitCode::SUCCESS)
}
