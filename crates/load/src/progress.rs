//! The live progress line: a bar on a terminal, plain lines in logs and CI.

use std::fmt::Write as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::stats::Snapshot;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Plain lines on stderr, every two seconds.
    Lines,
    /// Nothing until the summary.
    Quiet,
}

/// What the bar measures against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extent {
    /// The run ends after this long.
    Time(Duration),
    /// The run ends after this many requests.
    Count(u64),
    /// Unknown.
    Open,
}

pub(crate) enum Progress {
    Bar(ProgressBar, Extent),
    Lines { every: Duration, next: Duration },
    Quiet,
}

/// Plain lines come this often, like locust's headless stats.
const LINE_EVERY: Duration = Duration::from_secs(2);

impl Progress {
    pub(crate) fn new(mode: ProgressMode, extent: Extent) -> Progress {
        match mode {
            ProgressMode::Quiet => Progress::Quiet,
            ProgressMode::Lines => Progress::lines(),
            ProgressMode::Auto => {
                let target = ProgressDrawTarget::stderr();
                if target.is_hidden() {
                    return Progress::lines();
                }
                let length = match extent {
                    Extent::Time(d) => Some(d.as_secs().max(1)),
                    Extent::Count(n) => Some(n),
                    Extent::Open => None,
                };
                let bar = ProgressBar::with_draw_target(length, target);
                let template = if length.is_some() {
                    "{spinner} {elapsed_precise} [{bar:24}] {msg}"
                } else {
                    "{spinner} {elapsed_precise} {msg}"
                };
                if let Ok(style) = ProgressStyle::with_template(template) {
                    bar.set_style(style.progress_chars("=> "));
                }
                Progress::Bar(bar, extent)
            }
        }
    }

    fn lines() -> Progress {
        Progress::Lines {
            every: LINE_EVERY,
            next: LINE_EVERY,
        }
    }

    /// Shows the state at `elapsed`.
    pub(crate) fn update(&mut self, elapsed: Duration, snapshot: &Snapshot) {
        match self {
            Progress::Bar(bar, extent) => {
                match extent {
                    Extent::Time(_) => bar.set_position(elapsed.as_secs()),
                    Extent::Count(_) => bar.set_position(snapshot.sent),
                    Extent::Open => bar.tick(),
                }
                bar.set_message(line(snapshot));
            }
            Progress::Lines { every, next } => {
                if elapsed >= *next {
                    eprintln!("{:>6}s  {}", elapsed.as_secs(), line(snapshot));
                    while *next <= elapsed {
                        *next += *every;
                    }
                }
            }
            Progress::Quiet => {}
        }
    }

    /// Clears the bar so the summary starts on a clean line.
    pub(crate) fn finish(&self) {
        if let Progress::Bar(bar, _) = self {
            bar.finish_and_clear();
        }
    }
}

/// `sent 1200  rps 100  p50 12.1ms  p99 40.3ms  errors 0  in-flight 3`.
pub(crate) fn line(s: &Snapshot) -> String {
    let mut out = format!("sent {}  rps {}", s.sent, s.last_second_rps);
    for (name, value) in [("p50", s.p50), ("p99", s.p99)] {
        match value {
            Some(d) => {
                let _ = write!(out, "  {name} {}", format_latency(d));
            }
            None => {
                let _ = write!(out, "  {name} -");
            }
        }
    }
    let _ = write!(out, "  errors {}  in-flight {}", s.errors, s.in_flight);
    out
}

/// Latency for people: `850µs`, `12.3ms`, `1.25s`.
pub(crate) fn format_latency(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1000 {
        format!("{us}µs")
    } else if us < 10_000 {
        format!("{:.2}ms", us as f64 / 1000.0)
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_read_naturally() {
        assert_eq!(format_latency(Duration::from_micros(850)), "850µs");
        assert_eq!(format_latency(Duration::from_micros(1234)), "1.23ms");
        assert_eq!(format_latency(Duration::from_micros(40_260)), "40.3ms");
        assert_eq!(format_latency(Duration::from_millis(1250)), "1.25s");
    }

    #[test]
    fn the_line_names_every_number() {
        let s = Snapshot {
            sent: 1200,
            completed: 1190,
            errors: 2,
            in_flight: 8,
            last_second_rps: 100,
            p50: Some(Duration::from_micros(12_100)),
            p99: None,
        };
        assert_eq!(
            line(&s),
            "sent 1200  rps 100  p50 12.1ms  p99 -  errors 2  in-flight 8"
        );
    }
}
