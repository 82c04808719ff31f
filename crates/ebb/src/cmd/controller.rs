//! `ebb controller`: the same policies on a Kubernetes cluster (crate `ebb-kube`, cargo
//! feature `k8s`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ebb_core::hpa::HpaSettings;
use ebb_kube::controller::Config;
use ebb_kube::gateway_stats::GatewayStats;
use ebb_kube::knative_config;
use ebb_kube::leader::LeaseConfig;
use tokio_util::sync::CancellationToken;

use super::UserError;

/// Run in a Kubernetes cluster: scale workloads through their scale subresource as the
/// Autoscalers (ebb.dev/v1alpha1) in the cluster say, with HPA or Knative semantics.
///
/// Reads Autoscalers, the targets' /scale, their pods and metrics (metrics.k8s.io, custom and
/// external metrics APIs, Prometheus queries, ebb gateways); writes /scale only when the count
/// changes, the Autoscaler's status (with the explanation of the last decision) and events.
/// With --leader-elect, replicas compete for a Lease and only the holder writes.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  kubectl apply -k deploy/                 # CRD, RBAC, controller and gateway
  ebb controller --kubeconfig ~/.kube/config --namespace default
  ebb controller crd > deploy/crd.yaml     # the CRD, generated from ebb's types
  kubectl get autoscalers -w               # watch it work (short name: eas)
  kubectl describe autoscaler web          # conditions, last decision, events")]
pub(crate) struct Args {
    #[command(subcommand)]
    what: Option<What>,
    /// kubeconfig to use (default: in-cluster, then $KUBECONFIG or ~/.kube/config).
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context (default: the current one).
    #[arg(long)]
    context: Option<String>,
    /// Watch Autoscalers in this namespace only (default: all namespaces).
    #[arg(long, short = 'n')]
    namespace: Option<String>,
    /// Compete for a Lease so that of several replicas only one acts.
    #[arg(long, default_value_t = false)]
    leader_elect: bool,
    /// Namespace of the Lease (default: the pod's namespace, $POD_NAMESPACE).
    #[arg(long, env = "POD_NAMESPACE", default_value = "ebb-system")]
    lease_namespace: String,
    /// Name of the Lease.
    #[arg(long, default_value = "ebb-controller")]
    lease_name: String,
    /// This replica's identity in the Lease and in events (default: $POD_NAME, else the host name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// How long a Lease holds without renewal.
    #[arg(long, default_value = "15s", value_parser = duration)]
    lease_duration: Duration,
    /// HPA: how often each Autoscaler of class hpa is evaluated (upstream: 15s).
    #[arg(long, default_value = "15s", value_parser = duration)]
    hpa_sync_period: Duration,
    /// HPA: tolerance around the target (upstream: 0.1).
    #[arg(long, default_value_t = 0.1)]
    hpa_tolerance: f64,
    /// HPA: scale-down stabilization when `behavior` sets none (upstream: 5m).
    #[arg(long, default_value = "5m", value_parser = duration)]
    hpa_downscale_stabilization: Duration,
    /// HPA: how long after start a pod's CPU is distrusted unless it is ready (upstream: 5m).
    #[arg(long, default_value = "5m", value_parser = duration)]
    hpa_cpu_initialization_period: Duration,
    /// KPA: an ebb gateway's statistics URL (http://HOST:PORT); repeat for each replica.
    #[arg(long = "gateway")]
    gateways: Vec<String>,
    /// KPA: find the gateways through this Service's endpoints: NAMESPACE/NAME[:PORT-NAME].
    #[arg(long, default_value = "ebb-system/ebb-gateway:stats")]
    gateways_from: String,
    /// KPA: follow Knative's cluster defaults in this ConfigMap, NAMESPACE/NAME ("" for
    /// upstream's defaults only).
    #[arg(long, default_value = "knative-serving/config-autoscaler")]
    kpa_config_from: String,
}

