//! Where requests come from: a recorded trace, or a seeded generator.
//!
//! Generators are Poisson processes whose rate follows a shape over time:
//!
//! | spec | rate (requests per second) |
//! |---|---|
//! | `poisson:rate=20` | constant |
//! | `step:from=5,to=50,at=10m` | `from` until `at`, then `to` |
//! | `spike:base=5,peak=100,at=20m,for=30s` | `peak` during `[at, at+for)`, else `base` |
//! | `sine:mean=20,amplitude=15,period=24h` | `mean − amplitude·cos(2πt/period)`: a diurnal cycle that starts at its trough |
//! | `onoff:rate=50,on=30s,off=90s[,base=0]` | `rate` for `on`, then `base` for `off`, repeating |
//!
//! Piecewise-constant shapes are generated exactly (the exponential gap restarts at each change
//! of rate, which memorylessness allows); the sine by thinning.

use std::f64::consts::TAU;

use rand::Rng;
use rand_distr::{Distribution, Exp1};

use crate::spec::{KindArgs, SpecError};

/// A rate shape for generated arrivals. Times are seconds from the start.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrivalSpec {
    /// Constant rate.
    Poisson {
        /// Requests per second.
        rate: f64,
    },
    /// One change of rate.
    Step {
        /// Rate before `at`.
        from: f64,
        /// Rate from `at` on.
        to: f64,
        /// When the rate changes, s.
        at: f64,
    },
    /// A burst on a base load.
    Spike {
        /// Rate outside the spike.
        base: f64,
        /// Rate during the spike.
        peak: f64,
        /// Spike start, s.
        at: f64,
        /// Spike length, s.
        length: f64,
    },
    /// A diurnal cycle.
    Sine {
        /// Mean rate.
        mean: f64,
        /// Half the peak-to-trough swing (at most `mean`).
        amplitude: f64,
        /// Cycle length, s.
        period: f64,
    },
    /// Bursts separated by quiet periods.
    OnOff {
        /// Rate while on.
        rate: f64,
        /// Rate while off.
        base: f64,
        /// On length, s.
        on: f64,
        /// Off length, s.
        off: f64,
    },
    /// A rate per interval, read from a file: `(start s, rate)` in time order.
    Rates(Vec<(f64, f64)>),
}

const FORMS: &str = "use poisson:rate=20, step:from=5,to=50,at=10m, spike:base=5,peak=100,at=20m,for=30s, sine:mean=20,amplitude=15,period=24h or onoff:rate=50,on=30s,off=90s";

impl ArrivalSpec {
    /// Parses `--arrivals`.
    pub fn parse(text: &str) -> Result<ArrivalSpec, SpecError> {
        let k = KindArgs::parse("arrivals", text)?;
        let secs = |key: &str| -> Result<f64, SpecError> {
            Ok(k.need_duration(key, false)?.as_secs_f64())
        };
        let spec = match k.kind {
            "poisson" => {
                k.only(&["rate"])?;
                ArrivalSpec::Poisson {
                    rate: k.need_number("rate", true, 0.0)?,
                }
            }
            "step" => {
                k.only(&["from", "to", "at"])?;
                ArrivalSpec::Step {
                    from: k.need_number("from", false, 0.0)?,
                    to: k.need_number("to", false, 0.0)?,
                    at: secs("at")?,
                }
            }
            "spike" => {
                k.only(&["base", "peak", "at", "for"])?;
                ArrivalSpec::Spike {
                    base: k.need_number("base", false, 0.0)?,
                    peak: k.need_number("peak", false, 0.0)?,
                    at: secs("at")?,
                    length: secs("for")?,
                }
            }
            "sine" => {
                k.only(&["mean", "amplitude", "period"])?;
                let mean = k.need_number("mean", false, 0.0)?;
                let amplitude = k.need_number("amplitude", false, 0.0)?;
                if amplitude > mean {
                    return Err(
                        k.error("amplitude must not exceed mean (a rate cannot go below 0)")
                    );
                }
                let period = secs("period")?;
                if period <= 0.0 {
                    return Err(k.error("period must be greater than 0"));
                }
                ArrivalSpec::Sine {
                    mean,
                    amplitude,
                    period,
                }
            }
            "onoff" => {
                k.only(&["rate", "base", "on", "off"])?;
                let on = secs("on")?;
                let off = secs("off")?;
                if on + off <= 0.0 {
                    return Err(k.error("on + off must be greater than 0"));
                }
                ArrivalSpec::OnOff {
                    rate: k.need_number("rate", true, 0.0)?,
                    base: k.number("base", false, 0.0)?.unwrap_or(0.0),
                    on,
                    off,
                }
            }
            other => return Err(k.error(format!("unknown arrival pattern `{other}`; {FORMS}"))),
        };
        Ok(spec)
    }

