//! A validated load run: where to send, what to send, how, and for how long.
//!
//! The command line builds a [`Config`] from its flags; [`Config::validate`] refuses anything
//! unbounded or meaningless before a single request goes out.

use std::time::Duration;

use std::io::Write as _;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use rand::Rng;

use crate::body::BodySource;
use crate::schedule::Schedule;
use crate::wait::WaitTime;

/// A configuration that cannot run, with what would be valid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The URL is not an absolute `http://` URL.
    #[error("invalid URL {url:?}: {reason}; write it like http://127.0.0.1:8080/predict")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header is not `Name: value`.
    #[error("invalid header {0:?}: write it as 'Name: value', like -H 'Host: model.example.com'")]
    Header(String),
    /// Nothing limits the run.
    #[error(
        "the run has no end: give --run-time (like 5m) or -n (a request count); a rate plan whose steps all have durations ends by itself"
    )]
    Unbounded,
    /// A count that must be positive is zero.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// `--spawn-rate` is not a positive number.
    #[error("invalid spawn rate {0}: use a positive number of users per second, like 10")]
    SpawnRate(f64),
    /// `--timeout` is zero.
    #[error("--timeout must be longer than zero, like 30s")]
    Timeout,
    /// The open-loop schedule holds no request.
    #[error("the schedule has no requests to send")]
    EmptySchedule,
}

/// Where the requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given.
    pub url: Uri,
    /// `host:port` to connect to.
    pub authority: String,
    /// Path and query sent on the request line.
    pub path: PathAndQuery,
}

impl Target {
    /// Parses an absolute `http://host[:port]/path` URL.
    pub fn parse(url: &str) -> Result<Target, ConfigError> {
        let error = |reason: &str| ConfigError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = url.parse().map_err(|_| error("not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => return Err(error("https is not supported (plain HTTP only)")),
            Some(_) => return Err(error("only http:// URLs are supported")),
            None => return Err(error("the scheme is missing")),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| error("the host is missing"))?;
        let port = authority.port_u16().unwrap_or(80);
        let path = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        Ok(Target {
            authority: format!("{}:{port}", authority.host()),
            path,
            url: uri,
        })
    }

    /// The `Host` header a browser would send for this URL.
    fn host_header(&self) -> Option<HeaderValue> {
        self.url
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    }
}

/// Parses a `-H 'Name: value'` header.
pub fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), ConfigError> {
    let error = || ConfigError::Header(text.to_string());
    let (name, value) = text.split_once(':').ok_or_else(error)?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| error())?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| error())?;
    Ok((name, value))
}

/// Every request's method, path, headers and body.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    /// HTTP method.
    pub method: Method,
    /// Request-line target (origin form).
    pub path: PathAndQuery,
    /// Headers, `Host` included; `Content-Length` is computed per request.
    pub headers: HeaderMap,
    /// Where bodies come from.
    pub body: BodySource,
    /// Request line and headers, encoded once.
    head: Vec<u8>,
}

