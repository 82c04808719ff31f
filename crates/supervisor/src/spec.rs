//! What a replica is: a plain process spec, the local image of a Deployment's container.
//!
//! The manifest reader maps a pod template onto [`ReplicaSpec`]; nothing here knows YAML.
//! Field names and defaults follow the Kubernetes container and probe fields, so a mapped
//! spec behaves as the manifest says. Differences, on purpose:
//! - a container without a readinessProbe is probed with a TCP connect to its port (Kubernetes
//!   would call it ready as soon as the process starts, which routes requests to a server that
//!   is still loading its model);
//! - durations may be sub-second (tests and local experiments want fast probes).

use std::path::PathBuf;
use std::time::Duration;

use ebb_core::FieldError;

/// How to run one replica of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaSpec {
    /// The program: a path, or a name looked up in `PATH` (the container's `command[0]`).
    pub program: String,
    /// Its arguments; `{port}` in any of them becomes the replica's port.
    pub args: Vec<String>,
    /// Extra environment, on top of ebb's own; `{port}` in values becomes the port. `PORT` is
    /// always set to the replica's port.
    pub env: Vec<(String, String)>,
    /// Working directory (`workingDir`); ebb's own when `None`.
    pub working_dir: Option<PathBuf>,
    /// `readinessProbe`; `None` means a TCP connect to the replica's port.
    pub readiness_probe: Option<Probe>,
    /// `startupProbe`: while it has not succeeded, readiness and liveness are not probed, and
    /// if it keeps failing the replica is restarted.
    pub startup_probe: Option<Probe>,
    /// `livenessProbe`: the replica is restarted when it fails `failureThreshold` times in a row.
    pub liveness_probe: Option<Probe>,
    /// `terminationGracePeriodSeconds`: the whole budget for draining and SIGTERM before
    /// SIGKILL. Kubernetes' default is 30 s.
    pub termination_grace_period: Duration,
}

impl ReplicaSpec {
    /// A spec running `program` with `args`, Kubernetes defaults for everything else.
    pub fn new(
        program: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        ReplicaSpec {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            working_dir: None,
            readiness_probe: None,
            startup_probe: None,
            liveness_probe: None,
            termination_grace_period: DEFAULT_TERMINATION_GRACE_PERIOD,
        }
    }

    /// The readiness probe in effect: the spec's, or a TCP connect to the replica's port.
    pub fn effective_readiness_probe(&self) -> Probe {
        self.readiness_probe
            .clone()
            .unwrap_or_else(|| Probe::new(ProbeAction::TcpSocket { port: None }))
    }

    /// Checks the rules the Kubernetes API server applies to these fields. Paths are relative
    /// to the container (`readinessProbe.periodSeconds`), for the caller to prefix.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.program.trim().is_empty() {
            errors.push(FieldError::required(
                "command",
                "a program to run is required, like [\"python3\", \"-m\", \"http.server\", \"{port}\"]",
            ));
        }
        for (name, probe, kind) in [
            (
                "readinessProbe",
                &self.readiness_probe,
                ProbeKind::Readiness,
            ),
            ("startupProbe", &self.startup_probe, ProbeKind::Startup),
            ("livenessProbe", &self.liveness_probe, ProbeKind::Liveness),
        ] {
            if let Some(probe) = probe {
                probe.validate(name, kind, &mut errors);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Kubernetes' default `terminationGracePeriodSeconds`.
pub const DEFAULT_TERMINATION_GRACE_PERIOD: Duration = Duration::from_secs(30);

/// Which of a container's probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// `startupProbe`.
    Startup,
    /// `readinessProbe`.
    Readiness,
    /// `livenessProbe`.
    Liveness,
}

impl ProbeKind {
    /// The manifest field name.
    pub fn field(self) -> &'static str {
        match self {
            ProbeKind::Startup => "startupProbe",
            ProbeKind::Readiness => "readinessProbe",
            ProbeKind::Liveness => "livenessProbe",
        }
    }
}

/// A Kubernetes probe: what to check and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// The check.
    pub action: ProbeAction,
    /// `initialDelaySeconds` (default 0): no probe before this much time after the start.
    pub initial_delay: Duration,
    /// `periodSeconds` (default 10 s).
    pub period: Duration,
    /// `timeoutSeconds` (default 1 s): a probe that takes longer failed.
    pub timeout: Duration,
    /// `successThreshold` (default 1; must be 1 for startup and liveness probes).
    pub success_threshold: u32,
    /// `failureThreshold` (default 3).
    pub failure_threshold: u32,
}

impl Probe {
    /// A probe with Kubernetes' defaults.
    pub fn new(action: ProbeAction) -> Self {
        Probe {
            action,
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(10),
            timeout: Duration::from_secs(1),
            success_threshold: 1,
            failure_threshold: 3,
        }
    }

