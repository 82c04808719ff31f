//! One time cell → nanoseconds, by the kind of column it is in.

use crate::civil::days_from_civil;

/// How a time column is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// A headed column in seconds (`12.5`) or wall-clock dates (`2023-11-16 18:17:03.97`).
    Seconds,
    /// A headed column in milliseconds (`3536`).
    Millis,
    /// A line of a headerless trace: seconds (`12.5`) or a Go duration (`1500ms`, `2m3s`).
    Plain,
}

/// A time read from a cell, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Time {
    /// From the trace's own start.
    Offset(i128),
    /// Since the Unix epoch (the zone is unknown: only differences mean anything).
    Wall(i128),
}

/// The time column: where it is, its name as written, and how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimeColumn {
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) unit: Unit,
}

impl TimeColumn {
    /// Reads `cell`; `dates` says whether the column has held dates so far (None: no row yet),
    /// so that a bad cell in a column of dates is told a date is expected.
    pub(crate) fn read(&self, cell: &str, dates: Option<bool>) -> Result<Time, String> {
        let number = cell.parse::<f64>().ok();
        let non_negative = number.filter(|v| v.is_finite() && *v >= 0.0);
        match self.unit {
            Unit::Millis => match (number, non_negative) {
                (_, Some(ms)) => Ok(Time::Offset(scaled(ms, 1e6))),
                (Some(_), None) => Err(format!(
                    "invalid {} {cell:?}: expected non-negative milliseconds",
                    self.name
                )),
                (None, _) => Err(format!(
                    "invalid {} {cell:?}: expected milliseconds like 3536",
                    self.name
                )),
            },
            Unit::Plain => match non_negative {
                Some(seconds) => Ok(Time::Offset(scaled(seconds, 1e9))),
                None => plain_duration(cell).map(Time::Offset).ok_or_else(|| {
                    format!(
                        "invalid timestamp {cell:?}: expected seconds (12.5) or a duration (1500ms, 2m3s)"
                    )
                }),
            },
            Unit::Seconds => match (number, non_negative) {
                (_, Some(seconds)) => Ok(Time::Offset(scaled(seconds, 1e9))),
                (Some(_), None) => Err(format!("time {cell:?} must be a number ≥ 0")),
                (None, _) => match wall_clock_nanos(cell) {
                    Some(ns) => Ok(Time::Wall(ns)),
                    None if dates == Some(true) => Err(format!(
                        "invalid {} {cell:?}: expected YYYY-MM-DD HH:MM:SS.fffffff",
                        self.name
                    )),
                    None => Err(format!(
                        "invalid time {cell:?}: expected seconds (12.5), or a date and time like 2023-11-16 18:17:03.97"
                    )),
                },
            },
        }
    }
}

/// Whether `cell` reads as a line of a headerless trace (so the first line is no header).
pub(crate) fn is_plain_time(cell: &str) -> bool {
    cell.parse::<f64>().is_ok() || plain_duration(cell).is_some()
}

fn scaled(value: f64, per_unit: f64) -> i128 {
    (value * per_unit).round() as i128
}

fn plain_duration(cell: &str) -> Option<i128> {
    ebb_core::units::parse_duration(cell)
        .ok()
        .map(|d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// `YYYY-MM-DD HH:MM:SS[.fffffffff][Z]` (or with `T`) → nanoseconds since 1970 as if UTC.
/// Fraction digits past the ninth are below resolution and dropped.
pub(crate) fn wall_clock_nanos(text: &str) -> Option<i128> {
    let (date, time) = text.split_once([' ', 'T'])?;
    let mut d = date.split('-').map(|p| p.parse::<u32>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    if d.next().is_some() || year > 9999 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let time = time.strip_suffix('Z').unwrap_or(time);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.split(':').map(|p| p.parse::<u32>().ok());
    let (hours, minutes, seconds) = (t.next()??, t.next()??, t.next()??);
    if t.next().is_some() || hours > 23 || minutes > 59 || seconds > 60 {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction_nanos = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0i128, |acc, b| acc * 10 + i128::from(b - b'0'));
    let days = i128::from(days_from_civil(i64::from(year), month, day));
    let secs = days * 86_400 + i128::from(hours * 3600 + minutes * 60 + seconds);
    Some(secs * 1_000_000_000 + fraction_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_of_a_known_date() {
        // (days_from_civil's own known dates are checked in crate::civil.)
        assert_eq!(
            wall_clock_nanos("2023-11-16 18:17:03"),
            Some(1_700_158_623_000_000_000)
        );
        assert_eq!(wall_clock_nanos("2023-13-16 18:17:03"), None);
    }

    #[test]
    fn wall_clock_variants() {
        let base = 1_700_158_623_000_000_000;
        assert_eq!(
            wall_clock_nanos("2023-11-16T18:17:03.97Z"),
            Some(base + 970_000_000)
        );
        assert_eq!(
            wall_clock_nanos("2023-11-16 18:17:03.1234567891"),
            Some(base + 123_456_789)
        );
        for bad in [
            "2023-11-16",
            "2023-11-16 18:17",
            "2023-11-16 24:00:00",
            "2023-11-16 18:17:03.9a",
            "2023-11-16-1 18:17:03",
            "2023-00-16 18:17:03",
        ] {
            assert_eq!(wall_clock_nanos(bad), None, "{bad}");
        }
    }
}
