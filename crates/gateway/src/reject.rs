//! Answers of the gateway's own: why a replica did not answer, with a reason a program can read.

use std::time::Duration;

use http::StatusCode;

use crate::config::Answers;
use crate::upstream::Upstream;

/// Header naming why the gateway answered a request itself.
pub const REASON_HEADER: &str = "x-ebb-reason";

/// A response the gateway writes itself, for either client protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Local {
    pub(crate) status: StatusCode,
    /// Bounded label for metrics and the reason header.
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) retry_after: bool,
}

impl Local {
    pub(crate) fn new(status: StatusCode, reason: &'static str, message: String) -> Local {
        Local {
            status,
            reason,
            message: message + "\n",
            retry_after: false,
        }
    }
}

/// The limit that ends a request's wait for a replica: the shorter of the two.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    /// `queueTimeout`: the service is overloaded; worth trying again later (503).
    Queue(Duration),
    /// `responseTimeout`, which runs from the request's arrival: the request itself timed
    /// out (504, as Knative's timeout handler answers a request still queued).
    Response(Duration),
}

impl Wait {
    pub(crate) fn limit(self) -> Duration {
        match self {
            Wait::Queue(limit) | Wait::Response(limit) => limit,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Wait::Queue(_) => "queueTimeout",
            Wait::Response(_) => "responseTimeout",
        }
    }
}

/// Why the gateway answered instead of a replica.
#[derive(Debug)]
pub(crate) enum Rejection {
    BodyTooLarge {
        limit: u64,
    },
    /// The client's body was malformed or ended early.
    BadBody {
        failure: String,
    },
    /// The client stopped sending its body for `limits.bodyReadTimeout`.
    BodyStalled {
        timeout: Duration,
    },
    QueueFull {
        depth: u32,
    },
    NoReadyReplica {
        wait: Wait,
    },
    NoFreeSlot {
        wait: Wait,
        container_concurrency: u32,
    },
    Unreachable {
        addr: String,
        failure: String,
    },
    AfterSend {
        addr: String,
        failure: String,
    },
    ResponseTimeout {
        addr: String,
        timeout: Duration,
    },
}

impl Rejection {
    pub(crate) fn after_send(upstream: &Upstream, failure: impl std::fmt::Display) -> Rejection {
        Rejection::AfterSend {
            addr: upstream.addr.to_string(),
            failure: failure.to_string(),
        }
    }

    /// Bounded label for metrics and the reason header.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Rejection::BodyTooLarge { .. } => "body-too-large",
            Rejection::BadBody { .. } => "bad-request-body",
            Rejection::BodyStalled { .. } => "body-read-timeout",
            Rejection::QueueFull { .. } => "queue-full",
            Rejection::NoReadyReplica { .. } => "no-ready-replica",
            Rejection::NoFreeSlot { .. } => "no-free-slot",
            Rejection::Unreachable { .. } => "replica-unreachable",
            Rejection::AfterSend { .. } => "replica-failed",
            Rejection::ResponseTimeout { .. } => "response-timeout",
        }
    }

    /// The answer to the client of `service`, whose answers follow `answers`.
    pub(crate) fn into_local(self, service: &str, answers: Answers) -> Local {
        let label = self.label();
        let (status, retry_after, message) = match self {
            Rejection::BodyTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                false,
                format!(
                    "request body for service {service:?} exceeds maxRequestBodyBytes ({limit} bytes)"
                ),
            ),
            Rejection::BadBody { failure } => (
                StatusCode::BAD_REQUEST,
                false,
                format!("request body for service {service:?} could not be read ({failure})"),
            ),
            Rejection::BodyStalled { timeout } => (
                StatusCode::REQUEST_TIMEOUT,
                false,
                format!(
                    "request body for service {service:?}: the client sent nothing for bodyReadTimeout ({timeout:?})"
                ),
            ),
            Rejection::QueueFull { depth } => (
                StatusCode::SERVICE_UNAVAILABLE,
                true,
                format!(
                    "service {service:?} is overloaded: its queue is full ({depth} requests waiting, queueDepth {depth})"
                ),
            ),
            Rejection::NoReadyReplica { wait } => (
                match answers {
                    Answers::Ebb => StatusCode::GATEWAY_TIMEOUT,
                    Answers::Knative => StatusCode::SERVICE_UNAVAILABLE,
                },
                false,
                format!(
                    "service {service:?} has no ready replica: none became ready within {} ({:?})",
                    wait.name(),
                    wait.limit()
                ),
            ),
            Rejection::NoFreeSlot {
                wait,
                container_concurrency,
            } => {
                let overloaded = matches!(wait, Wait::Queue(_));
                (
                    if overloaded {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::GATEWAY_TIMEOUT
                    },
                    overloaded,
                    format!(
                        "service {service:?} is overloaded: every ready replica is at containerConcurrency {container_concurrency} and no slot freed within {} ({:?})",
                        wait.name(),
                        wait.limit()
                    ),
                )
            }
            Rejection::Unreachable { addr, failure } => (
                StatusCode::BAD_GATEWAY,
                false,
                format!(
                    "service {service:?}: replica {addr} is unreachable ({failure}) and no other replica could take the request"
                ),
            ),
            Rejection::AfterSend { addr, failure } => (
                StatusCode::BAD_GATEWAY,
                false,
                format!(
                    "service {service:?}: replica {addr} failed after the request was sent ({failure}); not retried"
                ),
            ),
            Rejection::ResponseTimeout { addr, timeout } => (
                StatusCode::GATEWAY_TIMEOUT,
                false,
                format!(
                    "service {service:?}: replica {addr} sent no response headers within responseTimeout ({timeout:?}) of the request's arrival"
                ),
            ),
        };
        Local {
            retry_after,
            ..Local::new(status, label, message)
        }
    }
}
