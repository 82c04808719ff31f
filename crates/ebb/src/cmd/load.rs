//! `ebb load`: generate load against a URL and report it the way autoscaling tests need.
//!
//! The flags are turned into an [`ebb_load::Config`] here (everything a user typed is checked
//! before a request goes out); the generator itself lives in the `ebb-load` crate.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use ebb_core::units::parse_duration;
use ebb_load::config::parse_header;
use ebb_load::run::RunError;
use ebb_load::schedule::parse_rate_plan;
use ebb_load::{
    BodySource, Config, Mode, ProgressMode, RequestTemplate, RunOptions, Schedule, SentimentShape,
    Target, Trace, WaitTime,
};
use tokio_util::sync::CancellationToken;

use super::UserError;

/// Generate load: closed-loop users, fixed concurrency, an open-loop rate, or a trace replay.
///
/// Open-loop latency is measured from each request's intended send time, so a slow server
/// cannot hide behind a slowed-down generator. Every run ends: give --run-time or -n, or a
/// rate plan or trace that ends by itself. Ctrl-C stops early and still prints the summary.
#[derive(clap::Args)]
#[command(
    group(clap::ArgGroup::new("load").required(true).args(["users", "concurrency", "rate", "trace"])),
    after_help = "Examples:
  # the seed tutorial's locust run: 50 users, 10 new per second, 1-5 s think time
  ebb load http://127.0.0.1:8080/predict --users 50 --spawn-rate 10 --wait 1s..5s --run-time 10m --body-template sentiment

  # like hey: 20 workers back to back, 2000 requests
  ebb load http://127.0.0.1:8080/health_check -c 20 -n 2000

  # open loop, stepped: 10/s for a minute, 100/s for a minute, back to 10/s; per-second CSV
  ebb load http://127.0.0.1:8080/predict --rate 10/s:60s,100/s:60s,10/s:60s --body-template sentiment --timeline load.csv

  # KServe behind a gateway that routes on Host
  ebb load http://127.0.0.1:8080/v1/models/custom-model:predict --rate 20/s --run-time 5m \\
      -H 'Host: custom-model.default.example.com' --body-template sentiment

  # replay a recorded trace twice as fast, first 1000 requests, summary as JSON
  ebb load http://127.0.0.1:8080/predict --trace conversation_trace.csv --speed 2 --limit 1000 --json -"
)]
pub(crate) struct Args {
    /// URL to send requests to (http:// only).
    url: String,

    /// Closed-loop users, like locust: each sends, waits for the answer, thinks, repeats.
    #[arg(short = 'u', long, help_heading = "Load shape")]
    users: Option<u32>,
    /// Users started per second (locust's default: 1).
    #[arg(short = 'r', long, requires = "users", help_heading = "Load shape")]
    spawn_rate: Option<f64>,
    /// Think time after each response: a range MIN..MAX (uniform) or a constant.
    #[arg(
        long,
        requires = "users",
        value_name = "MIN..MAX",
        help_heading = "Load shape"
    )]
    wait: Option<String>,
    /// Workers sending back to back with no think time, like hey.
    #[arg(short = 'c', long, help_heading = "Load shape")]
    concurrency: Option<u32>,
    /// Open-loop rate, like wrk2 or vegeta: 100/s, or steps 10/s:60s,100/s:60s.
    #[arg(long, value_name = "RATE[:DURATION],...", help_heading = "Load shape")]
    rate: Option<String>,
    /// Replay a trace: Azure LLM CSV, Mooncake CSV, or one timestamp per line.
    #[arg(long, value_name = "FILE", help_heading = "Load shape")]
    trace: Option<PathBuf>,
    /// Trace replay speed: 2 sends twice as fast.
    #[arg(
        long,
        requires = "trace",
        default_value_t = 1.0,
        help_heading = "Load shape"
    )]
    speed: f64,
    /// Replay only the first N requests of the trace.
    #[arg(
        long,
        requires = "trace",
        value_name = "N",
        help_heading = "Load shape"
    )]
    limit: Option<usize>,
    /// Open loop (--rate, --trace): connections that may be in use at once.
    #[arg(long, default_value_t = 100, help_heading = "Load shape")]
    connections: u32,

    /// Stop sending after this long (30s, 5m, 1h).
    #[arg(
        short = 't',
        long,
        alias = "duration",
        value_name = "DURATION",
        help_heading = "Limits"
    )]
    run_time: Option<String>,
    /// Stop after this many requests.
    #[arg(
        short = 'n',
        long = "requests",
        value_name = "N",
        help_heading = "Limits"
    )]
    requests: Option<u64>,
    /// Per-request limit: connect, send, and read the whole response.
    #[arg(
        long,
        default_value = "30s",
        value_name = "DURATION",
        help_heading = "Limits"
    )]
    timeout: String,

    /// HTTP method (default: GET, or POST when there is a body).
    #[arg(short = 'X', long, help_heading = "Request")]
    method: Option<String>,
    /// A header, 'Name: value'; repeat for more. A Host header routes like an ingress.
    #[arg(
        short = 'H',
        long = "header",
        value_name = "HEADER",
        help_heading = "Request"
    )]
    headers: Vec<String>,
    /// Request body from a file.
    #[arg(short = 'D', long, value_name = "FILE", help_heading = "Request")]
    body: Option<PathBuf>,
    /// Generated body: `sentiment` (1-99 movie reviews, as {"text": [...]} for /predict or
    /// {"instances": [...]} for KServe V1 :predict paths), or force a shape with
    /// `sentiment-predict` / `sentiment-kserve`.
    #[arg(long, value_enum, conflicts_with = "body", help_heading = "Request")]
    body_template: Option<Template>,
    /// Seed for generated bodies and think times.
    #[arg(long, default_value_t = 0, help_heading = "Request")]
    seed: u64,

    /// Write the summary as JSON to FILE (`-`: print JSON instead of the text summary).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    json: Option<PathBuf>,
    /// Write one CSV row per second (rps, latency, errors) to FILE.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    timeline: Option<PathBuf>,
    /// No progress output, only the summary.
    #[arg(short = 'q', long, help_heading = "Output")]
    quiet: bool,
    /// Runtime threads (default: one per core; 1 keeps the generator on one thread).
    #[arg(long, help_heading = "Runtime")]
    threads: Option<usize>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Template {
    /// Shape chosen from the URL path.
    Sentiment,
    /// {"text": [...]}.
    SentimentPredict,
    /// {"instances": [...]}.
    SentimentKserve,
}

