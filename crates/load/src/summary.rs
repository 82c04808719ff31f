//! The end-of-run report: for people (kubectl-style tables) and for machines (`--json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::progress::format_latency;
use crate::stats::{Percentiles, Stats};

/// Everything a run produced, ready to print or serialize.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The URL loaded.
    pub url: String,
    /// How load was offered, for people.
    pub mode: String,
    /// Wall time from the first send to the last response, in seconds.
    pub duration_s: f64,
    /// True when the run was stopped by Ctrl-C.
    pub interrupted: bool,
    /// Request counts.
    pub requests: Requests,
    /// Rates in requests per second.
    pub rate: Rates,
    /// Latency of every response, in milliseconds.
    pub latency_ms: Option<LatencyMs>,
    /// What latency is measured from.
    pub latency_from: &'static str,
    /// Responses per status code.
    pub status_codes: BTreeMap<u16, u64>,
    /// Requests without a response, per kind.
    pub errors: BTreeMap<&'static str, u64>,
    /// Open loop only: requests that went out after their intended time.
    pub late: Option<Late>,
    /// Response body bytes received.
    pub bytes_received: u64,
}

/// Request counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requests {
    /// Open loop only: requests the schedule held for the run's duration.
    pub intended: Option<u64>,
    /// Requests sent.
    pub sent: u64,
    /// Responses received, any status.
    pub completed: u64,
    /// No response, or a 4xx/5xx status.
    pub failed: u64,
    /// Sent but cut off by Ctrl-C.
    pub abandoned: u64,
}

/// Rates, requests per second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rates {
    /// Open loop only: the schedule's rate over the sending window.
    pub intended: Option<f64>,
    /// Requests sent per second of the sending window.
    pub sent: f64,
    /// Responses per second of the whole run.
    pub completed: f64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// Requests that waited for a free connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Late {
    /// The connection budget.
    pub connections: u32,
    /// How many requests went out after their intended time.
    pub count: u64,
    /// The worst delay, in milliseconds.
    pub max_ms: f64,
}

