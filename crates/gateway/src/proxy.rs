//! The request path, phase by phase:
//!
//! 1. **route** — Host, then the model name in a KServe path, then the only service; else 404;
//! 2. **check** — a declared body larger than the service allows gets 413 before anything else;
//! 3. **admit** — a replica now, or a place in the bounded queue (held at zero, or every ready
//!    replica at its containerConcurrency) until a slot frees or `queueTimeout` passes;
//! 4. **forward** — on a pooled connection; a refused connect or a connection that died before
//!    a byte was written moves the request to another replica, nothing else is retried;
//! 5. **respond** — the replica's response streams back; its body carries the request's ticket,
//!    which releases the slot when the body ends or the client goes away.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::{Body, Incoming};

use crate::Shared;
use crate::body::{BodyTooLarge, ProxiedBody, RequestBody, ResponseBody};
use crate::service::{Admission, Service, Ticket};
use crate::upstream::{Conn, Upstream};

/// A connect, or a stale pooled connection, plus two retries elsewhere.
const MAX_ATTEMPTS: u32 = 3;

/// Header naming why the gateway answered a request itself.
pub const REASON_HEADER: &str = "x-ebb-reason";

/// Answer one client request.
pub(crate) async fn handle(gateway: &Shared, req: Request<Incoming>) -> Response<ResponseBody> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let path = req.uri().path();
    let Some(service) = gateway
        .router
        .route(host, path)
        .and_then(|i| gateway.services.get(i))
    else {
        gateway.metrics.unrouted.inc();
        let body = gateway.router.not_found_body(host, path);
        return local(StatusCode::NOT_FOUND, "unknown-service", body, false);
    };
    let response = match proxy(service, req).await {
        Ok(response) => response,
        Err(rejection) => {
            service.metrics.rejected(rejection.label());
            rejection.into_response(&service.name)
        }
    };
    service.metrics.answered(response.status().as_u16());
    response
}

async fn proxy(
    service: &Arc<Service>,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Rejection> {
    let limit = service.limits.max_request_body_bytes;
    if req.body().size_hint().lower() > limit {
        return Err(Rejection::BodyTooLarge { limit });
    }

    let (mut ticket, admission) = service.admit();
    let upstream = match admission {
        Admission::Assigned(upstream) => upstream,
        Admission::QueueFull => {
            return Err(Rejection::QueueFull {
                depth: service.limits.queue_depth,
            });
        }
        Admission::Wait(slot) => {
            let waited = service.limits.queue_timeout;
            match tokio::time::timeout(waited, slot).await {
                Ok(Ok(slot)) => ticket.claim(slot),
                // A waiter is only dropped from the queue once its receiver is gone.
                Ok(Err(_)) | Err(_) if service.has_ready_replica() => {
                    return Err(Rejection::NoFreeSlot {
                        waited,
                        container_concurrency: service.limits.container_concurrency,
                    });
                }
                Ok(Err(_)) | Err(_) => return Err(Rejection::NoReadyReplica { waited }),
            }
        }
    };

    let req = upstream_request(req, limit);
    let (response, conn, upstream) = forward(&mut ticket, upstream, req).await?;

    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let body = ProxiedBody::new(body, ticket, conn, upstream);
    Ok(Response::from_parts(parts, ResponseBody::Proxied(body)))
}

/// Send `req` to `upstream`, moving it to another replica only while nothing was sent.
async fn forward(
    ticket: &mut Ticket,
    mut upstream: Arc<Upstream>,
    mut req: Request<RequestBody>,
) -> Result<(Response<Incoming>, Conn, Arc<Upstream>), Rejection> {
    let response_timeout = ticket.service().limits.response_timeout;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let failure = match upstream.checkout().await {
            Err(error) => error.to_string(),
            Ok(mut conn) => {
                match tokio::time::timeout(response_timeout, conn.send(req)).await {
                    Ok(Ok(response)) => return Ok((response, conn, upstream)),
                    Err(_) => {
                        return Err(Rejection::ResponseTimeout {
                            addr: upstream.addr.to_string(),
                            timeout: response_timeout,
                        });
                    }
                    Ok(Err(mut error)) => match error.take_message() {
                        None => return Err(Rejection::after_send(&upstream, error.into_error())),
                        Some(back) => {
                            req = back;
                            if conn.reused && attempt < MAX_ATTEMPTS {
                                // The replica closed an idle connection; not its failure.
                                upstream.clear_idle();
                                continue;
                            }
                            error.into_error().to_string()
                        }
                    },
                }
            }
        };
        let next = if attempt < MAX_ATTEMPTS {
            ticket.reassign()
        } else {
            None
        };
        match next {
            Some(next) => {
                tracing::debug!(from = %upstream.addr, to = %next.addr, %failure, "Retrying on another replica.");
                ticket.service().metrics.retries.inc();
                upstream = next;
            }
            None => {
                return Err(Rejection::Unreachable {
                    addr: upstream.addr.to_string(),
                    failure,
                });
            }
        }
    }
}

