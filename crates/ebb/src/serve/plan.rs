//! From manifests to what `ebb serve` runs: one app per workload (its replicas, its policy,
//! its route) and the listeners the apps share.
//!
//! Routing follows CLI.md: each Kubernetes `Service` in the files is served on its own `port`;
//! InferenceServices and Knative Services share `--port` and are told apart by Host header or
//! model path, as behind a cluster ingress. Apps that end up on the same port share one
//! listener and are routed the same way.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ebb_core::hpa::spec::HpaSpec;
use ebb_core::kpa::{KpaConfig, KpaSettings};
use ebb_gateway::ServiceConfig;
use ebb_manifest::Manifests;
use ebb_manifest::kinds::autoscaler::{Autoscaler, AutoscalerClass};
use ebb_manifest::local::{self, LocalProbe, LocalWorkload, ProbeAction, ProbePort, WorkloadKind};
use ebb_supervisor::{HttpGet, Probe, ProbeAction as SupProbe, ReplicaSpec};

/// How an app's replica count is decided.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PolicyPlan {
    /// Kubernetes HPA semantics.
    Hpa { name: String, spec: HpaSpec },
    /// Knative KPA semantics, with the cluster's `config-autoscaler` defaults.
    Kpa {
        name: String,
        settings: KpaSettings,
        config: KpaConfig,
    },
    /// No autoscaler: the workload's own replica count.
    Fixed(i32),
}

/// One workload and everything about running it.
#[derive(Debug, Clone)]
pub(crate) struct AppPlan {
    pub(crate) name: String,
    pub(crate) namespace: String,
    /// `Deployment/app-fastapi`, as kubectl's REFERENCE column.
    pub(crate) reference: String,
    pub(crate) workload: LocalWorkload,
    pub(crate) replica: ReplicaSpec,
    pub(crate) policy: PolicyPlan,
    /// Ports clients reach it on (empty: replicas run, nothing routes to them).
    pub(crate) ports: Vec<u16>,
    /// Extra Host names (its Kubernetes Service's name, `{svc}.localhost`).
    pub(crate) hosts: Vec<String>,
}

/// Everything `ebb serve` runs.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) apps: Vec<AppPlan>,
}

impl Plan {
    /// Every port, with the gateway service of each app served there.
    pub(crate) fn listeners(&self) -> BTreeMap<u16, Vec<ServiceConfig>> {
        let mut out: BTreeMap<u16, Vec<ServiceConfig>> = BTreeMap::new();
        for app in &self.apps {
            for port in &app.ports {
                out.entry(*port).or_default().push(app.gateway_service());
            }
        }
        out
    }
}

impl AppPlan {
    /// The gateway's view of this app.
    pub(crate) fn gateway_service(&self) -> ServiceConfig {
        let mut s = ServiceConfig::new(self.name.clone());
        s.namespace = self.namespace.clone();
        s.hosts = self.hosts.clone();
        if matches!(
            self.workload.kind,
            WorkloadKind::InferenceService | WorkloadKind::KnativeService
        ) {
            // KServe paths name the model; the seed's model server calls itself after the service.
            s.models = vec![self.name.clone()];
        }
        s.container_concurrency =
            u32::try_from(self.workload.container_concurrency.max(0)).unwrap_or(u32::MAX);
        let t = self.workload.timeouts;
        s.apply_knative_timeouts(t.request, t.response_start, t.idle);
        s
    }
}

/// Why the files cannot be served.
#[derive(Debug)]
pub(crate) struct PlanError(pub(crate) Vec<String>);

