//! What a comparison prints and writes: a kubectl-style table, CSV files, SVG charts and an HTML
//! report with the charts inline.
//!
//! Rendering is pure (strings in, strings out); [`write`] is the only function that touches
//! the file system.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::decide::DecideRecord;
use crate::dist::format_secs;
use crate::engine::RunResult;
use crate::plot::{self, PlotError};
use crate::stats::Summary;

/// Sweeps of a comparison: (label, [(value, index into the runs)]) in sweep order.
pub type Sweeps = Vec<(String, Vec<(String, usize)>)>;

/// A comparison of runs on one workload.
#[derive(Debug, Clone)]
pub struct Comparison<'a> {
    /// The runs, in the order given.
    pub runs: &'a [RunResult],
    /// Sweeps: (label, [(value, index into `runs`)]) for the frontier chart.
    pub sweeps: Sweeps,
    /// One paragraph on the workload and the model, for the report's header.
    pub setup: String,
}

/// Writing the report failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be written.
    #[error("cannot write {path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// A chart could not be drawn.
    #[error(transparent)]
    Plot(#[from] PlotError),
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.1}%", 100.0 * v))
}

fn secs(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format_secs(x)
    }
}

/// Left-aligned columns, three spaces apart, as kubectl prints them.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < r.len() {
                let pad = widths[i] - cell.chars().count() + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn table_rows(summaries: &[Summary]) -> Vec<Vec<String>> {
    let slo = summaries
        .iter()
        .find_map(|s| s.slo_s)
        .map_or("SLO".to_string(), |s| format!("≤{}", format_secs(s)));
    let mut rows = vec![
        [
            "POLICY",
            "CLASS",
            "REPLICA-HOURS",
            "MAX",
            "MEAN",
            "P50",
            "P95",
            "P99",
            &slo,
            "HELD",
            "HELD-MAX",
            "COLD-STARTS",
            "TIMEOUTS",
            "REJECTED",
            "SCALE-UP/DOWN",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
    ];
    for s in summaries {
        rows.push(vec![
            s.policy.clone(),
            s.class.clone(),
            format!("{:.2}", s.replica_seconds / 3600.0),
            s.max_replicas.to_string(),
            secs(s.latency_mean_s),
            secs(s.latency_p50_s),
            secs(s.latency_p95_s),
            secs(s.latency_p99_s),
            pct(s.slo_attainment),
            s.held.to_string(),
            if s.held > 0 {
                format_secs(s.held_wait_max_s)
            } else {
                "-".into()
            },
            s.cold_starts.to_string(),
            s.timed_out.to_string(),
            s.rejected.to_string(),
            format!("{}/{}", s.scale_ups, s.scale_downs),
        ]);
    }
    rows
}

/// The comparison table.
pub fn table(summaries: &[Summary]) -> String {
    columns(&table_rows(summaries))
}

/// One row per run, every figure of [`Summary`].
pub fn summary_csv(summaries: &[Summary]) -> String {
    let mut out = String::from(
        "policy,class,arrived,completed,timed_out,rejected,duration_s,replica_seconds,mean_replicas,max_replicas,wait_mean_s,latency_mean_s,latency_p50_s,latency_p95_s,latency_p99_s,latency_max_s,slo_s,slo_attainment,held,held_wait_mean_s,held_wait_max_s,cold_starts,scale_ups,scale_downs,cpu_utilization_pct,little_l,little_lambda_w\n",
    );
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    for s in summaries {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_text(&s.policy),
            s.class,
            s.arrived,
            s.completed,
            s.timed_out,
            s.rejected,
            s.duration_s,
            s.replica_seconds,
            s.mean_replicas,
            s.max_replicas,
            s.wait_mean_s,
            s.latency_mean_s,
            s.latency_p50_s,
            s.latency_p95_s,
            s.latency_p99_s,
            s.latency_max_s,
            opt(s.slo_s),
            opt(s.slo_attainment),
            s.held,
            s.held_wait_mean_s,
            s.held_wait_max_s,
            s.cold_starts,
            s.scale_ups,
            s.scale_downs,
            s.cpu_utilization_pct,
            s.little.l,
            s.little.lambda_w,
        );
    }
    out
}

fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The time series of every run, long format (one row per policy and interval).
pub fn timeseries_csv(runs: &[RunResult]) -> String {
    let mut out = String::from(
        "policy,time_s,arrival_rate,completed,timed_out,rejected,in_system,queued,replicas,serving,desired,cpu_utilization_pct,latency_mean_s,latency_p50_s,latency_p95_s,latency_p99_s\n",
    );
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    for r in runs {
        let name = csv_text(&r.summary.policy);
        for row in &r.rows {
            let _ = writeln!(
                out,
                "{name},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                row.time_s,
                row.arrival_rate,
                row.completed,
                row.timed_out,
                row.rejected,
                row.in_system,
                row.queued,
                row.replicas,
                row.serving,
                row.desired,
                row.cpu_utilization_pct,
                opt(row.latency_mean_s),
                opt(row.latency_p50_s),
                opt(row.latency_p95_s),
                opt(row.latency_p99_s),
            );
        }
    }
    out
}