    /// The rate at `t`, and an upper bound of the rate that holds until the returned time.
    /// Between `t` and that time the rate is exact when `exact` is true.
    fn envelope(&self, t: f64) -> Envelope {
        let piece = |rate: f64, until: f64| Envelope {
            bound: rate,
            until,
            exact: true,
        };
        match *self {
            ArrivalSpec::Poisson { rate } => piece(rate, f64::INFINITY),
            ArrivalSpec::Step { from, to, at } => {
                if t < at {
                    piece(from, at)
                } else {
                    piece(to, f64::INFINITY)
                }
            }
            ArrivalSpec::Spike {
                base,
                peak,
                at,
                length,
            } => {
                if t < at {
                    piece(base, at)
                } else if t < at + length {
                    piece(peak, at + length)
                } else {
                    piece(base, f64::INFINITY)
                }
            }
            ArrivalSpec::Sine {
                mean, amplitude, ..
            } => Envelope {
                bound: mean + amplitude,
                until: f64::INFINITY,
                exact: false,
            },
            ArrivalSpec::OnOff {
                rate,
                base,
                on,
                off,
            } => {
                let cycle = on + off;
                let start = (t / cycle).floor() * cycle;
                if t - start < on {
                    piece(rate, start + on)
                } else {
                    piece(base, start + cycle)
                }
            }
            ArrivalSpec::Rates(ref rows) => {
                let i = rows.partition_point(|(start, _)| *start <= t);
                let rate = if i == 0 { 0.0 } else { rows[i - 1].1 };
                let until = rows.get(i).map_or(f64::INFINITY, |r| r.0);
                piece(rate, until)
            }
        }
    }

    /// The rate at `t` (requests per second).
    pub fn rate_at(&self, t: f64) -> f64 {
        match *self {
            ArrivalSpec::Sine {
                mean,
                amplitude,
                period,
            } => (mean - amplitude * (TAU * t / period).cos()).max(0.0),
            _ => self.envelope(t).bound,
        }
    }
}

struct Envelope {
    bound: f64,
    until: f64,
    exact: bool,
}

/// Draws arrival times (seconds) from a spec until `horizon`.
#[derive(Debug, Clone)]
pub struct Generator {
    spec: ArrivalSpec,
    t: f64,
    horizon: f64,
}

impl Generator {
    /// Arrivals of `spec` in `[0, horizon)` seconds.
    pub fn new(spec: ArrivalSpec, horizon: f64) -> Self {
        Generator {
            spec,
            t: 0.0,
            horizon,
        }
    }

    /// The next arrival time in seconds, or `None` past the horizon.
    pub fn next_arrival<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Option<f64> {
        // Bounded: every pass either returns or moves `t` to a later piece.
        loop {
            if self.t >= self.horizon {
                return None;
            }
            let env = self.spec.envelope(self.t);
            if env.bound <= 0.0 {
                self.t = env.until;
                continue;
            }
            let gap: f64 = Exp1.sample(rng);
            let candidate = self.t + gap / env.bound;
            if candidate >= env.until {
                self.t = env.until;
                continue;
            }
            self.t = candidate;
            if candidate >= self.horizon {
                return None;
            }
            if env.exact {
                return Some(candidate);
            }
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            if u * env.bound < self.spec.rate_at(candidate) {
                return Some(candidate);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    use super::*;

    fn count(spec: &str, from: f64, to: f64, horizon: f64) -> usize {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut g = Generator::new(ArrivalSpec::parse(spec).unwrap(), horizon);
        let mut n = 0;
        let mut last = 0.0;
        while let Some(t) = g.next_arrival(&mut rng) {
            assert!(t >= last, "arrivals go forward");
            last = t;
            if t >= from && t < to {
                n += 1;
            }
        }
        n
    }

    /// Within `k` standard deviations of a Poisson count with this mean.
    fn near(n: usize, mean: f64) -> bool {
        (n as f64 - mean).abs() < 5.0 * mean.sqrt()
    }

    #[test]
    fn poisson_rate() {
        let n = count("poisson:rate=50", 0.0, 1000.0, 1000.0);
        assert!(near(n, 50_000.0), "{n}");
    }

    #[test]
    fn step_and_spike_change_the_rate_where_asked() {
        assert!(near(
            count("step:from=5,to=50,at=100s", 0.0, 100.0, 200.0),
            500.0
        ));
        assert!(near(
            count("step:from=5,to=50,at=100s", 100.0, 200.0, 200.0),
            5000.0
        ));
        let spike = "spike:base=2,peak=200,at=1m,for=10s";
        assert!(near(count(spike, 60.0, 70.0, 120.0), 2000.0));
        assert!(near(count(spike, 70.0, 120.0, 120.0), 100.0));
    }

    #[test]
    fn onoff_is_silent_when_off() {
        let s = "onoff:rate=100,on=10s,off=20s";
        assert_eq!(count(s, 10.0, 30.0, 60.0), 0);
        assert!(near(count(s, 30.0, 40.0, 60.0), 1000.0));
    }

    #[test]
    fn sine_starts_at_its_trough_and_peaks_at_half_period() {
        let s = "sine:mean=50,amplitude=40,period=1000s";
        // Expected counts: integral of 50 − 40 cos(2πt/1000) over the interval.
        let integral = |a: f64, b: f64| {
            50.0 * (b - a)
                - 40.0 * 1000.0 / TAU * ((TAU * b / 1000.0).sin() - (TAU * a / 1000.0).sin())
        };
        let trough = count(s, 0.0, 100.0, 1000.0);
        let peak = count(s, 450.0, 550.0, 1000.0);
        assert!(near(trough, integral(0.0, 100.0)), "{trough}");
        assert!(near(peak, integral(450.0, 550.0)), "{peak}");
    }

    #[test]
    fn bad_specs_say_what_is_allowed() {
        let e = ArrivalSpec::parse("burst:rate=1").unwrap_err();
        assert!(e.reason.contains("onoff:rate=50"), "{e}");
        let e = ArrivalSpec::parse("sine:mean=5,amplitude=6,period=1h").unwrap_err();
        assert!(e.reason.contains("amplitude must not exceed mean"), "{e}");
        let e = ArrivalSpec::parse("poisson:rate=-1").unwrap_err();
        assert!(e.reason.contains("at least 0"), "{e}");
    }
}
