//! `ebb describe NAME`: a service's autoscaler as `kubectl describe hpa` shows it, plus the
//! last decision explained step by step.

use std::process::ExitCode;

use super::admin_client::{Admin, age};
use crate::serve::admin::ServiceDetail;
use crate::table::Table;

/// Metrics, conditions, the last decision explained, and events of a service in `ebb serve`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  ebb describe custom-model-autoscaling
  ebb describe app-fastapi --admin 127.0.0.1:9091")]
pub(crate) struct Args {
    /// The service (or its autoscaler).
    name: String,
    #[command(flatten)]
    admin: Admin,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let d: ServiceDetail = args.admin.get(&format!("/api/v1/services/{}", args.name))?;
    super::output(&render(&d))?;
    Ok(ExitCode::SUCCESS)
}

fn render(d: &ServiceDetail) -> String {
    let s = &d.service;
    let mut out = String::new();
    let field =
        |out: &mut String, k: &str, v: &str| out.push_str(&format!("{:<27}{v}\n", format!("{k}:")));
    field(&mut out, "Name", &s.name);
    field(&mut out, "Namespace", &s.namespace);
    field(&mut out, "Reference", &s.reference);
    let class = match s.class.as_str() {
        "hpa" => "HPA (Kubernetes HorizontalPodAutoscaler semantics)",
        "kpa" => "KPA (Knative Pod Autoscaler semantics)",
        _ => "none: a fixed replica count",
    };
    field(
        &mut out,
        "Autoscaler",
        &format!(
            "{} — {class}",
            s.autoscaler.clone().unwrap_or_else(|| "<none>".into())
        ),
    );
    if !s.ports.is_empty() {
        let ports: Vec<String> = s.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        field(&mut out, "Listens on", &ports.join(", "));
    }
    if !d.metrics.is_empty() {
        field(&mut out, "Metrics", "( current / target )");
        let width = d
            .metrics
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0)
            + 2;
        for (k, v) in &d.metrics {
            out.push_str(&format!("  {k:<width$}{v}\n"));
        }
    }
    field(
        &mut out,
        "Min replicas",
        &s.min_replicas
            .map_or_else(|| "<unset>".into(), |m| m.to_string()),
    );
    field(
        &mut out,
        "Max replicas",
        &s.max_replicas
            .map_or_else(|| "<unset>".into(), |m| m.to_string()),
    );
    if s.panic {
        field(&mut out, "Panic mode", "yes");
    }
    let kind = s.reference.split('/').next().unwrap_or("Deployment");
    field(
        &mut out,
        &format!("{kind} pods"),
        &format!(
            "{} current / {} desired ({} ready)",
            s.replicas, s.desired, s.ready
        ),
    );
    if !d.conditions.is_empty() {
        out.push_str("Conditions:\n");
        let mut t = Table::describe(&["Type", "Status", "Reason", "Message"]);
        for c in &d.conditions {
            t.row(&[
                c.kind.clone(),
                c.status.to_string(),
                c.reason.clone(),
                c.message.clone(),
            ]);
        }
        out.push_str(&t.indented(2));
    }
    if let Some(last) = d.latest.as_ref() {
        out.push_str(&format!(
            "Last decision ({} ago):\n  {}\n",
            age(d.now - last.at),
            last.summary
        ));
        for (i, step) in last.explanation.iter().enumerate() {
            out.push_str(&format!("    {}. {step}\n", i + 1));
        }
    }
    let changes: Vec<_> = d
        .decisions
        .iter()
        .rev()
        .filter(|r| d.latest.as_ref().is_none_or(|l| l.at != r.at))
        .take(5)
        .collect();
    if !changes.is_empty() {
        out.push_str("Recent decisions:\n");
        for r in changes {
            out.push_str(&format!("  {:<8}{}\n", age(d.now - r.at), r.summary));
        }
    }
    out.push_str("Events:");
    if d.events.is_empty() {
        out.push_str("  <none>\n");
    } else {
        out.push('\n');
        let mut t = Table::describe(&["Type", "Reason", "Age", "From", "Message"]);
        for e in &d.events {
            let when = if e.count > 1 {
                format!(
                    "{} (x{} over {})",
                    age(d.now - e.last),
                    e.count,
                    age(e.last - e.first)
                )
            } else {
                age(d.now - e.last)
            };
            t.row(&[
                e.kind.clone(),
                e.reason.clone(),
                when,
                e.from.clone(),
                e.message.clone(),
            ]);
        }
        out.push_str(&t.indented(2));
    }
    out
}