impl RequestTemplate {
    /// A template for `target`: GET without a body, POST with one (like curl), the URL's
    /// `Host` unless `headers` names another, and a JSON content type for templated bodies.
    /// `Content-Length` and `Transfer-Encoding` from `headers` are ignored: the length of each
    /// body is sent as it is.
    pub fn new(
        target: &Target,
        method: Option<Method>,
        extra: impl IntoIterator<Item = (HeaderName, HeaderValue)>,
        body: BodySource,
    ) -> RequestTemplate {
        let mut headers = HeaderMap::new();
        if let Some(host) = target.host_header() {
            headers.insert(HOST, host);
        }
        if let Some(content_type) = body.default_content_type() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        let mut replaced = Vec::new();
        for (name, value) in extra {
            if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
                continue;
            }
            // The first -H of a name replaces our default; further ones add to it.
            if !replaced.contains(&name) {
                headers.remove(&name);
                replaced.push(name.clone());
            }
            headers.append(name, value);
        }
        let method = method.unwrap_or(if body == BodySource::Empty {
            Method::GET
        } else {
            Method::POST
        });
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(method.as_str().as_bytes());
        head.push(b' ');
        head.extend_from_slice(target.path.as_str().as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in &headers {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        RequestTemplate {
            method,
            path: target.path.clone(),
            headers,
            body,
            head,
        }
    }

    /// Writes the next request, head and body, into `out` (cleared first).
    pub fn encode(&self, rng: &mut impl Rng, out: &mut Vec<u8>) {
        let body = self.body.next(rng);
        out.clear();
        out.extend_from_slice(&self.head);
        let needs_length =
            !body.is_empty() || matches!(self.method, Method::POST | Method::PUT | Method::PATCH);
        if needs_length {
            // Writing into a Vec cannot fail.
            let _ = write!(out, "content-length: {}\r\n", body.len());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
    }

    /// True for HEAD requests, whose responses have no body.
    pub fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }
}

/// How load is offered.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Closed-loop users like locust: each sends, waits for the answer, thinks, repeats.
    Users {
        /// How many users in all.
        users: u32,
        /// Users started per second.
        spawn_rate: f64,
        /// Think time after each response.
        wait: WaitTime,
    },
    /// Fixed concurrency like hey: workers send back to back.
    Concurrency {
        /// Number of workers (and connections).
        workers: u32,
    },
    /// Open loop like wrk2 and vegeta: requests go out on a schedule, whatever the latency.
    OpenLoop {
        /// When each request is due.
        schedule: Schedule,
        /// How many connections may be in use at once.
        connections: u32,
    },
}

impl Mode {
    /// For people: `50 users (10/s spawn, wait 1s..5s)`, `open loop at 100/s, 64 connections`.
    pub fn describe(&self) -> String {
        match self {
            Mode::Users {
                users,
                spawn_rate,
                wait,
            } => format!(
                "{users} users, spawning {}, wait {wait}",
                crate::schedule::format_rate(*spawn_rate)
            ),
            Mode::Concurrency { workers } => format!("concurrency {workers}"),
            Mode::OpenLoop {
                schedule,
                connections,
            } => format!(
                "open loop, {}, up to {connections} connections",
                schedule.describe()
            ),
        }
    }
}

/// A complete load run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where requests go.
    pub target: Target,
    /// What each request looks like.
    pub request: RequestTemplate,
    /// How load is offered.
    pub mode: Mode,
    /// Stop sending after this long.
    pub run_time: Option<Duration>,
    /// Stop after this many requests.
    pub max_requests: Option<u64>,
    /// Per-request limit: connect, send and read the whole response.
    pub timeout: Duration,
    /// Seed for bodies and think times, so runs can be repeated.
    pub seed: u64,
}

