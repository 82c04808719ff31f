//! The `--timeline` CSV: one row per second, for plotting load next to `ebb get hpa -w` or the
//! Prometheus metrics.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::run::RunError;
use crate::schedule::Schedule;
use crate::stats::TimelineRow;

/// How many open-loop requests were due before a time, within the run's limits.
pub(crate) struct Intended {
    pub(crate) schedule: Arc<Schedule>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) max_requests: Option<u64>,
}

impl Intended {
    fn before(&self, t: Duration) -> u64 {
        let t = self.deadline.map_or(t, |d| t.min(d));
        let due = self.schedule.count_before(t);
        self.max_requests.map_or(due, |max| due.min(max))
    }
}

/// The `--timeline` CSV: one row per second, flushed as each second closes so it can be
/// followed with `tail -f`.
pub(crate) struct Timeline {
    out: Box<dyn Write + Send>,
    wall_start_ms: i64,
    intended: Option<Intended>,
}

impl Timeline {
    const HEADER: &'static str =
        "second,time,intended,sent,completed,errors,p50_ms,p90_ms,p99_ms,max_ms,in_flight";

    pub(crate) fn new(
        mut out: Box<dyn Write + Send>,
        wall_start: SystemTime,
        intended: Option<Intended>,
    ) -> Result<Timeline, RunError> {
        writeln!(out, "{}", Self::HEADER).map_err(RunError::Timeline)?;
        let wall_start_ms = wall_start
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Ok(Timeline {
            out,
            wall_start_ms,
            intended,
        })
    }

    pub(crate) fn write(&mut self, row: &TimelineRow) -> Result<(), RunError> {
        let ms = |d: Option<Duration>| {
            d.map_or(String::new(), |d| format!("{:.3}", d.as_secs_f64() * 1e3))
        };
        let intended = self.intended.as_ref().map_or(String::new(), |i| {
            let from = Duration::from_secs(row.second);
            (i.before(from + Duration::from_secs(1)) - i.before(from)).to_string()
        });
        let time = crate::civil::format_rfc3339_millis(
            self.wall_start_ms.saturating_add(
                i64::try_from(row.second)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1000),
            ),
        );
        writeln!(
            self.out,
            "{},{time},{intended},{},{},{},{},{},{},{},{}",
            row.second,
            row.sent,
            row.completed,
            row.errors,
            ms(row.p50),
            ms(row.p90),
            ms(row.p99),
            ms(row.max),
            row.in_flight
        )
        .and_then(|()| self.out.flush())
        .map_err(RunError::Timeline)
    }

    pub(crate) fn flush(&mut self) -> Result<(), RunError> {
        self.out.flush().map_err(RunError::Timeline)
    }
}
