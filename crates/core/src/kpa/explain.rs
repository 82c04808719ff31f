//! One line for a person from a KPA [`Decision`]: what the windows said, what panic mode did,
//! what the scale-to-zero machine is waiting for, and what gets written.

use std::fmt::Write as _;
use std::time::Duration;

use crate::decision::{Decision, Step};
use crate::units::format_duration;

/// A number as people write it: `7`, `7.5`, `0.33`, `31.2`.
pub fn num(v: f64) -> String {
    if v.abs() >= 1e15 {
        return format!("{v:.3e}");
    }
    if v == v.trunc() {
        return format!("{v:.0}");
    }
    let digits = if v.abs() >= 10.0 { 1 } else { 2 };
    let s = format!("{v:.digits$}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Seconds as a Go duration: `40s`, `4m57s`, `1.5s`.
pub fn seconds(s: f64) -> String {
    Duration::try_from_secs_f64(s).map_or_else(|_| format!("{s}s"), format_duration)
}

/// The summary line, e.g. `concurrency panic 31.2 over 6s → 5, stable 8.1 over 60s → 2
/// (7/pod, 1 ready); panic entered; activating; scale 1 → 5`.
pub fn summary(d: &Decision) -> String {
    let mut parts: Vec<String> = Vec::new();
    let panicking = d.steps.iter().any(|s| {
        matches!(s, Step::Panic { state, .. } if matches!(state.as_str(), "entered" | "extended" | "held"))
    });
    let mut wanted = None;
    for step in &d.steps {
        if let Step::Wanted {
            stable_clamped,
            panic_clamped,
            ..
        } = step
        {
            wanted = Some((*stable_clamped, *panic_clamped));
        }
    }
    for step in &d.steps {
        match step {
            Step::Observed {
                metric,
                stable,
                panic,
                stable_window_seconds,
                panic_window_seconds,
                target,
                ready,
            } => {
                let (sp, pp) = wanted.unwrap_or_default();
                let stable = format!(
                    "stable {} over {}s → {sp}",
                    num(*stable),
                    stable_window_seconds
                );
                let panic = format!(
                    "panic {} over {}s → {pp}",
                    num(*panic),
                    panic_window_seconds
                );
                let (first, second) = if panicking {
                    (panic, stable)
                } else {
                    (stable, panic)
                };
                parts.push(format!(
                    "{metric} {first}, {second} ({}/pod, {ready} ready)",
                    num(*target)
                ));
            }
            Step::NoData { error } => parts.push(format!("no data ({error})")),
            Step::ActivationScale { window, to, .. } => {
                parts.push(format!("activation-scale lifts {window} to {to}"))
            }
            Step::Panic {
                state,
                ratio,
                threshold,
                desired,
            } => match state.as_str() {
                "entered" => parts.push(format!(
                    "panic entered ({} × ready ≥ {}): {}",
                    num(*ratio),
                    num(*threshold),
                    desired.unwrap_or_default()
                )),
                "extended" => {
                    parts.push(format!("panic extended: {}", desired.unwrap_or_default()))
                }
                "held" => parts.push(format!("panic holds {}", desired.unwrap_or_default())),
                "exited" => parts.push("panic over".into()),
                _ => {}
            },
            Step::ScaleDownDelay {
                delay_seconds,
                from,
                to,
            } if from != to => parts.push(format!(
                "scale-down-delay {} holds {to}",
                seconds(*delay_seconds)
            )),
            Step::DesiredUnknown => parts.push("desired unknown".into()),
            Step::Bounds {
                min,
                max,
                from,
                to,
                initial_scale,
            } if from != to && *from >= 0 => {
                let mut text = format!("bounded to [{min}, {}] → {to}", max_text(*max));
                if let Some(i) = initial_scale {
                    let _ = write!(text, " (initial-scale {i})");
                }
                parts.push(text);
            }
            Step::ScaleToZero { action, .. } => parts.push(action.clone()),
            _ => {}
        }
    }
    if let Some(c) = d.conditions.iter().find(|c| c.kind == "Active") {
        parts.push(
            match c.status {
                crate::decision::ConditionStatus::True => "active",
                crate::decision::ConditionStatus::False => "inactive",
                crate::decision::ConditionStatus::Unknown => "activating",
            }
            .into(),
        );
    }
    match (d.scale_to, &d.error) {
        (Some(to), _) => parts.push(format!("scale {} → {to}", d.current_replicas)),
        (None, Some(e)) => parts.push(format!("{e}; stays at {}", d.current_replicas)),
        (None, None) => parts.push(format!("stays at {}", d.current_replicas)),
    }
    parts.join("; ")
}

fn max_text(max: i32) -> String {
    if max == 0 {
        "∞".into()
    } else {
        max.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Condition, ConditionStatus, PolicyClass};

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(7.0), "7");
        assert_eq!(num(7.5), "7.5");
        assert_eq!(num(31.25), "31.2");
        assert_eq!(num(1.0 / 3.0), "0.33");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(1e300), "1.000e300");
        assert_eq!(seconds(297.0), "4m57s");
        assert_eq!(seconds(1.5), "1.5s");
    }

    #[test]
    fn summary_leads_with_panic_when_panicking() {
        let mut d = Decision::new(PolicyClass::Kpa, 1);
        d.steps = vec![
            Step::Observed {
                metric: "concurrency".into(),
                stable: 8.1,
                panic: 31.2,
                stable_window_seconds: 60.0,
                panic_window_seconds: 6.0,
                target: 7.0,
                ready: 1,
            },
            Step::Wanted {
                stable_pods: 2,
                panic_pods: 5,
                max_up: 1000,
                max_down: 0,
                stable_clamped: 2,
                panic_clamped: 5,
            },
            Step::Panic {
                state: "entered".into(),
                ratio: 5.0,
                threshold: 2.0,
                desired: Some(5),
            },
        ];
        d.conditions.push(Condition {
            kind: "Active".into(),
            status: ConditionStatus::True,
            reason: String::new(),
            message: String::new(),
        });
        d.scale_to = Some(5);
        assert_eq!(
            d.summary(),
            "concurrency panic 31.2 over 6s → 5, stable 8.1 over 60s → 2 (7/pod, 1 ready); panic entered (5 × ready ≥ 2): 5; active; scale 1 → 5"
        );
    }
}