/// What the run loop knows besides the counters.
#[derive(Debug, Clone)]
pub(crate) struct RunFacts {
    pub(crate) url: String,
    pub(crate) mode: String,
    pub(crate) open_loop: Option<OpenLoopFacts>,
    pub(crate) elapsed: Duration,
    pub(crate) send_window: Duration,
    pub(crate) interrupted: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenLoopFacts {
    pub(crate) intended: u64,
    pub(crate) connections: u32,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn per_second(count: u64, over: Duration) -> f64 {
    if over.is_zero() {
        0.0
    } else {
        count as f64 / over.as_secs_f64()
    }
}

impl Summary {
    pub(crate) fn new(stats: &Stats, facts: RunFacts) -> Summary {
        let latency_ms = stats.percentiles().map(|p: Percentiles| LatencyMs {
            p50: ms(p.p50),
            p90: ms(p.p90),
            p99: ms(p.p99),
            p99_9: ms(p.p999),
            max: ms(p.max),
            mean: ms(p.mean),
        });
        let (late_count, max_lag) = stats.late();
        let open = facts.open_loop;
        Summary {
            url: facts.url,
            mode: facts.mode,
            duration_s: (facts.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            interrupted: facts.interrupted,
            requests: Requests {
                intended: open.map(|o| o.intended),
                sent: stats.sent(),
                completed: stats.completed(),
                failed: stats.failed(),
                abandoned: stats.in_flight(),
            },
            rate: Rates {
                intended: open.map(|o| per_second(o.intended, facts.send_window)),
                sent: per_second(stats.sent(), facts.send_window),
                completed: per_second(stats.completed(), facts.elapsed),
            },
            latency_ms,
            latency_from: if open.is_some() {
                "intended send time"
            } else {
                "send time"
            },
            status_codes: stats.status_codes().clone(),
            errors: stats
                .errors()
                .iter()
                .map(|(kind, &n)| (kind.label(), n))
                .collect(),
            late: open.map(|o| Late {
                connections: o.connections,
                count: late_count,
                max_ms: ms(max_lag),
            }),
            bytes_received: stats.bytes(),
        }
    }

    /// The report for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Target:    {}", self.url);
        let _ = writeln!(out, "Load:      {}", self.mode);
        let stopped = if self.interrupted {
            "  (interrupted)"
        } else {
            ""
        };
        let _ = writeln!(out, "Duration:  {:.2}s{stopped}", self.duration_s);
        let r = &self.requests;
        let mut counts = format!(
            "{} sent, {} completed, {} failed",
            r.sent, r.completed, r.failed
        );
        if let Some(intended) = r.intended {
            counts = format!("{intended} intended, {counts}");
        }
        if r.abandoned > 0 {
            let _ = write!(counts, ", {} abandoned in flight", r.abandoned);
        }
        let _ = writeln!(out, "Requests:  {counts}");
        let rate = match self.rate.intended {
            Some(intended) => format!(
                "{:.1}/s sent of {:.1}/s intended ({:.1}%), {:.1}/s completed",
                self.rate.sent,
                intended,
                if intended > 0.0 {
                    100.0 * self.rate.sent / intended
                } else {
                    100.0
                },
                self.rate.completed
            ),
            None => format!(
                "{:.1}/s sent, {:.1}/s completed",
                self.rate.sent, self.rate.completed
            ),
        };
        let _ = writeln!(out, "Rate:      {rate}");
        if let Some(late) = self.late.as_ref().filter(|l| l.count > 0) {
            let _ = writeln!(
                out,
                "Late:      {} requests went out after their intended time (up to {}): all {} connections were busy or the generator could not keep up; their wait is in their latency. Raise --connections or lower the rate.",
                late.count,
                format_latency(Duration::from_secs_f64(late.max_ms / 1000.0)),
                late.connections
            );
        }
        out.push('\n');
        match self.latency_ms {
            Some(l) => {
                let d = |v: f64| format_latency(Duration::from_secs_f64(v / 1000.0));
                let _ = writeln!(
                    out,
                    "{}",
                    table(&[
                        vec!["LATENCY", "P50", "P90", "P99", "P99.9", "MAX", "MEAN"]
                            .into_iter()
                            .map(String::from)
                            .collect(),
                        vec![
                            format!("from {}", self.latency_from),
                            d(l.p50),
                            d(l.p90),
                            d(l.p99),
                            d(l.p99_9),
                            d(l.max),
                            d(l.mean),
                        ],
                    ])
                );
            }
            None => out.push_str("No responses.\n\n"),
        }
        let mut rows = vec![vec!["STATUS".to_string(), "COUNT".to_string()]];
        rows.extend(
            self.status_codes
                .iter()
                .map(|(code, n)| vec![code.to_string(), n.to_string()]),
        );
        rows.extend(
            self.errors
                .iter()
                .map(|(kind, n)| vec![format!("error: {kind}"), n.to_string()]),
        );
        if rows.len() > 1 {
            out.push_str(&table(&rows));
        }
        out
    }
}

/// Left-aligned columns separated by three spaces, like `kubectl get`.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let _ = write!(line, "{cell:<width$}   ", width = widths[c]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{ErrorKind, Outcome};

    fn run_of(latencies_ms: &[u64], errors: usize) -> Stats {
        let mut stats = Stats::new();
        stats.record_sends(0, (latencies_ms.len() + errors) as u64);
        stats.record_late(latencies_ms.len() as u64, Duration::from_millis(3));
        for &l in latencies_ms {
            stats.record(Outcome {
                start: Duration::ZERO,
                done: Duration::from_millis(l),
                result: Ok(if l > 100 { 503 } else { 200 }),
                bytes: 2,
            });
        }
        for _ in 0..errors {
            stats.record(Outcome {
                start: Duration::ZERO,
                done: Duration::from_millis(1),
                result: Err(ErrorKind::ConnectionRefused),
                bytes: 0,
            });
        }
        stats
    }

    #[test]
    fn open_loop_summary_compares_with_the_intent() {
        let stats = run_of(&[10, 20, 30, 200], 1);
        let summary = Summary::new(
            &stats,
            RunFacts {
                url: "http://127.0.0.1:1/".into(),
                mode: "open loop".into(),
                open_loop: Some(OpenLoopFacts {
                    intended: 10,
                    connections: 2,
                }),
                elapsed: Duration::from_secs(2),
                send_window: Duration::from_secs(2),
                interrupted: false,
            },
        );
        assert_eq!(summary.requests.intended, Some(10));
        assert_eq!(summary.requests.failed, 2);
        assert_eq!(summary.rate.sent, 2.5);
        assert_eq!(summary.rate.intended, Some(5.0));
        assert_eq!(summary.late.as_ref().map(|l| l.count), Some(4));
        let text = summary.render();
        assert!(
            text.contains("2.5/s sent of 5.0/s intended (50.0%)"),
            "{text}"
        );
        assert!(text.contains("Late:      4 requests"), "{text}");
        assert!(text.contains("error: connection-refused   1"), "{text}");
        let status_503 = text.lines().find(|l| l.starts_with("503 ")).unwrap();
        assert!(status_503.ends_with(" 1"), "{text}");
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["status_codes"]["200"], 3);
        assert_eq!(json["errors"]["connection-refused"], 1);
        assert!(json["latency_ms"]["p99.9"].as_f64().unwrap() >= 199.0);
    }

    #[test]
    fn tables_align_columns() {
        let t = table(&[
            vec!["A".into(), "LONG HEADER".into()],
            vec!["wide cell".into(), "1".into()],
        ]);
        assert_eq!(t, "A           LONG HEADER\nwide cell   1\n");
    }
}
