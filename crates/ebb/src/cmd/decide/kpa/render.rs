//! `--explain` for KPA scenarios: what the autoscaler was configured with, one table line per
//! decision (identical consecutive ticks folded into one), and a short account at the end —
//! when panic mode ran, the most pods asked for, when the service was back at zero.

use std::fmt::Write as _;

use ebb_core::decision::{ConditionStatus, Decision, Step};
use ebb_core::kpa::explain::num;
use ebb_core::kpa::replay::{Row, Trigger};
use ebb_core::kpa::{KpaSpec, Reachability};
use ebb_core::time::Instant;
use ebb_core::{KubeDuration, units::format_duration};
use serde_json::json;

use super::scenario::{Resolved, seconds};

/// The header: the resolved settings in words.
pub(crate) fn header(name: &str, r: &Resolved, spec: &KpaSpec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{name}: {} → Knative Pod Autoscaler", r.origin);
    let utilization = spec.target_utilization * 100.0;
    let _ = writeln!(
        out,
        "  {}: target {} per pod ({} × {}% utilization), at most {} per pod",
        spec.metric.name(),
        num(spec.target_value),
        num(spec.total_value),
        num(utilization),
        num(spec.total_value)
    );
    let _ = writeln!(
        out,
        "  windows: stable {}, panic {}; panic when the panic window wants ≥ {}% of the ready pods",
        spec.stable_window,
        spec.panic_window,
        num(spec.panic_threshold * 100.0)
    );
    let max = if spec.max_scale == 0 {
        "∞".to_string()
    } else {
        spec.max_scale.to_string()
    };
    let mut bounds = format!(
        "  bounds: min {}, max {max}, initial {}",
        spec.min_scale, spec.initial_scale
    );
    if spec.activation_scale > 1 {
        let _ = write!(bounds, ", activation {}", spec.activation_scale);
    }
    let _ = writeln!(
        out,
        "{bounds}; per tick at most ×{} up and ÷{} down",
        num(spec.max_scale_up_rate),
        num(spec.max_scale_down_rate)
    );
    let _ = writeln!(
        out,
        "  scale to zero: {}; grace {}, last-pod retention {}; scale-down-delay {}",
        if spec.enable_scale_to_zero {
            "after a stable window of wanting 0"
        } else {
            "disabled"
        },
        spec.scale_to_zero_grace_period,
        spec.scale_to_zero_pod_retention_period,
        spec.scale_down_delay
    );
    let tbc = if spec.target_burst_capacity == -1.0 {
        "-1 (always in the path)".to_string()
    } else {
        num(spec.target_burst_capacity)
    };
    let reach = match r.replay.reachability {
        Reachability::Reachable => "routed",
        Reachability::Unreachable => "not routed (min-scale and retention ignored)",
        Reachability::Unknown => "routing unknown (treated as routed)",
    };
    let _ = writeln!(
        out,
        "  request holder: target burst capacity {tbc}, {} requests each, {}; revision {reach}",
        num(r.config.activator_capacity),
        if r.replay.holder_reachable {
            "reachable"
        } else {
            "not reachable"
        }
    );
    let _ = writeln!(out, "  {}", r.pods);
    for note in &r.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out
}

/// One table line.
#[derive(PartialEq)]
struct Line {
    time: String,
    cells: Vec<String>,
    foldable: bool,
}

const HEADERS: [&str; 11] = [
    "TIME", "EVENT", "READY", "STABLE", "PANIC", "MODE", "WANT", "PA", "PATH", "REPLICAS", "NOTE",
];

