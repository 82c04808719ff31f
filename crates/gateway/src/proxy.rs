//! The request path, phase by phase:
//!
//! 1. **route** — Host, then the model name in a KServe path, then the only service; else 404;
//! 2. **check** — a declared body larger than the service allows gets 413 before anything else;
//! 3. **admit** — a replica now, or a place in the bounded queue (held at zero, or every ready
//!    replica at its containerConcurrency) until a slot frees or `queueTimeout` passes (or
//!    `responseTimeout`, which runs from the request's arrival, when it is shorter);
//! 4. **forward** — on a pooled connection, until `responseTimeout` after arrival for the
//!    response's head; a refused connect or a connection that died before
//!    a byte was written moves the request to another replica, nothing else is retried;
//! 5. **respond** — the replica's response streams back; its body carries the request's ticket,
//!    which releases the slot when the body ends or the client goes away.
//!
//! [`handle`] is that path for requests hyper parsed (HTTP/2 clients); HTTP/1 clients take
//! it in `client_h1`, through the same [`admit`] and [`forward`].

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Request, Response, StatusCode};
use hyper::body::{Body, Incoming};

use crate::Shared;
use crate::body::{ProxiedBody, ReadTimeout, RequestBody, ResponseBody};
use crate::buffer::Out;
use crate::h1::head::{HeaderSink, write_decimal, write_header};
use crate::reject::{Local, REASON_HEADER, Rejection, Wait};
use crate::service::{Admission, Service, Ticket};
use crate::upstream::{Answer, Conn, Outgoing, RequestBodyLike, SendError, Upstream};

