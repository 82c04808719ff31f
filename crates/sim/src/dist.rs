//! Distributions of durations: service times and cold starts.
//!
//! `200ms` or `const:200ms`, `exp:mean=200ms`, `lognormal:mean=200ms,p99=1s`,
//! `uniform:min=10s,max=40s`. A lognormal is given by its mean and 99th percentile because
//! those are the two numbers people know about their service.

use std::fmt;

use rand::Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};

use crate::spec::{KindArgs, SpecError, nanos};

/// The 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_347_874_040_840_8;

/// A distribution of durations, sampled in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    /// Always the same.
    Const {
        /// The duration, ns.
        ns: i64,
    },
    /// Exponential with this mean.
    Exp {
        /// Mean, ns.
        mean_ns: f64,
    },
    /// Lognormal: `exp(mu + sigma·N(0,1))` ns.
    LogNormal {
        /// Mean of the logarithm (of nanoseconds).
        mu: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
    /// Uniform between two bounds.
    Uniform {
        /// Lower bound, ns.
        min_ns: i64,
        /// Upper bound, ns.
        max_ns: i64,
    },
}

const FORMS: &str = "use 200ms, const:200ms, exp:mean=200ms, lognormal:mean=200ms,p99=1s or uniform:min=10s,max=40s";

impl Dist {
    /// Parses a distribution; `what` names the flag in errors.
    pub fn parse(what: &'static str, text: &str) -> Result<Dist, SpecError> {
        let k = KindArgs::parse(what, text)?;
        let dist = match k.kind {
            "const" => {
                k.only(&["value"])?;
                Dist::Const {
                    ns: nanos(k.need_duration("value", true)?),
                }
            }
            "exp" => {
                k.only(&["mean"])?;
                let mean = k.need_duration("mean", true)?;
                if mean.is_zero() {
                    return Err(k.error("the mean must be greater than 0"));
                }
                Dist::Exp {
                    mean_ns: nanos(mean) as f64,
                }
            }
            "lognormal" => {
                k.only(&["mean", "p99"])?;
                let mean = nanos(k.need_duration("mean", true)?) as f64;
                let p99 = nanos(k.need_duration("p99", false)?) as f64;
                Dist::lognormal(mean, p99).map_err(|reason| k.error(reason))?
            }
            "uniform" => {
                k.only(&["min", "max"])?;
                let min = nanos(k.need_duration("min", false)?);
                let max = nanos(k.need_duration("max", false)?);
                if max < min {
                    return Err(k.error("max must not be below min"));
                }
                Dist::Uniform {
                    min_ns: min,
                    max_ns: max,
                }
            }
            bare if !text.contains(':') => match ebb_core::units::duration::parse_duration(bare) {
                Ok(d) => Dist::Const { ns: nanos(d) },
                Err(e) => return Err(k.error(format!("{e}; {FORMS}"))),
            },
            other => return Err(k.error(format!("unknown distribution `{other}`; {FORMS}"))),
        };
        Ok(dist)
    }

    /// The lognormal with this mean and 99th percentile (both in ns).
    pub fn lognormal(mean: f64, p99: f64) -> Result<Dist, String> {
        if mean <= 0.0 || p99 <= mean {
            return Err("a lognormal needs 0 < mean < p99".into());
        }
        // p99 / mean = exp(z·σ − σ²/2): solve for the smaller σ.
        let d = (p99 / mean).ln();
        let disc = Z99 * Z99 - 2.0 * d;
        if disc < 0.0 {
            let limit = (Z99 * Z99 / 2.0).exp();
            return Err(format!(
                "no lognormal has p99 more than {limit:.1} × its mean; lower p99 or raise the mean"
            ));
        }
        let sigma = Z99 - disc.sqrt();
        Ok(Dist::LogNormal {
            mu: mean.ln() - sigma * sigma / 2.0,
            sigma,
        })
    }

    /// One sample, in nanoseconds (never negative).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        match *self {
            Dist::Const { ns } => ns,
            Dist::Exp { mean_ns } => {
                let e: f64 = Exp1.sample(rng);
                (e * mean_ns) as i64
            }
            Dist::LogNormal { mu, sigma } => {
                let n: f64 = StandardNormal.sample(rng);
                (mu + sigma * n).exp().min(i64::MAX as f64) as i64
            }
            Dist::Uniform { min_ns, max_ns } => {
                if max_ns == min_ns {
                    min_ns
                } else {
                    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    min_ns + ((max_ns - min_ns) as f64 * u) as i64
                }
            }
        }
    }

    /// The mean, in seconds.
    pub fn mean_secs(&self) -> f64 {
        match *self {
            Dist::Const { ns } => ns as f64 / 1e9,
            Dist::Exp { mean_ns } => mean_ns / 1e9,
            Dist::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp() / 1e9,
            Dist::Uniform { min_ns, max_ns } => (min_ns as f64 + max_ns as f64) / 2e9,
        }
    }
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |ns: f64| format_secs(ns / 1e9);
        match *self {
            Dist::Const { ns } => write!(f, "{}", ms(ns as f64)),
            Dist::Exp { mean_ns } => write!(f, "exp:mean={}", ms(mean_ns)),
            Dist::LogNormal { mu, sigma } => write!(
                f,
                "lognormal:mean={},p99={}",
                ms((mu + sigma * sigma / 2.0).exp()),
                ms((mu + Z99 * sigma).exp())
            ),
            Dist::Uniform { min_ns, max_ns } => write!(
                f,
                "uniform:min={},max={}",
                ms(min_ns as f64),
                ms(max_ns as f64)
            ),
        }
    }
}