/// The client's request as a replica should see it: HTTP/1.1, origin-form, no hop-by-hop headers.
fn upstream_request(req: Request<Incoming>, limit: u64) -> Request<RequestBody> {
    let (mut parts, body) = req.into_parts();
    if parts.uri.authority().is_some() {
        if !parts.headers.contains_key(header::HOST)
            && let Some(authority) = parts.uri.authority()
            && let Ok(value) = HeaderValue::from_str(authority.as_str())
        {
            parts.headers.insert(header::HOST, value);
        }
        let origin = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        parts.uri = Uri::try_from(origin).unwrap_or_else(|_| Uri::from_static("/"));
    }
    parts.version = Version::HTTP_11;
    strip_hop_by_hop(&mut parts.headers);
    Request::from_parts(parts, RequestBody::new(body, limit))
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages have none: look before touching the map.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    if let Some(connection) = headers.remove(header::CONNECTION)
        && let Ok(listed) = connection.to_str()
    {
        for name in listed.split(',') {
            if let Ok(name) = HeaderName::from_bytes(name.trim().as_bytes()) {
                headers.remove(name);
            }
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
];

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name)
}

/// An answer of the gateway's own, with a reason a program can read.
fn local(
    status: StatusCode,
    reason: &'static str,
    message: String,
    retry_after: bool,
) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::text(Bytes::from(message + "\n")));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(REASON_HEADER, HeaderValue::from_static(reason));
    if retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// Why the gateway answered instead of a replica.
#[derive(Debug)]
enum Rejection {
    BodyTooLarge {
        limit: u64,
    },
    QueueFull {
        depth: u32,
    },
    NoReadyReplica {
        waited: Duration,
    },
    NoFreeSlot {
        waited: Duration,
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
    fn after_send(upstream: &Upstream, error: hyper::Error) -> Rejection {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(e) = source {
            if let Some(too_large) = e.downcast_ref::<BodyTooLarge>() {
                return Rejection::BodyTooLarge {
                    limit: too_large.limit,
                };
            }
            source = e.source();
        }
        Rejection::AfterSend {
            addr: upstream.addr.to_string(),
            failure: error.to_string(),
        }
    }

    /// Bounded label for metrics and the reason header.
    fn label(&self) -> &'static str {
        match self {
            Rejection::BodyTooLarge { .. } => "body-too-large",
            Rejection::QueueFull { .. } => "queue-full",
            Rejection::NoReadyReplica { .. } => "no-ready-replica",
            Rejection::NoFreeSlot { .. } => "no-free-slot",
            Rejection::Unreachable { .. } => "replica-unreachable",
            Rejection::AfterSend { .. } => "replica-failed",
            Rejection::ResponseTimeout { .. } => "response-timeout",
        }
    }

    fn into_response(self, service: &str) -> Response<ResponseBody> {
        let label = self.label();
        let (status, retry, message) = match self {
            Rejection::BodyTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                false,
                format!(
                    "request body for service {service:?} exceeds maxRequestBodyBytes ({limit} bytes)"
                ),
            ),
            Rejection::QueueFull { depth } => (
                StatusCode::SERVICE_UNAVAILABLE,
                true,
                format!(
                    "service {service:?} is overloaded: its queue is full ({depth} requests waiting, queueDepth {depth})"
                ),
            ),
            Rejection::NoReadyReplica { waited } => (
                StatusCode::GATEWAY_TIMEOUT,
                false,
                format!(
                    "service {service:?} has no ready replica: none became ready within queueTimeout ({waited:?})"
                ),
            ),
            Rejection::NoFreeSlot {
                waited,
                container_concurrency,
            } => (
                StatusCode::SERVICE_UNAVAILABLE,
                true,
                format!(
                    "service {service:?} is overloaded: every ready replica is at containerConcurrency {container_concurrency} and no slot freed within queueTimeout ({waited:?})"
                ),
            ),
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
                    "service {service:?}: replica {addr} sent no response headers within responseTimeout ({timeout:?})"
                ),
            ),
        };
        local(status, label, message, retry)
    }
}
