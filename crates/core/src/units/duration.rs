//! Go's `time.ParseDuration` and `Duration.String()`, which Kubernetes and Knative use for every
//! duration field and annotation (`30s`, `5m`, `1h30m`, `500ms`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Empty string or no number where one was expected.
    #[error(
        "invalid duration {0:?}: expected a number followed by a unit (ns, us, ms, s, m, h), like 30s or 1m30s"
    )]
    Invalid(String),
    /// A number without a unit (other than "0").
    #[error("missing unit in duration {0:?}: write 30s, 5m or 1h")]
    MissingUnit(String),
    /// A unit we do not know.
    #[error("unknown unit {unit:?} in duration {input:?}: use ns, us, ms, s, m or h")]
    UnknownUnit {
        /// The offending unit.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// Negative where only non-negative durations make sense.
    #[error("duration {0:?} is negative")]
    Negative(String),
    /// Larger than about 292 years.
    #[error("duration {0:?} is too large")]
    Overflow(String),
}

/// Parses a Go duration string into signed nanoseconds (`-1.5h`, `300ms`, `2h45m`, `0`).
pub fn parse_signed_nanos(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(input.to_string());
    let mut s = input;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !s.is_empty() {
        // The number: digits, optionally a fraction.
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &s[..int_len];
        s = &s[int_len..];
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &rest[..frac_len];
            s = &rest[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        // The unit: everything up to the next digit or dot.
        let unit_len = s
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(s.len(), |(i, _)| i);
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(DurationError::MissingUnit(input.to_string())),
            other => {
                return Err(DurationError::UnknownUnit {
                    unit: other.to_string(),
                    input: input.to_string(),
                });
            }
        };
        let overflow = || DurationError::Overflow(input.to_string());
        let int: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| overflow())?
        };
        let mut value = int.checked_mul(scale).ok_or_else(overflow)?;
        // Fractions are exact to the nanosecond; digits beyond that are dropped, as in Go.
        let mut frac_scale = scale;
        for digit in frac_part.bytes() {
            frac_scale /= 10;
            if frac_scale == 0 {
                break;
            }
            value += i128::from(digit - b'0') * frac_scale;
        }
        total = total.checked_add(value).ok_or_else(overflow)?;
        if total > i128::from(i64::MAX) {
            return Err(overflow());
        }
    }
    let total = if negative { -total } else { total };
    i64::try_from(total).map_err(|_| DurationError::Overflow(input.to_string()))
}

/// Parses a non-negative Go duration string (`30s`, `5m`, `1h30m`, `500ms`).
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let nanos = parse_signed_nanos(input)?;
    if nanos < 0 {
        return Err(DurationError::Negative(input.to_string()));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Formats like Go's `Duration.String()`: `0s`, `500ms`, `1.5s`, `5m0s`, `1h0m0s`.
pub fn format_duration(d: Duration) -> String {
    format_signed_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Formats signed nanoseconds like Go's `Duration.String()`.
pub fn format_signed_nanos(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u < 1_000_000_000 {
        // Sub-second values use the largest unit that keeps an integer part.
        let (unit, scale) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", fixed(u, scale));
    }
    let hours = u / 3_600_000_000_000;
    let rem = u % 3_600_000_000_000;
    let minutes = rem / 60_000_000_000;
    let secs_nanos = rem % 60_000_000_000;
    let secs = fixed(secs_nanos, 1_000_000_000);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{secs}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{secs}s")
    } else {
        format!("{sign}{secs}s")
    }
}

/// `value / scale` printed with the shortest exact decimal fraction.
fn fixed(value: u64, scale: u64) -> String {
    let int = value / scale;
    let mut frac = value % scale;
    if frac == 0 {
        return int.to_string();
    }
    let mut digits = String::new();
    let mut s = scale;
    while frac > 0 && s > 1 {
        s /= 10;
        digits.push(char::from(b'0' + (frac / s) as u8));
        frac %= s;
    }
    format!("{int}.{digits}")
}

/// A duration written the Kubernetes way in YAML/JSON: a Go duration string (`"30s"`) or a
/// plain number of seconds (`30`, `0.5`). Serializes back as a Go duration string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct KubeDuration(pub Duration);

impl KubeDuration {
    /// `secs` whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        KubeDuration(Duration::from_secs(secs))
    }
}

