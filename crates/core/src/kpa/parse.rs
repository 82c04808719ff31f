//! The Go parsers Knative reads its strings with (`strconv.ParseFloat`, `ParseInt`, `ParseBool`,
//! `time.ParseDuration`), so the same ConfigMap values and annotations are accepted here.
//!
//! One deliberate difference: `NaN` and infinities, which Go accepts as floats, are rejected,
//! because no autoscaling setting means anything with them.

use std::time::Duration;

use crate::units::duration::parse_signed_nanos;

/// Why a string is not the number it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NumError {
    /// Not a number at all.
    Syntax,
    /// A number, but outside the type's range (Go's `ErrRange`).
    Range,
}

/// Go's `strconv.ParseFloat(s, 64)`, finite values only.
pub(crate) fn float(s: &str) -> Result<f64, NumError> {
    // Rust accepts a few spellings Go does not ("infinity" is shared, "1_0" is not valid in
    // either); the only difference that matters is non-finite values, rejected below.
    let v: f64 = s.parse().map_err(|_| NumError::Syntax)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(NumError::Syntax)
    }
}

/// Go's `strconv.ParseInt(s, 10, 32)`.
pub(crate) fn int32(s: &str) -> Result<i32, NumError> {
    let v = int64(s)?;
    i32::try_from(v).map_err(|_| NumError::Range)
}

/// Go's `strconv.ParseInt(s, 10, 64)` (and `Atoi`).
pub(crate) fn int64(s: &str) -> Result<i64, NumError> {
    use std::num::IntErrorKind;
    s.parse::<i64>().map_err(|e| match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => NumError::Range,
        _ => NumError::Syntax,
    })
}

/// Go's `strconv.ParseBool`.
pub(crate) fn boolean(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `time.ParseDuration`, which accepts negative values (validation rejects them later).
pub(crate) fn signed_duration(s: &str) -> Option<SignedDuration> {
    parse_signed_nanos(s).ok().map(SignedDuration)
}

/// A Go duration, which may be negative, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SignedDuration(pub(crate) i64);

impl SignedDuration {
    pub(crate) fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The non-negative value as a `Duration` (negative values become zero).
    pub(crate) fn to_duration(self) -> Duration {
        Duration::from_nanos(u64::try_from(self.0).unwrap_or(0))
    }

    /// Go's `d.Truncate(time.Second) == d`.
    pub(crate) fn is_whole_seconds(self) -> bool {
        self.0 % 1_000_000_000 == 0
    }

    /// Go's `d.Round(time.Second) == d`: the same as whole seconds for every representable value.
    pub(crate) fn rounds_to_itself(self) -> bool {
        self.is_whole_seconds()
    }

    /// Go's `%v` of a `time.Duration`.
    pub(crate) fn go_string(self) -> String {
        crate::units::duration::format_signed_nanos(self.0)
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)` for ordinary magnitudes).
pub(crate) fn go_float(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e21 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// Go's `%f` of a float64: six decimals.
pub(crate) fn go_float_f(v: f64) -> String {
    format!("{v:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_parse_like_go_but_refuse_non_finite_values() {
        assert_eq!(float("0.7"), Ok(0.7));
        assert_eq!(float("70"), Ok(70.0));
        assert_eq!(float("-1"), Ok(-1.0));
        assert_eq!(float("1e3"), Ok(1000.0));
        assert_eq!(float(".5"), Ok(0.5));
        assert_eq!(float("abc"), Err(NumError::Syntax));
        assert_eq!(float(""), Err(NumError::Syntax));
        assert_eq!(float("NaN"), Err(NumError::Syntax));
        assert_eq!(float("+Inf"), Err(NumError::Syntax));
    }

    #[test]
    fn int32_distinguishes_syntax_from_range() {
        assert_eq!(int32("10"), Ok(10));
        assert_eq!(int32("+3"), Ok(3));
        assert_eq!(int32("-3"), Ok(-3));
        assert_eq!(int32("2147483647"), Ok(i32::MAX));
        assert_eq!(int32("2147483648"), Err(NumError::Range));
        assert_eq!(int32("99999999999999999999"), Err(NumError::Range));
        assert_eq!(int32("1.5"), Err(NumError::Syntax));
        assert_eq!(int32("ten"), Err(NumError::Syntax));
    }

    #[test]
    fn bools_take_go_spellings_only() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(boolean(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(boolean(f), Some(false), "{f}");
        }
        assert_eq!(boolean("yes"), None);
        assert_eq!(boolean("tRuE"), None);
    }

    #[test]
    fn durations_keep_their_sign_and_precision() {
        let d = signed_duration("-5s").unwrap();
        assert!(d.is_negative());
        assert_eq!(d.go_string(), "-5s");
        assert!(!signed_duration("1500ms").unwrap().is_whole_seconds());
        assert!(signed_duration("1m").unwrap().is_whole_seconds());
        assert_eq!(signed_duration("1h").unwrap().go_string(), "1h0m0s");
        assert_eq!(signed_duration("60"), None);
    }

    #[test]
    fn go_float_formatting() {
        assert_eq!(go_float(1000.0), "1000");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(0.01), "0.01");
        assert_eq!(go_float_f(0.7), "0.700000");
    }
}
