//! `ebb decide`: one decision of the engine, with its reasons.

use std::path::PathBuf;
use std::process::ExitCode;

/// Explain what the autoscaler would decide for a scenario.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Scenario file (YAML or JSON), `-` for standard input.
    #[arg(short = 'f', long = "filename")]
    file: PathBuf,
    /// Print the explanation for a person instead of JSON.
    #[arg(long)]
    explain: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _ = (args.file, args.explain);
    anyhow::bail!(super::UserError("decide: not wired yet".into()))
}
