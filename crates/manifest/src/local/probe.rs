//! Probes as a local supervisor runs them: Kubernetes' defaults filled in, ports that name the
//! container's serving port mapped to each replica's own port.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::kinds::meta::IntOrString;
use crate::kinds::pod::Probe;

/// A probe with Kubernetes' defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalProbe {
    /// What to check.
    pub action: ProbeAction,
    /// Before the first check.
    pub initial_delay: Duration,
    /// Per check.
    pub timeout: Duration,
    /// Between checks.
    pub period: Duration,
    /// Successes in a row to pass.
    pub success_threshold: u32,
    /// Failures in a row to fail.
    pub failure_threshold: u32,
}

/// A probe's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAction {
    /// GET `path` must answer 200–399.
    Http {
        /// Request path.
        path: String,
        /// Which port.
        port: ProbePort,
        /// `http` or `https`.
        https: bool,
        /// Extra headers.
        headers: Vec<(String, String)>,
    },
    /// A TCP connect must succeed.
    Tcp {
        /// Which port.
        port: ProbePort,
    },
    /// The command must exit 0.
    Exec {
        /// Program and arguments.
        command: Vec<String>,
    },
    /// gRPC health check.
    Grpc {
        /// Which port.
        port: ProbePort,
        /// Service name.
        service: Option<String>,
    },
}

/// Which port a probe targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbePort {
    /// The container's serving port: locally, the replica's own port.
    Serving,
    /// Another fixed port.
    Fixed(u16),
}

/// A probe with upstream defaults; ports that name the serving port map to the replica's port.
pub(super) fn local_probe(
    p: &Probe,
    declared: Option<u16>,
    names: &BTreeMap<&str, i64>,
) -> Option<LocalProbe> {
    let port = |port: Option<&IntOrString>| -> Option<ProbePort> {
        let number = match port {
            None => return Some(ProbePort::Serving),
            Some(IntOrString::Int(n)) => *n,
            Some(IntOrString::Str(name)) => *names.get(name.as_str())?,
        };
        let number = u16::try_from(number).ok()?;
        Some(if declared.is_none_or(|d| d == number) {
            ProbePort::Serving
        } else {
            ProbePort::Fixed(number)
        })
    };
    let action = if let Some(h) = &p.http_get {
        ProbeAction::Http {
            path: h.path.clone().unwrap_or_else(|| "/".to_string()),
            port: port(h.port.as_ref())?,
            https: h.scheme.as_deref() == Some("HTTPS"),
            headers: h
                .http_headers
                .iter()
                .map(|x| (x.name.clone(), x.value.clone()))
                .collect(),
        }
    } else if let Some(t) = &p.tcp_socket {
        ProbeAction::Tcp {
            port: port(t.port.as_ref())?,
        }
    } else if let Some(e) = &p.exec {
        ProbeAction::Exec {
            command: e.command.clone(),
        }
    } else {
        let g = p.grpc.as_ref()?;
        ProbeAction::Grpc {
            port: port(Some(&IntOrString::Int(g.port)))?,
            service: g.service.clone(),
        }
    };
    let secs = |v: Option<i64>, default: u64| {
        Duration::from_secs(v.and_then(|v| u64::try_from(v).ok()).unwrap_or(default))
    };
    let count = |v: Option<i64>, default: u32| {
        v.and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v > 0)
            .unwrap_or(default)
    };
    Some(LocalProbe {
        action,
        initial_delay: secs(p.initial_delay_seconds, 0),
        timeout: secs(p.timeout_seconds.filter(|t| *t > 0), 1),
        period: secs(p.period_seconds.filter(|t| *t > 0), 10),
        success_threshold: count(p.success_threshold, 1),
        failure_threshold: count(p.failure_threshold, 3),
    })
}
