//! Open-loop arrival schedules: when request number `i` is meant to be sent.
//!
//! A schedule is either a rate plan (`100/s`, or steps `10/s:60s,100/s:60s`) or the offsets of
//! a recorded trace. Both answer the same two questions, so the generator does not care which
//! one it replays: [`Schedule::at`] (the intended send time of request `i`) and
//! [`Schedule::count_before`] (how many requests are due before a time).

use std::time::Duration;

use ebb_core::units::parse_duration;

/// A rate plan that cannot be used, with what would be valid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RateError {
    /// The text is not `NUMBER/UNIT`.
    #[error(
        "invalid rate {0:?}: write a number of requests per second, minute or hour, like 100/s, 600/m or 0.5/s"
    )]
    Invalid(String),
    /// A duration inside a step is not a Go duration.
    #[error("invalid duration in rate step {step:?}: {reason}")]
    Duration {
        /// The step as written.
        step: String,
        /// Why the duration was rejected.
        reason: String,
    },
    /// A step other than the last has no duration, so the steps after it could never run.
    #[error(
        "rate step {0:?} needs a duration (like {0}:60s): only the last step may run until --run-time"
    )]
    MissingDuration(String),
    /// Nothing to send.
    #[error("empty rate: write a rate like 100/s or steps like 10/s:60s,100/s:60s")]
    Empty,
}

/// One step of a rate plan: a constant rate, for a while.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateStep {
    /// Requests per second; zero is a pause.
    pub per_second: f64,
    /// How long the step lasts; `None` (last step only) runs until the run's own limit.
    pub duration: Option<Duration>,
}

/// Constant-rate steps, one after the other.
#[derive(Debug, Clone, PartialEq)]
pub struct RatePlan {
    steps: Vec<PlannedStep>,
}

#[derive(Debug, Clone, PartialEq)]
struct PlannedStep {
    step: RateStep,
    /// Offset from the start of the run where this step begins.
    start: Duration,
    /// Requests sent before this step.
    before: u64,
    /// Requests in this step; `None` when the step is open-ended.
    count: Option<u64>,
}

impl RatePlan {
    /// A plan from steps; every step but the last must have a duration.
    pub fn new(steps: Vec<RateStep>) -> Result<Self, RateError> {
        if steps.is_empty() {
            return Err(RateError::Empty);
        }
        let mut planned = Vec::with_capacity(steps.len());
        let (mut start, mut before) = (Duration::ZERO, 0u64);
        let last = steps.len() - 1;
        for (index, step) in steps.into_iter().enumerate() {
            if step.duration.is_none() && index != last {
                return Err(RateError::MissingDuration(format_rate(step.per_second)));
            }
            let count = step.duration.map(|d| requests_in(step.per_second, d));
            planned.push(PlannedStep {
                step,
                start,
                before,
                count,
            });
            start = start.saturating_add(step.duration.unwrap_or_default());
            before = before.saturating_add(count.unwrap_or_default());
        }
        Ok(RatePlan { steps: planned })
    }

    /// The steps, as given.
    pub fn steps(&self) -> impl Iterator<Item = RateStep> + '_ {
        self.steps.iter().map(|p| p.step)
    }

    fn at(&self, i: u64) -> Option<Duration> {
        let planned = self
            .steps
            .iter()
            .find(|p| p.count.is_none_or(|count| i < p.before + count))?;
        if planned.step.per_second <= 0.0 {
            return None; // an open-ended pause: nothing more is ever due
        }
        Some(
            planned
                .start
                .saturating_add(offset(planned.step.per_second, i - planned.before)),
        )
    }

    fn count_before(&self, t: Duration) -> u64 {
        let mut total = 0u64;
        for p in &self.steps {
            if t <= p.start {
                break;
            }
            let into = (t - p.start).min(p.step.duration.unwrap_or(Duration::MAX));
            let due = requests_in(p.step.per_second, into);
            total = total.saturating_add(p.count.map_or(due, |count| due.min(count)));
        }
        total
    }

    fn end(&self) -> Option<Duration> {
        let last = self.steps.last()?;
        last.step.duration.map(|d| last.start.saturating_add(d))
    }
}

/// Offset of the `j`-th request of a step at `per_second` (> 0) from the step's start.
fn offset(per_second: f64, j: u64) -> Duration {
    // A vanishingly small rate puts the request beyond any run: saturate instead of panicking.
    Duration::try_from_secs_f64(j as f64 / per_second).unwrap_or(Duration::MAX)
}