/// `0.25` → `250ms`, `90` → `1m30s`: short, for tables and labels.
pub fn format_secs(s: f64) -> String {
    if !s.is_finite() {
        return "-".into();
    }
    if s * 1e6 < 999.5 {
        format!("{:.0}µs", s * 1e6)
    } else if s * 1e3 < 999.5 {
        let ms = s * 1e3;
        if ms < 10.0 {
            format!("{ms:.1}ms")
        } else {
            format!("{ms:.0}ms")
        }
    } else if s < 59.995 {
        let t = format!("{s:.2}");
        format!("{}s", t.trim_end_matches('0').trim_end_matches('.'))
    } else if s < 3599.5 {
        let total = s.round() as u64;
        let (m, rest) = (total / 60, total % 60);
        if rest == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{rest}s")
        }
    } else {
        let total = (s / 60.0).round() as u64;
        format!("{}h{}m", total / 60, total % 60)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    use super::*;

    fn moments(d: &Dist, n: usize) -> (f64, f64) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut v: Vec<f64> = (0..n).map(|_| d.sample(&mut rng) as f64).collect();
        let mean = v.iter().sum::<f64>() / n as f64;
        v.sort_by(f64::total_cmp);
        (mean, v[n * 99 / 100])
    }

    #[test]
    fn lognormal_has_the_mean_and_p99_it_was_given() {
        let d = Dist::parse("service time", "lognormal:mean=200ms,p99=1s").unwrap();
        let (mean, p99) = moments(&d, 400_000);
        assert!((mean / 200e6 - 1.0).abs() < 0.01, "mean {mean}");
        assert!((p99 / 1e9 - 1.0).abs() < 0.02, "p99 {p99}");
        assert!((d.mean_secs() - 0.2).abs() < 1e-9);
        assert_eq!(d.to_string(), "lognormal:mean=200ms,p99=1s");
    }

    #[test]
    fn exponential_mean() {
        let d = Dist::parse("service time", "exp:mean=50ms").unwrap();
        let (mean, p99) = moments(&d, 400_000);
        assert!((mean / 50e6 - 1.0).abs() < 0.01, "mean {mean}");
        // p99 of an exponential is ln(100) × mean.
        assert!((p99 / (50e6 * 100f64.ln()) - 1.0).abs() < 0.03, "p99 {p99}");
    }

    #[test]
    fn constants_and_uniform() {
        assert_eq!(
            Dist::parse("x", "250ms").unwrap(),
            Dist::Const { ns: 250_000_000 }
        );
        assert_eq!(
            Dist::parse("x", "const:1s").unwrap(),
            Dist::Const { ns: 1_000_000_000 }
        );
        let d = Dist::parse("x", "uniform:min=10s,max=20s").unwrap();
        let (mean, _) = moments(&d, 100_000);
        assert!((mean / 15e9 - 1.0).abs() < 0.01);
    }

    #[test]
    fn impossible_lognormals_are_rejected_with_the_reason() {
        let e = Dist::parse("x", "lognormal:mean=1s,p99=500ms").unwrap_err();
        assert!(e.reason.contains("0 < mean < p99"), "{e}");
        let e = Dist::parse("x", "lognormal:mean=1s,p99=1m").unwrap_err();
        assert!(
            e.reason.contains("no lognormal has p99 more than 15.0"),
            "{e}"
        );
        let e = Dist::parse("x", "gamma:1s").unwrap_err();
        assert!(e.reason.contains("unknown distribution `gamma`"), "{e}");
        let e = Dist::parse("x", "fast").unwrap_err();
        assert!(e.reason.contains("exp:mean=200ms"), "{e}");
    }

    #[test]
    fn short_durations() {
        assert_eq!(format_secs(0.25), "250ms");
        assert_eq!(format_secs(0.0042), "4.2ms");
        assert_eq!(format_secs(1.5), "1.5s");
        assert_eq!(format_secs(90.0), "1m30s");
        assert_eq!(format_secs(7200.0), "2h0m");
        assert_eq!(format_secs(59.999_999), "1m");
        assert_eq!(format_secs(3599.9), "1h0m");
    }
}