/// Every rescale of every run, with the engine's explanation.
pub fn events_csv(runs: &[RunResult]) -> String {
    let mut out = String::from("policy,time_s,from,to,reason\n");
    for r in runs {
        for e in &r.scale_events {
            let _ = writeln!(
                out,
                "{},{},{},{},{}",
                csv_text(&r.summary.policy),
                e.time_s,
                e.from,
                e.to,
                csv_text(&e.reason)
            );
        }
    }
    out
}

/// The charts of a comparison: (file name, SVG).
pub fn charts(c: &Comparison<'_>) -> Result<Vec<(&'static str, String)>, PlotError> {
    let Some(first) = c.runs.first() else {
        return Ok(Vec::new());
    };
    let mut out = vec![
        ("load.svg", plot::load_chart(first)?),
        ("replicas.svg", plot::replicas_chart(c.runs)?),
        ("latency.svg", plot::latency_chart(c.runs)?),
    ];
    if !c.sweeps.is_empty() {
        let summaries: Vec<Summary> = c.runs.iter().map(|r| r.summary.clone()).collect();
        out.push(("frontier.svg", plot::frontier_chart(&summaries, &c.sweeps)?));
    }
    Ok(out)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML report: setup, table, charts inline.
pub fn html(c: &Comparison<'_>, charts: &[(&'static str, String)]) -> String {
    let summaries: Vec<Summary> = c.runs.iter().map(|r| r.summary.clone()).collect();
    let rows = table_rows(&summaries);
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>ebb sim report</title>\n<style>\nbody{font-family:sans-serif;margin:2em;max-width:1250px;color:#222}\ntable{border-collapse:collapse;font-size:13px}\nth,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}\nth:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}\nth{background:#f4f4f4}\nfigure{margin:1.5em 0}\n.setup{color:#555}\n</style>\n</head>\n<body>\n<h1>ebb sim</h1>\n",
    );
    let _ = writeln!(out, "<p class=\"setup\">{}</p>", escape(&c.setup));
    out.push_str("<table>\n");
    for (i, r) in rows.iter().enumerate() {
        let tag = if i == 0 { "th" } else { "td" };
        out.push_str("<tr>");
        for cell in r {
            let _ = write!(out, "<{tag}>{}</{tag}>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    for (name, svg) in charts {
        let body = svg.find("<svg").map_or(svg.as_str(), |start| &svg[start..]);
        let _ = writeln!(out, "<figure id=\"{name}\">\n{body}\n</figure>");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// Writes the report files into `dir` (created if missing); returns the paths written.
pub fn write(
    dir: &Path,
    c: &Comparison<'_>,
    decisions: &[DecideRecord],
) -> Result<Vec<PathBuf>, ReportError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |error| ReportError::Io { path, error }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let summaries: Vec<Summary> = c.runs.iter().map(|r| r.summary.clone()).collect();
    let charts = charts(c)?;
    let mut files: Vec<(String, String)> = vec![
        ("summary.txt".into(), table(&summaries)),
        ("summary.csv".into(), summary_csv(&summaries)),
        ("timeseries.csv".into(), timeseries_csv(c.runs)),
        ("events.csv".into(), events_csv(c.runs)),
        ("report.html".into(), html(c, &charts)),
    ];
    files.extend(charts.into_iter().map(|(n, s)| (n.to_string(), s)));
    // Each decision as a scenario `ebb decide -f` runs, with the simulator's answer beside it.
    for (i, d) in decisions.iter().enumerate() {
        let policy = d
            .policy
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
        let sub = dir.join("decisions").join(&policy);
        std::fs::create_dir_all(&sub).map_err(io(&sub))?;
        let stem = format!("decisions/{policy}/{i:05}-at-{}s", d.time_ns as f64 / 1e9);
        let pretty =
            |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
        files.push((format!("{stem}.json"), pretty(&d.scenario)));
        files.push((format!("{stem}.sim.json"), pretty(&d.decision)));
    }
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io(&path))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_style_columns() {
        let rows = vec![
            vec!["NAME".to_string(), "REPLICAS".into()],
            vec!["a-long-name".to_string(), "3".into()],
        ];
        assert_eq!(columns(&rows), "NAME          REPLICAS\na-long-name   3\n");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_text("plain"), "plain");
        assert_eq!(csv_text("a, b"), "\"a, b\"");
        assert_eq!(csv_text("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
