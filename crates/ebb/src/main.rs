//! `ebb`: one binary, subcommands named after what users already type.
//!
//! Each subcommand lives in `cmd/<name>.rs` with its arguments and its `run`; this file only
//! parses the command line, sets up logging and maps errors to exit codes (0 ok, 1 user error,
//! 2 internal error).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod serve;
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
    Serve(Box<cmd::serve::Args>),
    Get(cmd::get::Args),
    Describe(cmd::describe::Args),
    Decide(cmd::decide::Args),
    // Boxed: its many flags would make every other variant as large.
    Load(Box<cmd::load::Args>),
    Validate(cmd::validate::Args),
    Convert(cmd::convert::Args),
    Autoscale(cmd::autoscale::Args),
    Sim(Box<cmd::sim::Args>),
    Logs(cmd::logs::Args),
    ModelServer(cmd::model_server::Args),
    #[cfg(feature = "k8s")]
    Controller(Box<cmd::controller::Args>),
    #[cfg(feature = "k8s")]
    Gateway(cmd::gateway::Args),
    /// Run in a Kubernetes cluster (this ebb was built without the `k8s` feature).
    #[cfg(not(feature = "k8s"))]
    Controller {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        rest: Vec<String>,
    },
    /// Run the gateway in a Kubernetes cluster (this ebb was built without the `k8s` feature).
    #[cfg(not(feature = "k8s"))]
    Gateway {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        rest: Vec<String>,
    },
}

fn main() -> ExitCode {
    // clap's own exit status for a bad flag is 2; ebb keeps 2 for internal errors.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(*args),
        Command::Get(args) => cmd::get::run(args),
        Command::Describe(args) => cmd::describe::run(args),
        Command::Decide(args) => cmd::decide::run(args),
        Command::Load(args) => cmd::load::run(*args),
        Command::Validate(args) => cmd::validate::run(args),
        Command::Convert(args) => cmd::convert::run(args),
        Command::Autoscale(args) => cmd::autoscale::run(args),
        Command::Sim(args) => cmd::sim::run(args),
        Command::Logs(args) => cmd::logs::run(args),
        Command::ModelServer(args) => cmd::model_server::run(args),
        #[cfg(feature = "k8s")]
        Command::Controller(args) => cmd::controller::run(*args),
        #[cfg(feature = "k8s")]
        Command::Gateway(args) => cmd::gateway::run(args),
        #[cfg(not(feature = "k8s"))]
        Command::Controller { .. } | Command::Gateway { .. } => Err(cmd::UserError(
            "this ebb was built without the `k8s` feature: build it with default features (`cargo build -p ebb`)".into(),
        )
        .into()),
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
