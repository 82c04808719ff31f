//! The requests a run replays: arrival times from a trace or a generator, each with its service
//! time.
//!
//! Every policy of a comparison sees exactly the same requests (common random numbers): the
//! stream is regenerated from the seed for each run, so a difference between two policies is
//! the policies', not the dice's.

use std::sync::Arc;

use ebb_trace::{RequestTrace, TraceFile};
use rand::rngs::Xoshiro256PlusPlus;

use crate::arrivals::{ArrivalSpec, Generator};
use crate::dist::Dist;
use crate::spec::{KindArgs, SpecError};

/// How long a request keeps a replica slot busy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ServiceModel {
    /// Drawn from a distribution.
    Dist(Dist),
    /// `a + b·input_tokens + c·output_tokens` milliseconds, from the trace's token columns.
    Tokens {
        /// Fixed part, ms.
        a_ms: f64,
        /// Per prompt token, ms.
        b_ms: f64,
        /// Per output token, ms.
        c_ms: f64,
    },
}

impl ServiceModel {
    /// Parses `--service`: a distribution, or `tokens:a=20,b=0.05,c=15` (milliseconds).
    pub fn parse(text: &str) -> Result<ServiceModel, SpecError> {
        let k = KindArgs::parse("service time", text)?;
        if k.kind == "tokens" {
            k.only(&["a", "b", "c"])?;
            return Ok(ServiceModel::Tokens {
                a_ms: k.number("a", false, 0.0)?.unwrap_or(0.0),
                b_ms: k.number("b", false, 0.0)?.unwrap_or(0.0),
                c_ms: k.number("c", false, 0.0)?.unwrap_or(0.0),
            });
        }
        Dist::parse("service time", text)
            .map(ServiceModel::Dist)
            .map_err(|mut e| {
                if e.reason.starts_with("unknown distribution") {
                    e.reason.push_str(
                        ", or tokens:a=20,b=0.05,c=15 (ms) for a trace with token counts",
                    );
                }
                e
            })
    }
}

impl std::fmt::Display for ServiceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceModel::Dist(d) => write!(f, "{d}"),
            ServiceModel::Tokens { a_ms, b_ms, c_ms } => {
                write!(f, "tokens:a={a_ms},b={b_ms},c={c_ms}")
            }
        }
    }
}

/// Where arrivals come from.
#[derive(Debug, Clone)]
pub enum Arrivals {
    /// A recorded trace of requests.
    Trace(Arc<RequestTrace>),
    /// A generated Poisson process (also used for rate files).
    Generated(ArrivalSpec),
}

/// Why a workload cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadError {
    /// The token model needs token counts.
    #[error(
        "--service tokens:... needs a trace with token columns (input and output tokens); this {0} has none: use a distribution such as exp:mean=200ms"
    )]
    NoTokens(&'static str),
    /// Generated arrivals need a length.
    #[error("generated arrivals need a --duration, like 1h")]
    NoDuration,
}

/// Requests to replay: arrivals, service times, a horizon and a seed.
#[derive(Debug, Clone)]
pub struct Workload {
    arrivals: Arrivals,
    service: ServiceModel,
    horizon_ns: i64,
    seed: u64,
}

/// One request of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Arrival, ns.
    pub at: i64,
    /// Service time, ns.
    pub service: i64,
}

/// Seeds of the independent random streams of a run, derived from the user's seed.
pub(crate) mod stream {
    /// Arrival times.
    pub(crate) const ARRIVALS: u64 = 0x0A11_1A15;
    /// Service times.
    pub(crate) const SERVICE: u64 = 0x5E41_11CE;
    /// Cold starts.
    pub(crate) const COLD_STARTS: u64 = 0xC01D_57A7;

    /// The generator seeded for `stream` of `seed`.
    pub(crate) fn rng(seed: u64, stream: u64) -> rand::rngs::Xoshiro256PlusPlus {
        use rand::SeedableRng;
        rand::rngs::Xoshiro256PlusPlus::seed_from_u64(
            seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        )
    }
}

impl Workload {
    /// A workload from a trace file; `duration` cuts it short (or, for a rate file, is its
    /// length; default: up to the last row plus one second).
    pub fn from_trace(
        trace: TraceFile,
        service: ServiceModel,
        duration_ns: Option<i64>,
        seed: u64,
    ) -> Result<Workload, WorkloadError> {
        match trace {
            TraceFile::Requests(t) => {
                if matches!(service, ServiceModel::Tokens { .. }) && !t.has_tokens() {
                    return Err(WorkloadError::NoTokens("trace"));
                }
                let last = t.requests.last().map_or(0, |r| r.at_ns);
                // Up to the whole second after the last arrival.
                let end = (last / 1_000_000_000 + 1) * 1_000_000_000;
                Ok(Workload {
                    arrivals: Arrivals::Trace(Arc::new(t)),
                    service,
                    horizon_ns: duration_ns.unwrap_or(end),
                    seed,
                })
            }
            TraceFile::Rates(rows) => {
                let last = rows.last().map_or(0.0, |r| r.0);
                let end = ((last + 1.0) * 1e9) as i64;
                Workload::generated(
                    ArrivalSpec::Rates(rows),
                    service,
                    Some(duration_ns.unwrap_or(end)),
                    seed,
                )
            }
        }
    }

