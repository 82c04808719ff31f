//! Knative's `config-autoscaler` ConfigMap, followed while the controller runs: the cluster
//! defaults (`stable-window`, `scale-to-zero-grace-period`, `max-scale-up-rate`, ...) that
//! class-kpa Autoscalers resolve their settings with, as Knative's autoscaler reads them.
//!
//! Read again every few seconds rather than watched: one GET of one named object, which needs
//! permission to get that name only (no list or watch of ConfigMaps). A change reaches each
//! Autoscaler at its next sync, with its memory kept. A ConfigMap that fails Knative's checks
//! leaves the defaults in force (the last good ones), as upstream keeps its last good config.

use std::time::Duration;

use ebb_core::kpa::KpaConfig;
use tokio_util::sync::CancellationToken;

use crate::api::Cluster;
use crate::error::Result;
use crate::sync::Context;

/// How often the ConfigMap is read again.
pub const READ_EVERY: Duration = Duration::from_secs(10);

/// Where the defaults live: `knative-serving/config-autoscaler` on a Knative cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The ConfigMap's namespace.
    pub namespace: String,
    /// The ConfigMap's name.
    pub name: String,
}

impl Default for Source {
    fn default() -> Self {
        Source {
            namespace: "knative-serving".to_string(),
            name: "config-autoscaler".to_string(),
        }
    }
}

/// What one read found.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// No such ConfigMap: upstream's defaults.
    Absent,
    /// The ConfigMap's defaults.
    Valid(KpaConfig),
    /// The ConfigMap fails Knative's checks: every problem, `data[key]: ...`.
    Invalid(String),
}

/// Reads the ConfigMap once; an error is the API server's (unreachable, forbidden).
pub async fn read(cluster: &Cluster, source: &Source) -> Result<Found> {
    let Some(config_map) = cluster.config_map(&source.namespace, &source.name).await? else {
        return Ok(Found::Absent);
    };
    let data = config_map.data.unwrap_or_default().into_iter().collect();
    Ok(match KpaConfig::from_map(&data) {
        Ok(config) => Found::Valid(config),
        Err(errors) => Found::Invalid(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
    })
}

/// Reads the ConfigMap and puts what it says in force in `ctx`. Returns a line for the log
/// when the outcome differs from the previous call's, which `last` keeps (a new valid
/// ConfigMap, a new set of problems; an API error once until it clears).
pub async fn refresh(ctx: &Context, source: &Source, last: &mut Option<String>) -> Option<String> {
    let place = format!("{}/{}", source.namespace, source.name);
    let (outcome, line) = match read(&ctx.cluster, source).await {
        Ok(Found::Absent) => {
            ctx.set_kpa_config(KpaConfig::default());
            let line = format!("No ConfigMap {place}: Knative's default autoscaler settings.");
            ("absent".to_string(), line)
        }
        Ok(Found::Valid(config)) => {
            let outcome = format!("valid {config:?}");
            ctx.set_kpa_config(config);
            (
                outcome,
                format!("Autoscaler defaults from ConfigMap {place}."),
            )
        }
        Ok(Found::Invalid(problems)) => {
            let line = format!("ConfigMap {place} is not valid, {KEPT}: {problems}");
            (line.clone(), line)
        }
        Err(error) => {
            let line = format!("Cannot read ConfigMap {place}, {KEPT}: {error}");
            ("error".to_string(), line)
        }
    };
    if last.as_deref() == Some(outcome.as_str()) {
        return None;
    }
    *last = Some(outcome);
    Some(line)
}

/// Follows the ConfigMap until `shutdown`, reading it every [`READ_EVERY`]; `last` is the
/// outcome of the read before.
pub async fn follow(
    ctx: &Context,
    source: &Source,
    mut last: Option<String>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(READ_EVERY) => {}
            () = shutdown.cancelled() => return,
        }
        if let Some(line) = refresh(ctx, source, &mut last).await {
            log(&line);
        }
    }
}

/// A line from [`refresh`] in the log: a warning when the defaults could not be updated.
pub fn log(line: &str) {
    if line.contains(KEPT) {
        tracing::warn!("{line}");
    } else {
        tracing::info!("{line}");
    }
}

const KEPT: &str = "the defaults in force stay";