/// A connect, or a stale pooled connection, plus two retries elsewhere.
const MAX_ATTEMPTS: u32 = 3;

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
        return local(Local::new(StatusCode::NOT_FOUND, "unknown-service", body));
    };
    let response = match proxy(service, req).await {
        Ok(response) => response,
        Err(rejection) => {
            service.metrics.rejected(rejection.label());
            local(rejection.into_local(&service.name, service.limits.answers))
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

    let (mut ticket, upstream) = admit(service).await?;

    let (parts, body) = req.into_parts();
    let mut head = Out::new();
    let chunked = request_head(&parts, &body, &mut head.0);
    let is_head = parts.method == http::Method::HEAD;
    let body = ReadTimeout::new(
        RequestBody::new(body, limit),
        service.limits.body_read_timeout,
    );
    let mut request = Outgoing::new(&head.0, body, chunked, is_head);
    let mut headers = HeaderMap::new();
    let (answer, conn, upstream) =
        forward(&mut ticket, upstream, &mut request, &mut headers).await?;
    drop(head);

    let mut response = Response::new(ResponseBody::Proxied(ProxiedBody::new(
        answer.framing,
        answer.keep_alive,
        ticket,
        conn,
        upstream,
    )));
    *response.status_mut() = answer.status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// A replica for a request to `service` now, or after waiting in its queue.
pub(crate) async fn admit(service: &Arc<Service>) -> Result<(Ticket, Arc<Upstream>), Rejection> {
    let (mut ticket, admission) = service.admit();
    let upstream = match admission {
        Admission::Assigned(upstream) => upstream,
        Admission::QueueFull => {
            return Err(Rejection::QueueFull {
                depth: service.limits.queue_depth,
            });
        }
        Admission::Wait(slot) => {
            let limits = &service.limits;
            // responseTimeout runs from arrival too: no use waiting past it.
            let wait = if limits.response_timeout < limits.queue_timeout {
                Wait::Response(limits.response_timeout)
            } else {
                Wait::Queue(limits.queue_timeout)
            };
            match tokio::time::timeout(wait.limit(), slot).await {
                Ok(Ok(slot)) => ticket.claim(slot),
                // A waiter is only dropped from the queue once its receiver is gone.
                Ok(Err(_)) | Err(_) if service.has_ready_replica() => {
                    return Err(Rejection::NoFreeSlot {
                        wait,
                        container_concurrency: limits.container_concurrency,
                    });
                }
                Ok(Err(_)) | Err(_) => return Err(Rejection::NoReadyReplica { wait }),
            }
        }
    };
    Ok((ticket, upstream))
}

/// Send `req` to `upstream`, moving it to another replica only while nothing was sent. The
/// response's header fields go to `sink`.
pub(crate) async fn forward<B: RequestBodyLike>(
    ticket: &mut Ticket,
    mut upstream: Arc<Upstream>,
    req: &mut Outgoing<'_, B>,
    sink: &mut impl HeaderSink,
) -> Result<(Answer, Conn, Arc<Upstream>), Rejection> {
    let response_timeout = ticket.service().limits.response_timeout;
    let deadline = ticket.started() + response_timeout;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let conn = match upstream.take_idle() {
            Some(conn) => Ok(conn),
            None => upstream.connect().await,
        };
        let failure = match conn {
            Err(error) => error.to_string(),
            Ok(mut conn) => {
                let sent = conn.send(req, sink);
                match tokio::time::timeout_at(deadline, sent).await {
                    Ok(Ok(answer)) => return Ok((answer, conn, upstream)),
                    Err(_) => {
                        return Err(Rejection::ResponseTimeout {
                            addr: upstream.addr.to_string(),
                            timeout: response_timeout,
                        });
                    }
                    Ok(Err(SendError::BodyTooLarge(limit))) => {
                        return Err(Rejection::BodyTooLarge { limit });
                    }
                    Ok(Err(SendError::Client(failure))) => {
                        return Err(Rejection::BadBody { failure });
                    }
                    Ok(Err(SendError::ClientStalled(timeout))) => {
                        return Err(Rejection::BodyStalled { timeout });
                    }
                    Ok(Err(SendError::Failed(error))) => {
                        return Err(Rejection::after_send(&upstream, error));
                    }
                    Ok(Err(SendError::Unsent(error))) => {
                        if conn.reused && attempt < MAX_ATTEMPTS {
                            // The replica closed an idle connection; not its failure.
                            continue;
                        }
                        error.to_string()
                    }
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

/// Write the head a replica gets for the client's request: origin-form, HTTP/1.1, no
/// hop-by-hop headers, a Host, and framing from the body's known length (chunked when
/// unknown). Returns whether the body is to be sent chunked.
fn request_head(parts: &Parts, body: &Incoming, out: &mut Vec<u8>) -> bool {
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    match parts.uri.path_and_query().map(|pq| pq.as_str()) {
        Some(target) if !target.is_empty() => {
            if !target.starts_with('/') && target != "*" {
                out.push(b'/');
            }
            out.extend_from_slice(target.as_bytes());
        }
        _ => out.push(b'/'),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let listed = connection_listed(&parts.headers);
    for (name, value) in &parts.headers {
        if is_hop_by_hop(name)
            || name == header::CONTENT_LENGTH
            || name == header::EXPECT
            || listed.iter().any(|l| l.eq_ignore_ascii_case(name.as_str()))
        {
            continue;
        }
        write_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if !parts.headers.contains_key(header::HOST) {
        // Empty when the client named no host: the replica's hop is HTTP/1.1 (RFC 9112 §3.2).
        let authority = parts.uri.authority().map_or("", |a| a.as_str());
        write_header(out, b"host", authority.as_bytes());
    }
    let chunked = match body.size_hint().exact() {
        // Say "0" only where the client did: a GET has no length.
        Some(0) if !parts.headers.contains_key(header::CONTENT_LENGTH) => false,
        Some(n) => {
            out.extend_from_slice(b"content-length: ");
            write_decimal(out, n);
            out.extend_from_slice(b"\r\n");
            false
        }
        None => {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
            true
        }
    };
    out.extend_from_slice(b"\r\n");
    chunked
}

/// Header names a Connection header lists besides `close` and `keep-alive`; empty for almost
/// every message, without allocating.
fn connection_listed(headers: &HeaderMap) -> Vec<&str> {
    let mut listed = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim) {
            if !token.is_empty()
                && !token.eq_ignore_ascii_case("close")
                && !token.eq_ignore_ascii_case("keep-alive")
            {
                listed.push(token);
            }
        }
    }
    listed
}

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
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
fn local(local: Local) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::text(Bytes::from(local.message)));
    *response.status_mut() = local.status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(REASON_HEADER, HeaderValue::from_static(local.reason));
    if local.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}