fn line(row: &Row, spec: &KpaSpec) -> Line {
    let d = &row.decision;
    let mut stable = String::new();
    let mut panic = String::new();
    let mut notes: Vec<String> = Vec::new();
    let wanted = d.steps.iter().find_map(|s| match s {
        Step::Wanted {
            stable_clamped,
            panic_clamped,
            stable_pods,
            panic_pods,
            ..
        } => Some((*stable_clamped, *panic_clamped, *stable_pods, *panic_pods)),
        _ => None,
    });
    let (mut sp, mut pp) = wanted.map_or((0, 0), |w| (w.0, w.1));
    for step in &d.steps {
        match step {
            Step::ActivationScale { window, to, .. } => {
                if window == "stable" {
                    sp = *to;
                } else {
                    pp = *to;
                }
            }
            Step::NoData { error } => {
                stable = "no data".into();
                panic = "no data".into();
                notes.push(error.clone());
            }
            _ => {}
        }
    }
    for step in &d.steps {
        match step {
            Step::Observed {
                stable: s,
                panic: p,
                ..
            } => {
                stable = format!("{}→{sp}", num(*s));
                panic = format!("{}→{pp}", num(*p));
                if let Some((sc, _, su, _)) = wanted
                    && sc != su
                {
                    let limit = if su > sc { "scale-up" } else { "scale-down" };
                    notes.push(format!("{limit} limit {su}→{sc}"));
                }
            }
            Step::ActivationScale { window, from, to } => {
                notes.push(format!("activation-scale lifts {window} {from}→{to}"))
            }
            Step::Panic {
                state,
                ratio,
                threshold,
                desired,
            } => match state.as_str() {
                "entered" => notes.push(format!(
                    "panic starts: panic wants {}× the ready pods (≥ {})",
                    num(*ratio),
                    num(*threshold)
                )),
                "held" => notes.push(format!(
                    "panic holds {} (ends {} after the last burst)",
                    desired.unwrap_or_default(),
                    spec.stable_window
                )),
                "exited" => notes.push("panic ends".into()),
                _ => {}
            },
            Step::ScaleDownDelay { from, to, .. } if from != to => {
                notes.push(format!("scale-down-delay holds {to} (wants {from})"))
            }
            Step::DesiredUnknown => notes.push("no metrics yet: nothing changes".into()),
            Step::Bounds {
                min,
                max,
                from,
                to,
                initial_scale,
            } if from != to && *from >= 0 => match initial_scale {
                Some(i) => notes.push(format!("initial-scale {i} → {to}")),
                None if to == min => notes.push(format!("min-scale {min}")),
                None => notes.push(format!("max-scale {max}")),
            },
            Step::ScaleToZero { action, .. } => notes.push(action.clone()),
            _ => {}
        }
    }
    if let Some(e) = &d.error {
        notes.push(e.clone());
    }
    let ready = match &row.ready {
        Ok(n) => n.to_string(),
        Err(_) => "?".into(),
    };
    let want = match row.decider_desired {
        -1 => "?".to_string(),
        n => n.to_string(),
    };
    let replicas = match d.scale_to {
        Some(to) => format!("{}→{to}", d.current_replicas),
        None => d.current_replicas.to_string(),
    };
    Line {
        time: seconds(row.time),
        cells: vec![
            row.trigger.name().to_string(),
            ready,
            stable,
            panic,
            if row.panicking { "panic" } else { "stable" }.into(),
            want,
            activity(d).into(),
            row.request_path.map_or("-", |m| m.name()).into(),
            replicas,
            notes.join("; "),
        ],
        foldable: row.trigger == Trigger::Tick,
    }
}

fn activity(d: &Decision) -> &'static str {
    match d
        .conditions
        .iter()
        .find(|c| c.kind == "Active")
        .map(|c| c.status)
    {
        Some(ConditionStatus::True) => "active",
        Some(ConditionStatus::False) => "inactive",
        _ => "activating",
    }
}

/// The decisions to show: from `from` on, or the one in force at each of `at`.
pub(crate) fn select<'a>(rows: &'a [Row], from: Instant, at: &[Instant]) -> Vec<&'a Row> {
    if at.is_empty() {
        return rows.iter().filter(|r| !r.time.is_before(from)).collect();
    }
    let mut out: Vec<&Row> = Vec::new();
    for t in at {
        if let Some(r) = rows.iter().rfind(|r| !r.time.is_after(*t))
            && !out.iter().any(|o| std::ptr::eq(*o, r))
        {
            out.push(r);
        }
    }
    out
}

/// The STABLE and PANIC cells (`value→pods`).
const WINDOW_CELLS: [usize; 2] = [2, 3];

/// Ticks fold together when they differ only in the window values, not in the pods wanted.
fn fold_key(cells: &[String]) -> Vec<&str> {
    cells
        .iter()
        .enumerate()
        .map(|(i, c)| match c.split_once('→') {
            Some((_, pods)) if WINDOW_CELLS.contains(&i) => pods,
            _ => c.as_str(),
        })
        .collect()
}

/// `9.33→2` folded with `9.8→2` reads `9.33…9.8→2`.
fn fold_window(first: &str, next: &str) -> String {
    match (first.split_once('→'), next.split_once('→')) {
        (Some((a, pods)), Some((b, _))) => {
            let start = a.split('…').next().unwrap_or(a);
            if start == b {
                format!("{start}→{pods}")
            } else {
                format!("{start}…{b}→{pods}")
            }
        }
        _ => first.to_string(),
    }
}

