//! `ebb gateway --kube`: the gateway inside a cluster, for class-kpa Autoscalers (crate
//! `ebb-kube`, cargo feature `k8s`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ebb_kube::gateway::Options;
use tokio_util::sync::CancellationToken;

use super::UserError;

/// Run the request holder and meter of class-kpa services in a Kubernetes cluster.
///
/// Routes requests to the replicas of every class-kpa Autoscaler (found through the
/// EndpointSlices of the Service named like its scale target), holds them while a service is at
/// zero, and serves its concurrency and request counts to `ebb controller`, which scales.
/// Locally, `ebb serve` runs the same gateway.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kubectl apply -k deploy/      # runs it as the ebb-gateway Deployment
  ebb gateway --kube --kubeconfig ~/.kube/config --port 8080 --stats 127.0.0.1:9091
  curl -H 'Host: sentiment.default.example.com' http://GATEWAY:8080/v1/models/sentiment:predict -d @input.json
  curl http://GATEWAY:9091/ebb/v1/stats/default/sentiment")]
pub(crate) struct Args {
    /// Run inside (or against) a Kubernetes cluster; the only mode of this command.
    #[arg(long, required = true)]
    kube: bool,
    /// kubeconfig to use (default: in-cluster, then $KUBECONFIG or ~/.kube/config).
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context (default: the current one).
    #[arg(long)]
    context: Option<String>,
    /// Serve the class-kpa Autoscalers of this namespace only (default: all namespaces).
    #[arg(long, short = 'n')]
    namespace: Option<String>,
    /// Where requests are served.
    #[arg(long, default_value = "0.0.0.0:8080")]
    port: SocketAddr,
    /// Where the controller reads the statistics (also /metrics and /healthz).
    #[arg(long, default_value = "0.0.0.0:9091")]
    stats: SocketAddr,
    /// Domain of `{name}.{namespace}.{domain}` hosts.
    #[arg(long, default_value = "example.com")]
    domain: String,
    /// Threads serving requests, each with its own listener (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Whose answers the gateway gives where ebb deliberately differs from Knative.
    #[arg(long, value_enum, default_value = "ebb")]
    answers: super::Answers,
    /// How the gateway chooses a replica among those with a free slot.
    #[arg(long, value_enum, default_value = "least-of-two")]
    balancing: super::Balancing,
    /// Time a client has to send a request's headers, and longest an idle keep-alive
    /// connection is kept; then the connection is closed. For HTTP/2 clients also the
    /// keep-alive ping's interval and how long its answer may take.
    #[arg(long, default_value = "30s", value_parser = super::positive_duration)]
    header_read_timeout: Duration,
    /// Longest a client may send nothing of a request body before it gets 408 and its replica
    /// slot is freed (nginx's client_body_timeout). Knative has no such limit: a value
    /// longer than the request timeout (300s) leaves a stalled upload to that timeout and its 504.
    #[arg(long, default_value = "60s", value_parser = super::positive_duration)]
    body_read_timeout: Duration,
    /// Largest request head (request line and headers) accepted; a larger one gets 431.
    #[arg(long, default_value = "64Ki", value_parser = super::header_bytes)]
    max_header_bytes: usize,
    /// Most client connections open at once; more wait in the listen backlog.
    #[arg(long, default_value = "10000", value_parser = super::connection_count)]
    max_connections: usize,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::init_logging();
    let _ = args.kube;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let config =
            super::controller::kube_config(args.kubeconfig.as_deref(), args.context.as_deref())
                .await?;
        let client = ebb_kube::client(config)?;
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            super::controller::wait_for_signal().await;
            tracing::info!("Stopping.");
            stop.cancel();
        });
        let options = Options {
            namespace: args.namespace.clone(),
            domain: args.domain.clone(),
            threads: super::threads_or_one_per_core(args.threads),
            answers: args.answers.into(),
            balancing: args.balancing.into(),
            limits: ebb_gateway::Limits {
                header_read_timeout: args.header_read_timeout,
                body_read_timeout: args.body_read_timeout,
                max_header_bytes: args.max_header_bytes,
                max_connections: args.max_connections,
                ..ebb_gateway::Limits::default()
            },
        };
        loop {
            let stats = tokio::net::TcpListener::bind(args.stats)
                .await
                .map_err(|e| UserError(format!("cannot listen on {}: {e}", args.stats)))?;
            let restart = ebb_kube::gateway::run(
                client.clone(),
                options.clone(),
                args.port,
                stats,
                shutdown.child_token(),
            )
            .await
            .map_err(|e| match e {
                listen @ ebb_kube::Error::Listen { .. } => UserError(listen.to_string()).into(),
                other => anyhow::Error::from(other),
            })?;
            if !restart || shutdown.is_cancelled() {
                return Ok(ExitCode::SUCCESS);
            }
        }
    })
}