/// Where `--json` goes; files are created before the run so a bad path fails at once.
enum JsonOut {
    None,
    Stdout,
    File(PathBuf, BufWriter<File>),
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = config(&args)?;
    let json_out = match &args.json {
        None => JsonOut::None,
        Some(path) if path == Path::new("-") => JsonOut::Stdout,
        Some(path) => {
            let file = File::create(path)
                .map_err(|e| UserError(format!("cannot create {}: {e}", path.display())))?;
            JsonOut::File(path.clone(), BufWriter::new(file))
        }
    };
    let timeline = match &args.timeline {
        Some(path) => {
            let file = File::create(path)
                .map_err(|e| UserError(format!("cannot create {}: {e}", path.display())))?;
            Some(Box::new(BufWriter::new(file)) as Box<dyn std::io::Write + Send>)
        }
        None => None,
    };
    let options = RunOptions {
        progress: if args.quiet {
            ProgressMode::Quiet
        } else {
            ProgressMode::Auto
        },
        timeline,
    };
    let threads = super::threads_or_one_per_core(args.threads);
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
    .context("starting the async runtime")?;

    let summary = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let on_ctrl_c = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping: Ctrl-C again to quit at once");
                on_ctrl_c.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        ebb_load::run(config, options, cancel).await
    });
    let summary = summary.map_err(|e| match e {
        RunError::Config(_) | RunError::Resolve { .. } => UserError(e.to_string()).into(),
        other => anyhow::Error::new(other),
    })?;

    let json = serde_json::to_string_pretty(&summary)?;
    match json_out {
        JsonOut::Stdout => println!("{json}"),
        JsonOut::File(path, mut file) => {
            // The summary is printed first: a failed write must not lose the run.
            print!("{}", summary.render());
            writeln!(file, "{json}")
                .and_then(|()| file.flush())
                .map_err(|e| UserError(format!("cannot write {}: {e}", path.display())))?;
        }
        JsonOut::None => print!("{}", summary.render()),
    }
    Ok(ExitCode::SUCCESS)
}

fn user(error: impl std::fmt::Display) -> UserError {
    UserError(error.to_string())
}

fn duration(flag: &str, text: &str) -> Result<Duration, UserError> {
    parse_duration(text).map_err(|e| UserError(format!("{flag}: {e}")))
}

/// Flags → a validated run.
fn config(args: &Args) -> anyhow::Result<Config> {
    let target = Target::parse(&args.url).map_err(user)?;
    let mode = if let Some(users) = args.users {
        Mode::Users {
            users,
            spawn_rate: args.spawn_rate.unwrap_or(1.0),
            wait: match &args.wait {
                Some(text) => WaitTime::parse(text).map_err(user)?,
                None => WaitTime::NONE,
            },
        }
    } else if let Some(workers) = args.concurrency {
        Mode::Concurrency { workers }
    } else if let Some(rate) = &args.rate {
        let plan = parse_rate_plan(rate).map_err(user)?;
        Mode::OpenLoop {
            schedule: Schedule::Rate(plan),
            connections: args.connections,
        }
    } else if let Some(path) = &args.trace {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UserError(format!("cannot read {}: {e}", path.display())))?;
        let mut trace =
            Trace::parse(&text).map_err(|e| UserError(format!("{}: {e}", path.display())))?;
        if let Some(limit) = args.limit {
            trace = trace.limit(limit);
        }
        let trace = trace.speed(args.speed).map_err(user)?;
        Mode::OpenLoop {
            schedule: Schedule::Offsets(trace.offsets),
            connections: args.connections,
        }
    } else {
        return Err(UserError(
            "choose how to load: --users, --concurrency, --rate or --trace".into(),
        )
        .into());
    };

    let body = match (&args.body, args.body_template) {
        (Some(path), _) => BodySource::Fixed(Bytes::from(
            std::fs::read(path)
                .map_err(|e| UserError(format!("cannot read {}: {e}", path.display())))?,
        )),
        (None, Some(Template::Sentiment)) => {
            BodySource::Sentiment(SentimentShape::for_path(target.path.path()))
        }
        (None, Some(Template::SentimentPredict)) => BodySource::Sentiment(SentimentShape::Predict),
        (None, Some(Template::SentimentKserve)) => BodySource::Sentiment(SentimentShape::KServeV1),
        (None, None) => BodySource::Empty,
    };
    let method = match &args.method {
        Some(m) => Some(
            http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| UserError(format!("invalid method {m:?}: use GET, POST, PUT, ...")))?,
        ),
        None => None,
    };
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h).map_err(user))
        .collect::<Result<Vec<_>, _>>()?;
    let config = Config {
        request: RequestTemplate::new(&target, method, headers, body),
        target,
        mode,
        run_time: args
            .run_time
            .as_deref()
            .map(|t| duration("--run-time", t))
            .transpose()?,
        max_requests: args.requests,
        timeout: duration("--timeout", &args.timeout)?,
        seed: args.seed,
    };
    config.validate().map_err(user)?;
    Ok(config)
}