/// The table, folding runs of ticks that want the same pods into one line with a time range.
pub(crate) fn table(rows: &[&Row], spec: &KpaSpec) -> String {
    let mut lines: Vec<(String, Line)> = Vec::new();
    for row in rows {
        let l = line(row, spec);
        if let Some((range, last)) = lines.last_mut()
            && last.foldable
            && l.foldable
            && fold_key(&last.cells) == fold_key(&l.cells)
        {
            let start = range.split('–').next().unwrap_or_default().to_string();
            *range = format!("{start}–{}", l.time);
            for i in WINDOW_CELLS {
                last.cells[i] = fold_window(&last.cells[i], &l.cells[i]);
            }
            continue;
        }
        lines.push((l.time.clone(), l));
    }
    let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for (time, l) in &lines {
        widths[0] = widths[0].max(time.chars().count());
        for (i, c) in l.cells.iter().enumerate() {
            widths[i + 1] = widths[i + 1].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut emit = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        let mut text = String::new();
        for (i, c) in cells.iter().enumerate() {
            text.push_str(c);
            if i < last {
                let pad = widths[i] - c.chars().count() + 2;
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    emit(HEADERS.to_vec());
    for (time, l) in &lines {
        let mut cells = vec![time.as_str()];
        cells.extend(l.cells.iter().map(String::as_str));
        emit(cells);
    }
    out
}

/// What happened, in a few lines: panic episodes, the peak, replica writes, back at zero.
pub(crate) struct Story {
    panic: Vec<(Instant, Option<Instant>)>,
    peak: Option<(i32, Instant)>,
    writes: Vec<(Instant, i32)>,
    zero_at: Option<Instant>,
    start_replicas: i32,
    until: Instant,
}

impl Story {
    pub(crate) fn new(rows: &[Row], until: Instant) -> Self {
        let mut panic: Vec<(Instant, Option<Instant>)> = Vec::new();
        let mut peak: Option<(i32, Instant)> = None;
        let mut writes = Vec::new();
        let mut was_panicking = false;
        for r in rows {
            if r.panicking && !was_panicking {
                panic.push((r.time, None));
            }
            if !r.panicking
                && was_panicking
                && let Some(last) = panic.last_mut()
            {
                last.1 = Some(r.time);
            }
            was_panicking = r.panicking;
            if peak.is_none_or(|(p, _)| r.decider_desired > p) && r.decider_desired >= 0 {
                peak = Some((r.decider_desired, r.time));
            }
            if let Some(n) = r.decision.scale_to {
                writes.push((r.time, n));
            }
        }
        let last_replicas = writes.last().map(|w| w.1);
        let zero_at = match last_replicas {
            Some(0) => writes.last().map(|w| w.0),
            _ => None,
        };
        let start_replicas = rows.first().map_or(0, |r| r.decision.current_replicas);
        Story {
            panic,
            peak,
            writes,
            zero_at,
            start_replicas,
            until,
        }
    }

    pub(crate) fn text(&self, spec: &KpaSpec) -> String {
        let mut out = String::new();
        if self.panic.is_empty() {
            let _ = writeln!(out, "panic mode: never");
        } else {
            let spans: Vec<String> = self
                .panic
                .iter()
                .map(|(from, to)| match to {
                    Some(to) => format!("{}–{}", seconds(*from), seconds(*to)),
                    None => format!("from {} (still on at the end)", seconds(*from)),
                })
                .collect();
            let _ = writeln!(out, "panic mode: {}", spans.join(", "));
        }
        if let Some((n, at)) = self.peak {
            let _ = writeln!(out, "most pods wanted: {n} (first at {})", seconds(at));
        }
        let mut writes = vec![format!("{} at start", self.start_replicas)];
        writes.extend(
            self.writes
                .iter()
                .map(|(t, n)| format!("{n} at {}", seconds(*t))),
        );
        let _ = writeln!(out, "replicas: {}", writes.join(", "));
        match self.zero_at {
            Some(t) => {
                let _ = writeln!(out, "back at zero: {}", seconds(t));
            }
            None if spec.min_scale > 0 => {
                let _ = writeln!(
                    out,
                    "back at zero: never (min-scale {} keeps pods)",
                    spec.min_scale
                );
            }
            None if !spec.enable_scale_to_zero => {
                let _ = writeln!(out, "back at zero: never (enable-scale-to-zero is false)");
            }
            None => {
                let _ = writeln!(
                    out,
                    "back at zero: not by {} (replay longer with decide.until)",
                    seconds(self.until)
                );
            }
        }
        out
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        let secs = |t: Instant| t.as_secs_f64();
        json!({
            "panic": self.panic.iter().map(|(from, to)| json!({
                "from": secs(*from),
                "to": to.map(secs),
            })).collect::<Vec<_>>(),
            "mostPodsWanted": self.peak.map(|p| p.0),
            "mostPodsWantedAt": self.peak.map(|p| secs(p.1)),
            "replicaWrites": self.writes.iter().map(|(t, n)| json!({"at": secs(*t), "replicas": n})).collect::<Vec<_>>(),
            "backAtZero": self.zero_at.map(secs),
        })
    }
}

/// One decision as JSON.
pub(crate) fn row_json(row: &Row) -> serde_json::Value {
    json!({
        "seconds": row.time.as_secs_f64(),
        "time": format_duration(std::time::Duration::from_secs_f64(row.time.as_secs_f64().max(0.0))),
        "trigger": row.trigger.name(),
        "ready": row.ready.as_ref().ok(),
        "readyError": row.ready.as_ref().err(),
        "deciderDesired": row.decider_desired,
        "panicking": row.panicking,
        "requestPath": row.request_path.map(|m| m.name()),
        "decision": row.decision,
    })
}

/// `KubeDuration` of an instant since the epoch, for messages.
pub(crate) fn since_start(t: Instant) -> KubeDuration {
    KubeDuration(t.since(Instant::EPOCH))
}