impl Config {
    /// Refuses runs without an end and counts that make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match &self.mode {
            Mode::Users {
                users, spawn_rate, ..
            } => {
                if *users == 0 {
                    return Err(ConfigError::Zero("--users"));
                }
                if !spawn_rate.is_finite() || *spawn_rate <= 0.0 {
                    return Err(ConfigError::SpawnRate(*spawn_rate));
                }
            }
            Mode::Concurrency { workers: 0 } => return Err(ConfigError::Zero("--concurrency")),
            Mode::Concurrency { .. } => {}
            Mode::OpenLoop { connections: 0, .. } => {
                return Err(ConfigError::Zero("--connections"));
            }
            Mode::OpenLoop { schedule, .. } => {
                if schedule.is_empty() {
                    return Err(ConfigError::EmptySchedule);
                }
            }
        }
        if self.max_requests == Some(0) {
            return Err(ConfigError::Zero("-n"));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::Timeout);
        }
        let ends_by_itself =
            matches!(&self.mode, Mode::OpenLoop { schedule, .. } if schedule.end().is_some());
        if self.run_time.is_none() && self.max_requests.is_none() && !ends_by_itself {
            return Err(ConfigError::Unbounded);
        }
        Ok(())
    }

    /// When sending stops (as an offset from the start), if a time limit applies.
    pub fn send_deadline(&self) -> Option<Duration> {
        let schedule_end = match &self.mode {
            Mode::OpenLoop { schedule, .. } => schedule.end(),
            _ => None,
        };
        match (self.run_time, schedule_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;
    use rand::rngs::Xoshiro256PlusPlus;

    use super::*;
    use crate::schedule::parse_rate_plan;

    fn config(mode: Mode) -> Config {
        let target = Target::parse("http://127.0.0.1:8080/predict").unwrap();
        Config {
            request: RequestTemplate::new(&target, None, [], BodySource::Empty),
            target,
            mode,
            run_time: None,
            max_requests: None,
            timeout: Duration::from_secs(30),
            seed: 0,
        }
    }

    #[test]
    fn urls() {
        let t = Target::parse("http://localhost/v1/models/m:predict?x=1").unwrap();
        assert_eq!(t.authority, "localhost:80");
        assert_eq!(t.path.as_str(), "/v1/models/m:predict?x=1");
        assert_eq!(
            Target::parse("http://127.0.0.1:9000")
                .unwrap()
                .path
                .as_str(),
            "/"
        );
        for bad in [
            "127.0.0.1:8080",
            "https://x/",
            "ftp://x/",
            "http://",
            "not a url",
        ] {
            let e = Target::parse(bad).unwrap_err().to_string();
            assert!(e.contains("http://127.0.0.1:8080/predict"), "{bad}: {e}");
        }
    }

    #[test]
    fn headers_override_host_and_method_follows_the_body() {
        let target = Target::parse("http://127.0.0.1:8080/predict").unwrap();
        let host = parse_header("Host: model.default.example.com").unwrap();
        let t = RequestTemplate::new(
            &target,
            None,
            [host],
            BodySource::Sentiment(crate::SentimentShape::Predict),
        );
        assert_eq!(t.method, Method::POST);
        assert_eq!(t.headers[HOST], "model.default.example.com");
        assert_eq!(t.headers.get_all(HOST).iter().count(), 1);
        assert_eq!(t.headers[CONTENT_TYPE], "application/json");
        let mut out = Vec::new();
        t.encode(&mut Xoshiro256PlusPlus::seed_from_u64(0), &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("POST /predict HTTP/1.1\r\n"), "{head}");
        assert!(
            head.contains("\r\nhost: model.default.example.com"),
            "{head}"
        );
        assert!(
            head.contains(&format!("\r\ncontent-length: {}", body.len())),
            "{head}"
        );
        assert!(body.starts_with("{\"text\":[\""), "{body}");

        let length = parse_header("Content-Length: 5").unwrap();
        let plain = RequestTemplate::new(&target, None, [length], BodySource::Empty);
        assert_eq!(plain.method, Method::GET);
        assert_eq!(plain.headers[HOST], "127.0.0.1:8080");
        plain.encode(&mut Xoshiro256PlusPlus::seed_from_u64(0), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /predict HTTP/1.1\r\nhost: 127.0.0.1:8080\r\n\r\n"
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("Bad Name: x").is_err());
    }

    #[test]
    fn every_run_must_end() {
        let mut c = config(Mode::Concurrency { workers: 4 });
        assert_eq!(c.validate(), Err(ConfigError::Unbounded));
        c.max_requests = Some(100);
        assert_eq!(c.validate(), Ok(()));

        let open = parse_rate_plan("100/s").unwrap();
        let mut c = config(Mode::OpenLoop {
            schedule: Schedule::Rate(open),
            connections: 10,
        });
        assert_eq!(c.validate(), Err(ConfigError::Unbounded));
        c.run_time = Some(Duration::from_secs(5));
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.send_deadline(), Some(Duration::from_secs(5)));

        let steps = parse_rate_plan("10/s:1m,100/s:1m").unwrap();
        let c = config(Mode::OpenLoop {
            schedule: Schedule::Rate(steps),
            connections: 10,
        });
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.send_deadline(), Some(Duration::from_secs(120)));
    }

    #[test]
    fn zero_counts_are_refused() {
        let mut c = config(Mode::Users {
            users: 0,
            spawn_rate: 1.0,
            wait: WaitTime::NONE,
        });
        c.run_time = Some(Duration::from_secs(1));
        assert_eq!(c.validate(), Err(ConfigError::Zero("--users")));
        c.mode = Mode::Users {
            users: 1,
            spawn_rate: 0.0,
            wait: WaitTime::NONE,
        };
        assert_eq!(c.validate(), Err(ConfigError::SpawnRate(0.0)));
        c.mode = Mode::OpenLoop {
            schedule: Schedule::Offsets(vec![]),
            connections: 1,
        };
        assert_eq!(c.validate(), Err(ConfigError::EmptySchedule));
    }
}