/// Builds the plan. `shared_port` is `--port`; `self_exe` replaces a command named `ebb`
/// (the example model server runs as `ebb model-server`).
pub(crate) fn plan(
    checked: &Manifests,
    shared_port: u16,
    self_exe: &std::path::Path,
) -> Result<Plan, PlanError> {
    let mut errors = Vec::new();
    let workloads = local::workloads(&checked.objects);
    let services = local::services(&checked.objects);
    let autoscalers = checked.autoscalers();
    let kpa_config = checked.kpa_config();
    if workloads.is_empty() {
        errors.push("no workload to run: the files hold no Deployment, InferenceService or Knative Service that can run locally".to_string());
    }
    let mut apps = Vec::new();
    for w in &workloads {
        let targeting: Vec<&Autoscaler> = autoscalers.iter().filter(|a| targets(a, w)).collect();
        let policy = match targeting.as_slice() {
            [] => PolicyPlan::Fixed(w.initial_replicas),
            [one] => match policy_of(one, &kpa_config) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            },
            many => {
                let names: Vec<String> = many.iter().map(|a| a.metadata.name.clone()).collect();
                errors.push(format!(
                    "{} {} is scaled by {} autoscalers ({}): two autoscalers on one workload would fight; keep one",
                    kind_name(w.kind),
                    w.name,
                    many.len(),
                    names.join(", ")
                ));
                continue;
            }
        };
        let mut ports = Vec::new();
        let mut hosts = Vec::new();
        for s in services
            .iter()
            .filter(|s| s.workloads.contains(&w.name) && s.namespace == w.namespace)
        {
            ports.extend(s.ports.iter().copied());
            if s.name != w.name {
                hosts.push(format!("{}.localhost", s.name));
                hosts.push(format!("{}.{}.svc.cluster.local", s.name, s.namespace));
            }
        }
        if ports.is_empty()
            && matches!(
                w.kind,
                WorkloadKind::InferenceService | WorkloadKind::KnativeService
            )
        {
            ports.push(shared_port);
        }
        ports.sort_unstable();
        ports.dedup();
        apps.push(AppPlan {
            name: w.name.clone(),
            namespace: w.namespace.clone(),
            reference: format!("{}/{}", kind_name(w.kind), w.name),
            replica: replica_spec(w, self_exe),
            workload: w.clone(),
            policy,
            ports,
            hosts,
        });
    }
    for a in &autoscalers {
        if !workloads.iter().any(|w| targets(a, w)) {
            errors.push(format!(
                "Autoscaler {} targets {}/{}, which is not a workload in the files",
                a.metadata.name, a.spec.scale_target_ref.kind, a.spec.scale_target_ref.name
            ));
        }
    }
    if errors.is_empty() {
        Ok(Plan { apps })
    } else {
        Err(PlanError(errors))
    }
}

fn kind_name(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::InferenceService => "InferenceService",
        WorkloadKind::KnativeService => "Service",
    }
}

fn targets(a: &Autoscaler, w: &LocalWorkload) -> bool {
    let r = &a.spec.scale_target_ref;
    r.name == w.name
        && a.metadata.namespace_or_default() == w.namespace
        && r.kind == kind_name(w.kind)
}

fn policy_of(a: &Autoscaler, config: &KpaConfig) -> Result<PolicyPlan, String> {
    match a.spec.class {
        AutoscalerClass::Hpa => a
            .spec
            .hpa_spec()
            .map(|spec| PolicyPlan::Hpa {
                name: a.metadata.name.clone(),
                spec,
            })
            .ok_or_else(|| {
                format!(
                    "Autoscaler {}: class hpa needs maxReplicas",
                    a.metadata.name
                )
            }),
        AutoscalerClass::Kpa => Ok(PolicyPlan::Kpa {
            name: a.metadata.name.clone(),
            settings: a.spec.kpa.clone().unwrap_or_default(),
            config: config.clone(),
        }),
    }
}

/// The supervisor's spec for one replica of `w`.
fn replica_spec(w: &LocalWorkload, self_exe: &std::path::Path) -> ReplicaSpec {
    let p = &w.process;
    let (argv, env) = p.command_template();
    let mut argv = argv.into_iter();
    let program = match argv.next() {
        Some(first) if first == "ebb" => self_exe.display().to_string(),
        Some(first) => first,
        None => String::new(),
    };
    let mut spec = ReplicaSpec::new(program, argv);
    spec.env = env;
    spec.working_dir = p.working_dir.as_ref().map(PathBuf::from);
    spec.readiness_probe = p.readiness.as_ref().and_then(probe);
    spec.liveness_probe = p.liveness.as_ref().and_then(probe);
    spec.startup_probe = p.startup.as_ref().and_then(probe);
    spec.termination_grace_period = p.termination_grace;
    spec
}

fn probe(p: &LocalProbe) -> Option<Probe> {
    let port = |port: &ProbePort| match port {
        ProbePort::Serving => None,
        ProbePort::Fixed(n) => Some(*n),
    };
    let action = match &p.action {
        ProbeAction::Http {
            path,
            port: pp,
            headers,
            ..
        } => SupProbe::HttpGet(HttpGet {
            path: path.clone(),
            port: port(pp),
            headers: headers.clone(),
        }),
        ProbeAction::Tcp { port: pp } => SupProbe::TcpSocket { port: port(pp) },
        ProbeAction::Exec { command } => SupProbe::Exec {
            command: command.clone(),
        },
        // gRPC health checks need a gRPC client: a TCP connect is the closest local check.
        ProbeAction::Grpc { port: pp, .. } => SupProbe::TcpSocket { port: port(pp) },
    };
    Some(Probe {
        action,
        initial_delay: p.initial_delay,
        period: p.period.max(Duration::from_millis(1)),
        timeout: p.timeout.max(Duration::from_millis(1)),
        success_threshold: p.success_threshold.max(1),
        failure_threshold: p.failure_threshold.max(1),
    })
}
