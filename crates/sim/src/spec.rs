//! The small text language of the simulator's flags: `kind:key=value,key=value`, as in
//! `poisson:rate=20`, `lognormal:mean=200ms,p99=1s` or `tokens:a=20,b=0.05,c=15`.
//!
//! A kind that has one obvious parameter also takes it bare (`exp:200ms`, `poisson:20`), and a
//! bare duration means a constant (`200ms`).

use std::collections::BTreeMap;
use std::time::Duration;

use ebb_core::units::duration::parse_duration;

/// Why a flag value was rejected. The message says what would be valid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct SpecError {
    /// Which flag value (`service time`, `arrivals`, ...).
    pub what: &'static str,
    /// The text as given.
    pub input: String,
    /// What is wrong, and what is allowed.
    pub reason: String,
}

/// A parsed `kind:key=value,...` text.
#[derive(Debug, Clone)]
pub(crate) struct KindArgs<'a> {
    what: &'static str,
    input: &'a str,
    /// The part before `:`.
    pub(crate) kind: &'a str,
    /// A value without a key (`exp:200ms`).
    bare: Option<&'a str>,
    args: BTreeMap<&'a str, &'a str>,
}

impl<'a> KindArgs<'a> {
    /// Splits `input`; `what` names the flag in errors.
    pub(crate) fn parse(what: &'static str, input: &'a str) -> Result<Self, SpecError> {
        let input = input.trim();
        let (kind, rest) = input.split_once(':').unwrap_or((input, ""));
        let mut parsed = KindArgs {
            what,
            input,
            kind: kind.trim(),
            bare: None,
            args: BTreeMap::new(),
        };
        for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((k, v)) => {
                    if parsed.args.insert(k.trim(), v.trim()).is_some() {
                        return Err(parsed.error(format!("`{}` is given twice", k.trim())));
                    }
                }
                None if parsed.bare.is_none() && parsed.args.is_empty() => parsed.bare = Some(part),
                None => {
                    return Err(parsed.error(format!("expected key=value, found {part:?}")));
                }
            }
        }
        Ok(parsed)
    }

    pub(crate) fn error(&self, reason: impl Into<String>) -> SpecError {
        SpecError {
            what: self.what,
            input: self.input.to_string(),
            reason: reason.into(),
        }
    }

    /// Rejects keys other than `allowed`, naming the allowed ones.
    pub(crate) fn only(&self, allowed: &[&str]) -> Result<(), SpecError> {
        if let Some(k) = self.args.keys().find(|k| !allowed.contains(k)) {
            return Err(self.error(format!(
                "unknown key `{k}` for {}; it takes {}",
                self.kind,
                allowed.join(", ")
            )));
        }
        Ok(())
    }

    /// The value of `key`, or the bare value when `key` is the kind's main parameter.
    fn raw(&self, key: &str, main: bool) -> Option<&'a str> {
        self.args
            .get(key)
            .copied()
            .or(if main { self.bare } else { None })
    }

    fn missing(&self, key: &str) -> SpecError {
        self.error(format!("{} needs `{key}=`", self.kind))
    }

    /// A duration parameter (`30s`, `1.5m`, `200ms`).
    pub(crate) fn duration(&self, key: &str, main: bool) -> Result<Option<Duration>, SpecError> {
        self.raw(key, main)
            .map(|v| parse_duration(v).map_err(|e| self.error(format!("`{key}`: {e}"))))
            .transpose()
    }

    /// A required duration parameter.
    pub(crate) fn need_duration(&self, key: &str, main: bool) -> Result<Duration, SpecError> {
        self.duration(key, main)?.ok_or_else(|| self.missing(key))
    }

    /// A number parameter; must be finite and at least `min`.
    pub(crate) fn number(&self, key: &str, main: bool, min: f64) -> Result<Option<f64>, SpecError> {
        self.raw(key, main)
            .map(|v| {
                let n: f64 = v
                    .parse()
                    .map_err(|_| self.error(format!("`{key}` must be a number, got {v:?}")))?;
                if !n.is_finite() || n < min {
                    return Err(self.error(format!("`{key}` must be at least {min}, got {v}")));
                }
                Ok(n)
            })
            .transpose()
    }

    /// A required number parameter.
    pub(crate) fn need_number(&self, key: &str, main: bool, min: f64) -> Result<f64, SpecError> {
        self.number(key, main, min)?
            .ok_or_else(|| self.missing(key))
    }
}

/// Nanoseconds of a duration, saturating.
pub(crate) fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_with_keys_and_bare_values() {
        let k = KindArgs::parse("x", "lognormal:mean=200ms, p99=1s").unwrap();
        assert_eq!(k.kind, "lognormal");
        assert_eq!(
            k.need_duration("mean", true).unwrap(),
            Duration::from_millis(200)
        );
        assert_eq!(
            k.need_duration("p99", false).unwrap(),
            Duration::from_secs(1)
        );
        let k = KindArgs::parse("x", "exp:250ms").unwrap();
        assert_eq!(
            k.need_duration("mean", true).unwrap(),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let e = KindArgs::parse("arrivals", "poisson:rate=a")
            .unwrap()
            .need_number("rate", true, 0.0)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid arrivals \"poisson:rate=a\": `rate` must be a number, got \"a\""
        );
        let e = KindArgs::parse("arrivals", "poisson:rate=1,rate=2").unwrap_err();
        assert!(e.reason.contains("twice"), "{e}");
        let k = KindArgs::parse("arrivals", "poisson:rat=1").unwrap();
        let e = k.only(&["rate"]).unwrap_err();
        assert!(e.reason.contains("unknown key `rat`"), "{e}");
        let e = k.need_number("rate", true, 0.0).unwrap_err();
        assert!(e.reason.contains("needs `rate=`"), "{e}");
    }
}
