//! `ebb get services|hpa|pods`: status tables from a running `ebb serve`, as kubectl prints them.

use std::process::ExitCode;
use std::time::Duration;

use super::admin_client::{Admin, age};
use crate::serve::admin::{PodView, ServiceView};
use crate::table::Table;

/// Show services, autoscalers or replicas of a running `ebb serve`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  ebb get hpa
  ebb get hpa -w
  ebb get pods -o wide
  ebb get services -o json")]
pub(crate) struct Args {
    /// What to list.
    #[arg(value_enum)]
    what: What,
    /// Only this one.
    name: Option<String>,
    /// Keep watching: print a row whenever one changes.
    #[arg(short = 'w', long)]
    watch: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum)]
    output: Option<Output>,
    #[command(flatten)]
    admin: Admin,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum What {
    /// Services and where they answer.
    #[value(alias = "service", alias = "svc")]
    Services,
    /// Autoscalers, with kubectl get hpa's columns.
    #[value(alias = "autoscalers", alias = "horizontalpodautoscalers")]
    Hpa,
    /// Replicas.
    #[value(alias = "pod", alias = "po", alias = "replicas")]
    Pods,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    /// More columns.
    Wide,
    /// The admin API's JSON.
    Json,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut printed: Vec<Vec<String>> = Vec::new();
    let mut first = true;
    loop {
        let (header, rows, json) = fetch(&args)?;
        if args.output == Some(Output::Json) {
            super::output(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
            if !args.watch {
                return Ok(ExitCode::SUCCESS);
            }
        } else if first {
            let mut t = Table::new(&header);
            for r in &rows {
                t.row(r);
            }
            super::output(&t.render())?;
            printed = rows;
        } else {
            // Watch: a row per change (AGE alone is no change), aligned as kubectl does.
            let age_col = header.iter().position(|h| *h == "AGE");
            let key = |r: &Vec<String>| -> Vec<String> {
                r.iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != age_col)
                    .map(|(_, c)| c.clone())
                    .collect()
            };
            let seen: Vec<Vec<String>> = printed.iter().map(key).collect();
            for r in rows.iter().filter(|r| !seen.contains(&key(r))) {
                let mut t = Table::new(&header);
                for p in &printed {
                    t.row(p);
                }
                t.row(r);
                let rendered = t.render();
                super::output(&format!(
                    "{}\n",
                    rendered.lines().last().unwrap_or_default()
                ))?;
            }
            printed = rows;
        }
        if !args.watch {
            return Ok(ExitCode::SUCCESS);
        }
        first = false;
        std::thread::sleep(Duration::from_secs(1));
    }
}

type Fetched = (Vec<&'static str>, Vec<Vec<String>>, serde_json::Value);

fn fetch(args: &Args) -> anyhow::Result<Fetched> {
    let wide = args.output == Some(Output::Wide);
    let wanted = |name: &str| args.name.as_deref().is_none_or(|n| n == name);
    match args.what {
        What::Pods => {
            let pods: Vec<PodView> = args.admin.get("/api/v1/pods")?;
            let pods: Vec<PodView> = pods
                .into_iter()
                .filter(|p| wanted(&p.name) || wanted(&p.service))
                .collect();
            let mut header = vec!["NAME", "READY", "STATUS", "RESTARTS", "AGE"];
            if wide {
                header.extend(["ADDRESS", "PID", "CPU", "MEMORY", "SERVICE"]);
            }
            let rows = pods
                .iter()
                .map(|p| {
                    let mut row = vec![
                        p.name.clone(),
                        if p.ready { "1/1" } else { "0/1" }.to_string(),
                        p.status.clone(),
                        p.restarts.to_string(),
                        age(p.age_seconds),
                    ];
                    if wide {
                        row.extend([
                            p.address.clone().unwrap_or_else(|| "<none>".into()),
                            p.pid.map_or_else(|| "<none>".into(), |p| p.to_string()),
                            p.cpu_millicores
                                .map_or_else(|| "<unknown>".into(), |m| format!("{m}m")),
                            p.memory_bytes.map_or_else(
                                || "<unknown>".into(),
                                |b| format!("{}Mi", b / (1024 * 1024)),
                            ),
                            p.service.clone(),
                        ]);
                    }
                    row
                })
                .collect();
            Ok((header, rows, serde_json::to_value(&pods)?))
        }
        What::Hpa | What::Services => {
            let services: Vec<ServiceView> = args.admin.get("/api/v1/services")?;
            let services: Vec<ServiceView> =
                services.into_iter().filter(|s| wanted(&s.name)).collect();
            if args.what == What::Hpa {
                let header = vec![
                    "NAME",
                    "REFERENCE",
                    "TARGETS",
                    "MINPODS",
                    "MAXPODS",
                    "REPLICAS",
                    "AGE",
                ];
                let rows = services
                    .iter()
                    .filter(|s| s.class != "none")
                    .map(|s| {
                        vec![
                            s.autoscaler.clone().unwrap_or_else(|| s.name.clone()),
                            s.reference.clone(),
                            s.targets.clone(),
                            s.min_replicas
                                .map_or_else(|| "<unset>".into(), |m| m.to_string()),
                            s.max_replicas.map_or_else(
                                || "<unset>".into(),
                                |m| {
                                    if m == 0 {
                                        "<unset>".into()
                                    } else {
                                        m.to_string()
                                    }
                                },
                            ),
                            s.replicas.to_string(),
                            age(s.age_seconds),
                        ]
                    })
                    .collect();
                return Ok((header, rows, serde_json::to_value(&services)?));
            }
            let mut header = vec![
                "NAME", "CLASS", "PORTS", "READY", "DESIRED", "TARGETS", "AGE",
            ];
            if wide {
                header.extend(["HOSTS", "REFERENCE"]);
            }
            let rows = services
                .iter()
                .map(|s| {
                    let ports: Vec<String> = s.ports.iter().map(u16::to_string).collect();
                    let mut row = vec![
                        s.name.clone(),
                        s.class.to_uppercase(),
                        if ports.is_empty() {
                            "<none>".into()
                        } else {
                            ports.join(",")
                        },
                        format!("{}/{}", s.ready, s.replicas),
                        s.desired.to_string(),
                        s.targets.clone(),
                        age(s.age_seconds),
                    ];
                    if wide {
                        let mut hosts = vec![
                            format!("{}.{}.example.com", s.name, s.namespace),
                            format!("{}.localhost", s.name),
                        ];
                        hosts.extend(s.hosts.iter().cloned());
                        row.extend([hosts.join(","), s.reference.clone()]);
                    }
                    row
                })
                .collect();
            Ok((header, rows, serde_json::to_value(&services)?))
        }
    }
}