impl From<Duration> for KubeDuration {
    fn from(d: Duration) -> Self {
        KubeDuration(d)
    }
}

impl From<KubeDuration> for Duration {
    fn from(d: KubeDuration) -> Self {
        d.0
    }
}

impl fmt::Debug for KubeDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl fmt::Display for KubeDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// Durations are written as strings (`30s`, `5m`) or whole seconds; the schema accepts both, as
/// the deserializer does.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for KubeDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "KubeDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration like 30s, 5m or 1h30m, or a number of seconds.",
            "x-kubernetes-int-or-string": true
        })
    }
}

impl Serialize for KubeDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for KubeDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = KubeDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like \"30s\", \"5m\", \"1h30m\" or a number of seconds")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KubeDuration, E> {
                parse_duration(v).map(KubeDuration).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<KubeDuration, E> {
                Ok(KubeDuration(Duration::from_secs(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<KubeDuration, E> {
                u64::try_from(v)
                    .map(|s| KubeDuration(Duration::from_secs(s)))
                    .map_err(|_| E::custom(format!("duration {v} is negative")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<KubeDuration, E> {
                Duration::try_from_secs_f64(v)
                    .map(KubeDuration)
                    .map_err(|_| E::custom(format!("duration {v} is negative or too large")))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `#[serde(with = "ebb_core::units::duration::as_kube")]` for `std::time::Duration` fields
/// written the Kubernetes way (`"30s"` or a number of seconds).
pub mod as_kube {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::KubeDuration;

    /// Serializes as a Go duration string.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        KubeDuration(*d).serialize(s)
    }

    /// Deserializes from a Go duration string or a number of seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        KubeDuration::deserialize(d).map(|k| k.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_kubernetes_users_write() {
        let cases = [
            ("0", 0),
            ("30s", 30_000_000_000),
            ("5m", 300_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("500ms", 500_000_000),
            ("2h45m10.5s", 9_910_500_000_000),
            ("100us", 100_000),
            ("100µs", 100_000),
            ("7ns", 7),
            ("-1.5s", -1_500_000_000),
            (".5s", 500_000_000),
        ];
        for (input, nanos) in cases {
            assert_eq!(parse_signed_nanos(input), Ok(nanos), "{input}");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert!(matches!(parse_duration(""), Err(DurationError::Invalid(_))));
        assert!(matches!(
            parse_duration("30"),
            Err(DurationError::MissingUnit(_))
        ));
        assert!(matches!(
            parse_duration("30x"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("s"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("-5s"),
            Err(DurationError::Negative(_))
        ));
        assert!(matches!(
            parse_duration("99999999999h"),
            Err(DurationError::Overflow(_))
        ));
    }

    #[test]
    fn formats_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (500_000_000, "500ms"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (300_000_000_000, "5m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (5_430_500_000_000, "1h30m30.5s"),
            (-2_000_000_000, "-2s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format_signed_nanos(nanos), text);
        }
    }

    #[test]
    fn kube_duration_accepts_strings_and_numbers() {
        let d: KubeDuration = serde_json::from_str("\"1m30s\"").unwrap();
        assert_eq!(d.0, Duration::from_secs(90));
        let d: KubeDuration = serde_json::from_str("45").unwrap();
        assert_eq!(d.0, Duration::from_secs(45));
        let d: KubeDuration = serde_json::from_str("0.25").unwrap();
        assert_eq!(d.0, Duration::from_millis(250));
        assert!(serde_json::from_str::<KubeDuration>("-3").is_err());
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"250ms\"");
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_round_trips(nanos in -10_i64.pow(15)..10_i64.pow(15)) {
            proptest::prop_assert_eq!(parse_signed_nanos(&format_signed_nanos(nanos)), Ok(nanos));
        }
    }
}