/// How many of the step's requests (at `0, 1/r, 2/r, ...`) fall strictly before `d`.
///
/// Computed through [`offset`] itself, so `count_before(at(i)) == i` holds despite rounding.
fn requests_in(per_second: f64, d: Duration) -> u64 {
    if per_second <= 0.0 {
        return 0;
    }
    let mut n = (per_second * d.as_secs_f64()).ceil().max(0.0) as u64;
    // The float estimate is off by at most one or two; correct it against the exact offsets.
    while n > 0 && offset(per_second, n - 1) >= d {
        n -= 1;
    }
    while offset(per_second, n) < d {
        n += 1;
    }
    n
}

/// Parses `100/s`, `600/m`, `2/h` or a bare number (per second).
pub fn parse_rate(text: &str) -> Result<f64, RateError> {
    let invalid = || RateError::Invalid(text.to_string());
    let (number, seconds) = match text.trim().split_once('/') {
        Some((n, unit)) => {
            let seconds = match unit.trim() {
                "s" | "sec" | "second" => 1.0,
                "m" | "min" | "minute" => 60.0,
                "h" | "hour" => 3600.0,
                _ => return Err(invalid()),
            };
            (n, seconds)
        }
        None => (text.trim(), 1.0),
    };
    let value: f64 = number.trim().parse().map_err(|_| invalid())?;
    if !value.is_finite() || value < 0.0 {
        return Err(invalid());
    }
    Ok(value / seconds)
}

/// Parses a rate plan: `100/s`, or comma-separated steps `RATE:DURATION` such as
/// `10/s:60s,100/s:60s,10/s:60s` (the last step may omit its duration).
pub fn parse_rate_plan(text: &str) -> Result<RatePlan, RateError> {
    let mut steps = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (rate, duration) = match part.split_once(':') {
            Some((rate, duration)) => {
                let duration =
                    parse_duration(duration.trim()).map_err(|e| RateError::Duration {
                        step: part.to_string(),
                        reason: e.to_string(),
                    })?;
                (rate, Some(duration))
            }
            None => (part, None),
        };
        steps.push(RateStep {
            per_second: parse_rate(rate)?,
            duration,
        });
    }
    RatePlan::new(steps)
}

/// `12.5/s`, trimming a useless fraction.
pub fn format_rate(per_second: f64) -> String {
    if per_second.fract() == 0.0 {
        format!("{per_second:.0}/s")
    } else {
        format!("{per_second}/s")
    }
}

/// When each open-loop request is meant to be sent, as offsets from the start of the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// A constant or stepped rate.
    Rate(RatePlan),
    /// Offsets from a trace, sorted, already scaled by the replay speed.
    Offsets(Vec<Duration>),
}

impl Schedule {
    /// The intended send time of request `i` (counting from 0); `None` once the schedule is over.
    pub fn at(&self, i: u64) -> Option<Duration> {
        match self {
            Schedule::Rate(plan) => plan.at(i),
            Schedule::Offsets(offsets) => offsets.get(usize::try_from(i).ok()?).copied(),
        }
    }

    /// How many requests are due strictly before `t`.
    pub fn count_before(&self, t: Duration) -> u64 {
        match self {
            Schedule::Rate(plan) => plan.count_before(t),
            Schedule::Offsets(offsets) => offsets.partition_point(|&o| o < t) as u64,
        }
    }

    /// When the schedule runs out by itself; `None` for an open-ended rate.
    pub fn end(&self) -> Option<Duration> {
        match self {
            Schedule::Rate(plan) => plan.end(),
            // The last request is due at the last offset; the schedule covers up to just after it.
            Schedule::Offsets(offsets) => Some(
                offsets
                    .last()
                    .map_or(Duration::ZERO, |&o| o + Duration::from_nanos(1)),
            ),
        }
    }

    /// Total requests the schedule holds, if finite.
    pub fn len(&self) -> Option<u64> {
        match self {
            Schedule::Rate(plan) => plan.end().map(|end| plan.count_before(end)),
            Schedule::Offsets(offsets) => Some(offsets.len() as u64),
        }
    }