    fn validate(&self, path: &str, kind: ProbeKind, errors: &mut Vec<FieldError>) {
        if self.period.is_zero() {
            errors.push(FieldError::invalid(
                format!("{path}.periodSeconds"),
                0,
                "must be greater than zero",
            ));
        }
        if self.timeout.is_zero() {
            errors.push(FieldError::invalid(
                format!("{path}.timeoutSeconds"),
                0,
                "must be greater than zero",
            ));
        }
        if self.success_threshold == 0 {
            errors.push(FieldError::invalid(
                format!("{path}.successThreshold"),
                0,
                "must be at least 1",
            ));
        } else if kind != ProbeKind::Readiness && self.success_threshold != 1 {
            errors.push(FieldError::invalid(
                format!("{path}.successThreshold"),
                self.success_threshold,
                "must be 1",
            ));
        }
        if self.failure_threshold == 0 {
            errors.push(FieldError::invalid(
                format!("{path}.failureThreshold"),
                0,
                "must be at least 1",
            ));
        }
        match &self.action {
            ProbeAction::HttpGet(get) if !get.path.starts_with('/') => {
                errors.push(FieldError::invalid(
                    format!("{path}.httpGet.path"),
                    format!("{:?}", get.path),
                    "must start with \"/\", like \"/health_check\"",
                ));
            }
            ProbeAction::Exec { command } if command.is_empty() => {
                errors.push(FieldError::required(
                    format!("{path}.exec.command"),
                    "a command to run is required, like [\"cat\", \"/tmp/ready\"]",
                ));
            }
            _ => {}
        }
    }
}

/// What a probe checks. Ports are `None` for "the replica's port", which is what a manifest's
/// `containerPort` (or its name) maps to locally.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeAction {
    /// `httpGet`: success is a status from 200 to 399. Only plain HTTP.
    HttpGet(HttpGet),
    /// `tcpSocket`: success is an accepted connection.
    TcpSocket {
        /// The port; `None` for the replica's.
        port: Option<u16>,
    },
    /// `exec`: success is exit status 0. Runs with the replica's environment and directory.
    Exec {
        /// Program and arguments (no shell); `{port}` is substituted.
        command: Vec<String>,
    },
}

/// An `httpGet` probe.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpGet {
    /// Request path, like `/health_check`.
    pub path: String,
    /// The port; `None` for the replica's.
    pub port: Option<u16>,
    /// `httpHeaders`.
    pub headers: Vec<(String, String)>,
}

impl HttpGet {
    /// A GET of `path` on the replica's port.
    pub fn path(path: impl Into<String>) -> Self {
        HttpGet {
            path: path.into(),
            port: None,
            headers: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kubernetes_defaults() {
        let spec = ReplicaSpec::new("python3", ["-m", "http.server", "{port}"]);
        assert_eq!(spec.termination_grace_period, Duration::from_secs(30));
        let probe = spec.effective_readiness_probe();
        assert_eq!(probe.action, ProbeAction::TcpSocket { port: None });
        assert_eq!(probe.period, Duration::from_secs(10));
        assert_eq!(probe.timeout, Duration::from_secs(1));
        assert_eq!((probe.success_threshold, probe.failure_threshold), (1, 3));
        assert_eq!(spec.validate(), Ok(()));
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut spec = ReplicaSpec::new(" ", Vec::<String>::new());
        let mut bad_http = Probe::new(ProbeAction::HttpGet(HttpGet::path("health")));
        bad_http.period = Duration::ZERO;
        spec.readiness_probe = Some(bad_http);
        let mut liveness = Probe::new(ProbeAction::Exec { command: vec![] });
        liveness.success_threshold = 2;
        liveness.failure_threshold = 0;
        spec.liveness_probe = Some(liveness);
        let errors = spec.validate().expect_err("invalid spec");
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "command: Required value: a program to run is required, like [\"python3\", \"-m\", \"http.server\", \"{port}\"]",
                "readinessProbe.periodSeconds: Invalid value: 0: must be greater than zero",
                "readinessProbe.httpGet.path: Invalid value: \"health\": must start with \"/\", like \"/health_check\"",
                "livenessProbe.successThreshold: Invalid value: 2: must be 1",
                "livenessProbe.failureThreshold: Invalid value: 0: must be at least 1",
                "livenessProbe.exec.command: Required value: a command to run is required, like [\"cat\", \"/tmp/ready\"]",
            ]
        );
    }

    #[test]
    fn readiness_may_require_several_successes() {
        let mut spec = ReplicaSpec::new("sleep", ["1"]);
        let mut probe = Probe::new(ProbeAction::TcpSocket { port: Some(8080) });
        probe.success_threshold = 3;
        spec.readiness_probe = Some(probe);
        assert_eq!(spec.validate(), Ok(()));
    }
}
