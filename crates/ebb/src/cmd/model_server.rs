//! `ebb model-server`: the example sentiment model behind the seed app's API and KServe V1/V2.
//!
//! The model and the server live in the `ebb-model-server` crate; this module turns flags into
//! its configuration, logs through `RUST_LOG`, and stops gracefully on SIGTERM or Ctrl-C (as a
//! replica must when ebb scales it down). Documentation: `docs/model-server.md`.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use ebb_model_server::{ServerConfig, ServerError};

use super::UserError;

/// Run the example sentiment model (the seed app's API, KServe V1 and V2).
///
/// A naive Bayes classifier trained at start-up on movie reviews shipped with ebb. It answers
/// `POST /predict` {"text": [...]}, `GET /health_check`, `POST /v1/models/NAME:predict`
/// {"instances": [...]}, `GET /v1/models/NAME`, `POST /v2/models/NAME/infer` and
/// `GET /v2/models/NAME/ready`. `--load-seconds` and `--cost-per-text` make it behave like a
/// heavier model.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  ebb model-server
  PORT=9000 ebb model-server --name custom-model --load-seconds 10 --cost-per-text 2ms
  curl -s localhost:8080/predict -d '{\"text\": [\"a wonderful film\", \"a dull mess\"]}'
  curl -s localhost:8080/v1/models/custom-model:predict -d '{\"instances\": [\"good\", \"bad\"]}'")]
pub(crate) struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The model's name in KServe paths.
    #[arg(long, default_value = "custom-model")]
    name: String,
    /// Seconds before the model is ready, as if loading weights (fractions allowed).
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    load_seconds: f64,
    /// Open the port at once instead of after loading; requests wait until the model is
    /// loaded (like the seed's uvicorn app, which fools a TCP readiness check).
    #[arg(long)]
    listen_before_load: bool,
    /// CPU time burnt per text on top of the model's own work, like a bigger model (`1ms`,
    /// `2.5ms`, `0s`). The seed's bert-tiny costs about 1 ms per text.
    #[arg(long, default_value = "1ms", value_name = "DURATION", value_parser = parse_cost)]
    cost_per_text: Duration,
    /// Wall-clock time added to every request without using CPU, like a model waiting on a
    /// GPU (`50ms`, `1s`); requests wait it out concurrently.
    #[arg(long, default_value = "0s", value_name = "DURATION", value_parser = parse_cost)]
    delay: Duration,
    /// Requests computed at once; more wait their turn [default: the number of CPUs].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
}

fn parse_cost(text: &str) -> Result<Duration, String> {
    ebb_core::units::parse_duration(text).map_err(|e| format!("{e} (examples: 1ms, 2.5ms, 0s)"))
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::init_logging();
    let config = config(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let running = ebb_model_server::start(config, stop_signal())
            .await
            .map_err(|e| match e {
                ServerError::Bind { .. } => anyhow::Error::new(UserError(format!(
                    "{e}; choose another --port (or PORT), or 0 for any free port"
                ))),
                other => anyhow::Error::new(other),
            })?;
        running.wait().await?;
        tracing::info!("Stopped.");
        Ok(ExitCode::SUCCESS)
    })
}

fn config(args: &Args) -> anyhow::Result<ServerConfig> {
    if !(args.load_seconds.is_finite() && args.load_seconds >= 0.0) {
        return Err(UserError(format!(
            "--load-seconds {} must be a number of seconds, 0 or more (like 10 or 2.5)",
            args.load_seconds
        ))
        .into());
    }
    let name_ok = !args.name.is_empty()
        && args
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !name_ok {
        return Err(UserError(format!(
            "--name {:?} must be letters, digits, '-', '_' or '.', like custom-model",
            args.name
        ))
        .into());
    }
    if args.workers == Some(0) {
        return Err(UserError("--workers must be at least 1".into()).into());
    }
    let workers = super::threads_or_one_per_core(args.workers);
    Ok(ServerConfig {
        addr: SocketAddr::new(args.host, args.port),
        name: args.name.clone(),
        load_time: Duration::from_secs_f64(args.load_seconds),
        listen_before_load: args.listen_before_load,
        cost_per_text: args.cost_per_text,
        delay: args.delay,
        workers,
    })
}

/// SIGTERM (ebb stopping a replica, `kill`) or SIGINT (Ctrl-C).
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            tracing::warn!("Cannot listen for signals; stop the server with SIGKILL.");
            std::future::pending::<()>().await;
        }
    }
    tracing::info!("Stopping: finishing requests in flight.");
}
