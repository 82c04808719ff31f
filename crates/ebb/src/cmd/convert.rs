//! `ebb convert`: print the normalized ebb `Autoscaler` of every autoscaling object in the
//! files (HPA v1/v2, KServe InferenceService, Knative Service, KEDA ScaledObject, Autoscaler).

use std::path::PathBuf;
use std::process::ExitCode;

use ebb_manifest::{Mode, Severity};

use super::UserError;
use super::validate::{read_sources, render};

/// Print the normalized ebb Autoscaler for any supported autoscaling kind.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  ebb convert -f examples/seed/app-fastapi-hpa.yaml
  ebb convert -f examples/seed/kserve-inferenceserver-autoscaling.yaml
  ebb convert -f scaledobject.yaml -o json")]
pub(crate) struct Args {
    /// Manifest files or directories; `-` for stdin.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Yaml)]
    output: Output,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    /// YAML documents separated by `---`.
    Yaml,
    /// One JSON object, or a kubectl-style `List` when there are several.
    Json,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sources = read_sources(&args.files)?;
    // The target may live in the cluster or in other files: references are warnings here.
    let checked = ebb_manifest::check(&sources, Mode::Cluster);
    for d in &checked.diagnostics {
        eprintln!("{}\n", render(d, &sources));
    }
    if checked.has_errors() {
        let errors = checked.of(Severity::Error).count();
        return Err(UserError(format!(
            "nothing converted: {errors} error{} above",
            if errors == 1 { "" } else { "s" }
        ))
        .into());
    }
    let autoscalers: Vec<serde_json::Value> = checked
        .autoscalers()
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    if autoscalers.is_empty() {
        let found: Vec<String> = checked
            .objects
            .iter()
            .map(|p| p.manifest.reference())
            .collect();
        return Err(UserError(format!(
            "no autoscaler to convert (found: {}); ebb converts HorizontalPodAutoscaler, InferenceService, Knative Service, ScaledObject and Autoscaler",
            if found.is_empty() { "nothing".to_string() } else { found.join(", ") }
        ))
        .into());
    }
    match args.output {
        Output::Yaml => {
            let docs: Vec<String> = autoscalers
                .iter()
                .map(ebb_manifest::yaml::to_yaml)
                .collect();
            print!("{}", docs.join("---\n"));
        }
        Output::Json => {
            let value = match <[serde_json::Value; 1]>::try_from(autoscalers) {
                Ok([one]) => one,
                Err(items) => {
                    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items})
                }
            };
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