    /// A generated workload of `duration_ns`.
    pub fn generated(
        spec: ArrivalSpec,
        service: ServiceModel,
        duration_ns: Option<i64>,
        seed: u64,
    ) -> Result<Workload, WorkloadError> {
        if matches!(service, ServiceModel::Tokens { .. }) {
            return Err(WorkloadError::NoTokens("generator"));
        }
        Ok(Workload {
            arrivals: Arrivals::Generated(spec),
            service,
            horizon_ns: duration_ns.ok_or(WorkloadError::NoDuration)?,
            seed,
        })
    }

    /// The end of arrivals, ns.
    pub fn horizon_ns(&self) -> i64 {
        self.horizon_ns
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The service model.
    pub fn service(&self) -> ServiceModel {
        self.service
    }

    /// Where arrivals come from.
    pub fn arrivals(&self) -> &Arrivals {
        &self.arrivals
    }

    /// A fresh stream of the workload's requests; every call yields the same sequence.
    pub fn stream(&self) -> RequestStream {
        RequestStream {
            source: match &self.arrivals {
                Arrivals::Trace(t) => Source::Trace {
                    trace: Arc::clone(t),
                    next: 0,
                },
                Arrivals::Generated(spec) => {
                    Source::Generated(Generator::new(spec.clone(), self.horizon_ns as f64 / 1e9))
                }
            },
            service: self.service,
            horizon_ns: self.horizon_ns,
            arrival_rng: stream::rng(self.seed, stream::ARRIVALS),
            service_rng: stream::rng(self.seed, stream::SERVICE),
        }
    }
}

#[derive(Debug)]
enum Source {
    Trace {
        trace: Arc<RequestTrace>,
        next: usize,
    },
    Generated(Generator),
}

/// The requests of a workload, in arrival order.
#[derive(Debug)]
pub struct RequestStream {
    source: Source,
    service: ServiceModel,
    horizon_ns: i64,
    arrival_rng: Xoshiro256PlusPlus,
    service_rng: Xoshiro256PlusPlus,
}

impl Iterator for RequestStream {
    type Item = Request;

    fn next(&mut self) -> Option<Request> {
        let (at, tokens) = match &mut self.source {
            Source::Trace { trace, next } => {
                let r = trace.requests.get(*next)?;
                if r.at_ns >= self.horizon_ns {
                    return None;
                }
                *next += 1;
                (
                    r.at_ns,
                    (r.input_tokens.unwrap_or(0), r.output_tokens.unwrap_or(0)),
                )
            }
            Source::Generated(g) => {
                let t = g.next_arrival(&mut self.arrival_rng)?;
                ((t * 1e9) as i64, (0, 0))
            }
        };
        let service = match self.service {
            ServiceModel::Dist(d) => d.sample(&mut self.service_rng),
            ServiceModel::Tokens { a_ms, b_ms, c_ms } => {
                ((a_ms + b_ms * f64::from(tokens.0) + c_ms * f64::from(tokens.1)) * 1e6) as i64
            }
        };
        Some(Request { at, service })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_requests_and_another_seed_does_not() {
        let spec = ArrivalSpec::parse("poisson:rate=100").unwrap();
        let service = ServiceModel::parse("exp:mean=50ms").unwrap();
        let w = Workload::generated(spec.clone(), service, Some(10_000_000_000), 1).unwrap();
        let a: Vec<Request> = w.stream().collect();
        let b: Vec<Request> = w.stream().collect();
        assert_eq!(a, b);
        assert!(a.len() > 800 && a.len() < 1200, "{}", a.len());
        let other = Workload::generated(spec, service, Some(10_000_000_000), 2).unwrap();
        let c: Vec<Request> = other.stream().collect();
        assert_ne!(a, c);
    }

    #[test]
    fn token_service_times_come_from_the_trace() {
        let trace =
            ebb_trace::parse("timestamp,input_tokens,output_tokens\n0,1000,10\n1.5,0,0\n").unwrap();
        let service = ServiceModel::parse("tokens:a=20,b=0.05,c=15").unwrap();
        let w = Workload::from_trace(trace, service, None, 0).unwrap();
        let r: Vec<Request> = w.stream().collect();
        assert_eq!(
            r[0],
            Request {
                at: 0,
                service: 220_000_000
            }
        );
        assert_eq!(
            r[1],
            Request {
                at: 1_500_000_000,
                service: 20_000_000
            }
        );
        assert_eq!(w.horizon_ns(), 2_000_000_000);
    }

    #[test]
    fn token_model_without_tokens_is_an_error() {
        let trace = ebb_trace::parse("1\n2\n").unwrap();
        let service = ServiceModel::parse("tokens:a=20").unwrap();
        let e = Workload::from_trace(trace, service, None, 0).unwrap_err();
        assert!(
            e.to_string().contains("needs a trace with token columns"),
            "{e}"
        );
        let e = ServiceModel::parse("normal:1s").unwrap_err();
        assert!(e.to_string().contains("tokens:a=20"), "{e}");
    }
}