#[derive(clap::Subcommand)]
enum What {
    /// Print the Autoscaler CRD (YAML), generated from ebb's types.
    Crd,
}

fn duration(s: &str) -> Result<Duration, String> {
    ebb_core::units::parse_duration(s).map_err(|e| e.to_string())
}

/// `NAMESPACE/NAME`, or "" for none.
fn config_map_ref(s: &str) -> Result<Option<knative_config::Source>, UserError> {
    if s.is_empty() {
        return Ok(None);
    }
    match s.split_once('/') {
        Some((namespace, name))
            if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
        {
            Ok(Some(knative_config::Source {
                namespace: namespace.to_string(),
                name: name.to_string(),
            }))
        }
        _ => Err(UserError(format!(
            "--kpa-config-from {s:?}: expected NAMESPACE/NAME, like knative-serving/config-autoscaler, or \"\""
        ))),
    }
}

/// `NAMESPACE/NAME[:PORT-NAME]`.
fn service_ref(s: &str) -> Result<(String, String, String), UserError> {
    let bad = || {
        UserError(format!(
            "--gateways-from {s:?}: expected NAMESPACE/NAME or NAMESPACE/NAME:PORT-NAME, like ebb-system/ebb-gateway:stats"
        ))
    };
    let (ns, rest) = s.split_once('/').ok_or_else(bad)?;
    let (name, port) = rest.split_once(':').unwrap_or((rest, "stats"));
    if ns.is_empty() || name.is_empty() || port.is_empty() {
        return Err(bad());
    }
    Ok((ns.to_string(), name.to_string(), port.to_string()))
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(What::Crd) = args.what {
        super::output(&ebb_kube::crd_yaml())?;
        return Ok(ExitCode::SUCCESS);
    }
    super::init_logging();
    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "ebb-controller".to_string());
    if !(args.hpa_tolerance >= 0.0 && args.hpa_tolerance.is_finite()) {
        return Err(UserError(format!(
            "--hpa-tolerance {}: must be a number ≥ 0, like 0.1",
            args.hpa_tolerance
        ))
        .into());
    }
    let grace = Duration::from_secs((args.lease_duration.as_secs() / 3).max(1));
    let config = Config {
        namespace: args.namespace.clone(),
        lease: args.leader_elect.then(|| LeaseConfig {
            namespace: args.lease_namespace.clone(),
            name: args.lease_name.clone(),
            identity: identity.clone(),
            duration: args.lease_duration,
            grace,
        }),
        identity,
        hpa_settings: HpaSettings {
            sync_period: args.hpa_sync_period,
            tolerance: args.hpa_tolerance,
            downscale_stabilization: args.hpa_downscale_stabilization,
            cpu_initialization_period: args.hpa_cpu_initialization_period,
            ..HpaSettings::default()
        },
        gateways: GatewayStats {
            gateways: args.gateways.clone(),
            discover: if args.gateways_from.is_empty() {
                None
            } else {
                Some(service_ref(&args.gateways_from)?)
            },
        },
        kpa_config_from: config_map_ref(&args.kpa_config_from)?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let kube_config = kube_config(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        let client = ebb_kube::client(kube_config)?;
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("Stopping.");
            stop.cancel();
        });
        ebb_kube::controller::run(client, config, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The cluster to talk to: `kubeconfig` (with `context`), else in-cluster or the default
/// kubeconfig.
pub(crate) async fn kube_config(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> anyhow::Result<kube::Config> {
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                UserError(format!("cannot read kubeconfig {}: {e}", path.display()))
            })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await
        }
        None if context.is_some() => kube::Config::from_kubeconfig(&options).await,
        None => {
            return kube::Config::infer().await.map_err(|e| {
                UserError(format!(
                    "no cluster to talk to ({e}): run inside a cluster, or pass --kubeconfig"
                ))
                .into()
            });
        }
    };
    config.map_err(|e| UserError(format!("cannot use the kubeconfig: {e}")).into())
}

pub(crate) async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