    /// True when the schedule holds no request at all.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// For people: `1000/s`, `10/s for 1m0s, then 100/s for 1m0s`, `trace of 8819 requests`.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Rate(plan) => plan
                .steps()
                .map(|s| match s.duration {
                    Some(d) => format!(
                        "{} for {}",
                        format_rate(s.per_second),
                        ebb_core::units::format_duration(d)
                    ),
                    None => format_rate(s.per_second),
                })
                .collect::<Vec<_>>()
                .join(", then "),
            Schedule::Offsets(offsets) => format!("trace of {} requests", offsets.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn rates_in_every_unit() {
        assert_eq!(parse_rate("100/s"), Ok(100.0));
        assert_eq!(parse_rate("600/m"), Ok(10.0));
        assert_eq!(parse_rate("3600/h"), Ok(1.0));
        assert_eq!(parse_rate("0.5/s"), Ok(0.5));
        assert_eq!(parse_rate("250"), Ok(250.0));
        for bad in ["", "/s", "fast", "10/d", "-1/s", "NaN/s", "inf"] {
            assert!(parse_rate(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn constant_rate_is_evenly_spaced_and_open_ended() {
        let s = Schedule::Rate(parse_rate_plan("1000/s").unwrap());
        assert_eq!(s.at(0), Some(Duration::ZERO));
        assert_eq!(s.at(1), Some(Duration::from_millis(1)));
        assert_eq!(s.at(10_000), Some(Duration::from_secs(10)));
        assert_eq!(s.count_before(Duration::from_secs(10)), 10_000);
        assert_eq!(s.end(), None);
        assert_eq!(s.len(), None);
    }

    #[test]
    fn steps_follow_each_other() {
        let plan = parse_rate_plan("10/s:2s, 100/s:1s,10/s:2s").unwrap();
        let s = Schedule::Rate(plan);
        assert_eq!(s.len(), Some(20 + 100 + 20));
        assert_eq!(s.end(), Some(Duration::from_secs(5)));
        assert_eq!(s.at(19), Some(secs(1.9)));
        assert_eq!(s.at(20), Some(secs(2.0)));
        assert_eq!(s.at(21), Some(secs(2.01)));
        assert_eq!(s.at(120), Some(secs(3.0)));
        assert_eq!(s.at(139), Some(secs(4.9)));
        assert_eq!(s.at(140), None);
        assert_eq!(s.count_before(secs(2.5)), 20 + 50);
        assert_eq!(s.count_before(secs(60.0)), 140);
    }

    #[test]
    fn a_zero_rate_step_is_a_pause() {
        let s = Schedule::Rate(parse_rate_plan("10/s:1s,0/s:5s,10/s:1s").unwrap());
        assert_eq!(s.at(9), Some(secs(0.9)));
        assert_eq!(s.at(10), Some(secs(6.0)));
        assert_eq!(s.count_before(secs(5.9)), 10);
        assert_eq!(s.len(), Some(20));
    }

    #[test]
    fn count_before_agrees_with_at() {
        let s = Schedule::Rate(parse_rate_plan("7/s:3s,33/s:2s,0/s:1s,3/s").unwrap());
        for i in 0..200u64 {
            let t = s.at(i).unwrap();
            assert_eq!(s.count_before(t), i, "request {i} at {t:?}");
        }
    }

    #[test]
    fn bad_plans_say_what_is_valid() {
        let e = parse_rate_plan("10/s,100/s:60s").unwrap_err();
        assert!(e.to_string().contains("needs a duration"), "{e}");
        let e = parse_rate_plan("10/s:forever").unwrap_err();
        assert!(e.to_string().contains("forever"), "{e}");
        assert_eq!(parse_rate_plan(" , "), Err(RateError::Empty));
    }

    #[test]
    fn trace_offsets_are_a_schedule() {
        let s = Schedule::Offsets(vec![secs(0.0), secs(0.5), secs(0.5), secs(2.0)]);
        assert_eq!(s.at(2), Some(secs(0.5)));
        assert_eq!(s.at(4), None);
        assert_eq!(s.count_before(secs(0.5)), 1);
        assert_eq!(s.count_before(secs(0.6)), 3);
        assert_eq!(s.len(), Some(4));
        assert!(s.end().unwrap() > secs(2.0));
    }

    #[test]
    fn descriptions_read_like_the_input() {
        let s = Schedule::Rate(parse_rate_plan("10/s:60s,100/s").unwrap());
        assert_eq!(s.describe(), "10/s for 1m0s, then 100/s");
    }
}
