//! `ebb`: one binary, subcommands named after what users already type.
//!
//! Each subcommand lives in `cmd/<name>.rs` with its arguments and its `run`; this file only
//! parses the command line, sets up logging and maps errors to exit codes (0 ok, 1 user error,
//! 2 internal error).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod table;

/// The autoscaler for ML inference services.
///
/// HPA and Knative (KServe) semantics, the same manifests, on a laptop and on Kubernetes.
#[derive(Parser)]
#[command(name = "ebb", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Decide(cmd::decide::Args),
    Logs(cmd::logs::Args),
    ModelServer(cmd::model_server::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decide(args) => cmd::decide::run(args),
        Command::Logs(args) => cmd::logs::run(args),
        Command::ModelServer(args) => cmd::model_server::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) if cmd::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(cmd::exit_code(&error))
        }
    }
}
