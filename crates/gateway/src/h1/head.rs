//! Request and response heads: parsed with `httparse`, checked, and rewritten for the next hop
//! in the same pass, straight from the bytes read.
//!
//! A request head becomes the head a replica gets (origin-form target, HTTP/1.1, no hop-by-hop
//! headers, one framing header) plus the little the gateway needs to know (host and path to
//! route, body framing, keep-alive). A response head is handed header by header to a
//! [`HeaderSink`] (bytes for an HTTP/1 client, a `HeaderMap` for an HTTP/2 one), minus the
//! hop-by-hop headers, plus what its body framing is.
//!
//! Framing follows RFC 9112 §6: a request with both `Content-Length` and `Transfer-Encoding`,
//! conflicting lengths, or a transfer coding other than `chunked` is refused, as is a response
//! with conflicting lengths — the ambiguities request smuggling lives on.

use std::mem::MaybeUninit;
use std::ops::Range;

/// Most header fields in a head; more is answered 431 (hyper's default limit too).
pub(crate) const MAX_HEADERS: usize = 100;

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// Until the connection closes (responses only).
    UntilClose,
}

/// Why a request head was refused; each maps to the status the client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// More header fields than [`MAX_HEADERS`] (431).
    TooManyHeaders,
    /// Not HTTP/1.x, or broken framing (400).
    Malformed(&'static str),
    /// Understood, but not something the gateway does (501).
    Unsupported(&'static str),
}

/// What the gateway needs from a request head; ranges index the bytes parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestHead {
    /// Length of the head in bytes.
    pub(crate) len: usize,
    pub(crate) is_head: bool,
    /// The authority of an absolute-form target, else the Host header.
    pub(crate) host: Option<Range<usize>>,
    /// The path of the target, without the query.
    pub(crate) path: Range<usize>,
    pub(crate) framing: Framing,
    /// The client is HTTP/1.0.
    pub(crate) http10: bool,
    /// The client wants the connection kept open after this exchange.
    pub(crate) keep_alive: bool,
    /// `Expect: 100-continue`: the client waits for a go-ahead before sending its body.
    pub(crate) expect_continue: bool,
}

/// What a header name means to a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    Expect,
    /// Describes one connection (RFC 9110 §7.6.1): never forwarded.
    HopByHop,
    EndToEnd,
}

fn kind(name: &[u8]) -> Kind {
    let is = |known: &str| name.eq_ignore_ascii_case(known.as_bytes());
    match name.len() {
        2 if is("te") => Kind::HopByHop,
        4 if is("host") => Kind::Host,
        6 if is("expect") => Kind::Expect,
        7 if is("upgrade") || is("trailer") => Kind::HopByHop,
        10 if is("connection") => Kind::Connection,
        10 if is("keep-alive") => Kind::HopByHop,
        14 if is("content-length") => Kind::ContentLength,
        16 if is("proxy-connection") => Kind::HopByHop,
        17 if is("transfer-encoding") => Kind::TransferEncoding,
        18 if is("proxy-authenticate") => Kind::HopByHop,
        19 if is("proxy-authorization") => Kind::HopByHop,
        _ => Kind::EndToEnd,
    }
}

/// The comma-separated tokens of a header value, trimmed.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// What the Connection headers of a message say.
#[derive(Debug, Default)]
struct ConnectionTokens {
    close: bool,
    keep_alive: bool,
    /// Some token names another header, which is then hop-by-hop too.
    names_headers: bool,
}

impl ConnectionTokens {
    fn add(&mut self, value: &[u8]) {
        for token in tokens(value) {
            if token.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if token.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            } else {
                self.names_headers = true;
            }
        }
    }
}

/// Whether a Connection header among `headers` lists `name`.
fn listed_in_connection(headers: &[httparse::Header<'_>], name: &[u8]) -> bool {
    headers
        .iter()
        .filter(|h| kind(h.name.as_bytes()) == Kind::Connection)
        .any(|h| tokens(h.value).any(|t| t.eq_ignore_ascii_case(name)))
}

/// A Content-Length value: digits only; repeated values must agree.
fn content_length(seen: Option<u64>, value: &[u8]) -> Result<u64, &'static str> {
    let mut length = None;
    for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
        if token.is_empty() || token.len() > 19 || !token.iter().all(u8::is_ascii_digit) {
            return Err("invalid content-length");
        }
        let n = token.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        if length.is_some_and(|l| l != n) {
            return Err("conflicting content-length values");
        }
        length = Some(n);
    }
    match (seen, length) {
        (Some(a), Some(b)) if a != b => Err("conflicting content-length values"),
        (_, Some(n)) => Ok(n),
        (_, None) => Err("invalid content-length"),
    }
}

/// Whether the last transfer coding listed is `chunked`.
fn ends_chunked(value: &[u8]) -> bool {
    tokens(value)
        .last()
        .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"))
}

/// Parse the request head at the start of `buf`. `Ok(None)`: incomplete, read more. When
/// complete, `out` holds the head to send to a replica.
pub(crate) fn parse_request(
    buf: &[u8],
    out: &mut Vec<u8>,
) -> Result<Option<RequestHead>, HeadError> {
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let len = match request.parse_with_uninit_headers(buf, &mut storage) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(HeadError::Malformed("not HTTP/1.x")),
        Err(_) => return Err(HeadError::Malformed("malformed request head")),
    };
    let (Some(method), Some(target), Some(version)) =
        (request.method, request.path, request.version)
    else {
        return Err(HeadError::Malformed("malformed request line"));
    };
    if method == "CONNECT" {
        return Err(HeadError::Unsupported("CONNECT is not supported"));
    }
    let offset = |s: &[u8]| s.as_ptr() as usize - buf.as_ptr() as usize;
    let target_at = offset(target.as_bytes());

    // The target: origin-form as is; absolute-form gives its authority and becomes origin-form.
    let (authority, origin) = match target.as_bytes() {
        [b'/', ..] | b"*" => (None, target_at..target_at + target.len()),
        t => {
            let rest = strip_scheme(t).ok_or(HeadError::Malformed("invalid request target"))?;
            let start = target_at + (t.len() - rest.len());
            let end_of_authority = rest
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .unwrap_or(rest.len());
            if end_of_authority == 0 {
                return Err(HeadError::Malformed("invalid request target"));
            }
            let origin = start + end_of_authority..target_at + target.len();
            (Some(start..start + end_of_authority), origin)
        }
    };
    let path_len = buf[origin.clone()]
        .iter()
        .position(|&b| b == b'?')
        .unwrap_or(origin.len());
    let path = origin.start..origin.start + path_len;

    let headers = &*request.headers;
    let mut connection = ConnectionTokens::default();
    let (mut host, mut length, mut chunked, mut codings) = (None, None, false, false);
    let mut expect_continue = false;
    for header in headers {
        match kind(header.name.as_bytes()) {
            Kind::Host if host.is_none() => {
                let at = offset(header.value);
                host = Some(at..at + header.value.len());
            }
            Kind::Host => return Err(HeadError::Malformed("more than one host header")),
            Kind::ContentLength => {
                length = Some(content_length(length, header.value).map_err(HeadError::Malformed)?);
            }
            Kind::TransferEncoding => {
                codings = true;
                chunked = ends_chunked(header.value);
                if !tokens(header.value).all(|t| t.eq_ignore_ascii_case(b"chunked")) {
                    return Err(HeadError::Unsupported(
                        "transfer codings other than chunked",
                    ));
                }
            }
            Kind::Connection => connection.add(header.value),
            Kind::Expect => expect_continue |= header.value.eq_ignore_ascii_case(b"100-continue"),
            Kind::HopByHop | Kind::EndToEnd => {}
        }
    }
    let framing = match (codings, length) {
        (true, Some(_)) => {
            return Err(HeadError::Malformed(
                "both content-length and transfer-encoding",
            ));
        }
        (true, None) if version == 0 => {
            return Err(HeadError::Malformed(
                "transfer-encoding in an HTTP/1.0 request",
            ));
        }
        (true, None) if !chunked => return Err(HeadError::Malformed("chunked must come last")),
        (true, None) => Framing::Chunked,
        (false, Some(0) | None) => Framing::Empty,
        (false, Some(n)) => Framing::Length(n),
    };
    let has_host = host.is_some();
    // RFC 9112 §3.2, as nginx and Go's server (Knative's queue-proxy) do it; a request
    // with an absolute-form target names its host there.
    if version == 1 && !has_host && authority.is_none() {
        return Err(HeadError::Malformed(
            "an HTTP/1.1 request needs a Host header",
        ));
    }

    // The head for the replica.
    out.clear();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    if buf[origin.clone()].first() == Some(&b'?') || origin.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(&buf[origin]);
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for header in headers {
        let name = header.name.as_bytes();
        let keep = match kind(name) {
            // An absolute-form target's authority replaces the Host (RFC 9112 §3.2.2).
            Kind::Host if authority.is_some() => false,
            Kind::Host | Kind::EndToEnd => {
                !connection.names_headers || !listed_in_connection(headers, name)
            }
            _ => false,
        };
        if keep {
            write_header(out, name, header.value);
        }
    }
    match &authority {
        Some(authority) => write_header(out, b"host", &buf[authority.clone()]),
        // An HTTP/1.0 client may name no host; the replica's hop is HTTP/1.1, which needs
        // the header, empty when there is no host (RFC 9112 §3.2).
        None if !has_host => write_header(out, b"host", b""),
        None => {}
    }
    match framing {
        Framing::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            write_decimal(out, n);
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Empty | Framing::UntilClose => {}
    }
    out.extend_from_slice(b"\r\n");

    let keep_alive = if version == 1 {
        !connection.close
    } else {
        connection.keep_alive && !connection.close
    };
    Ok(Some(RequestHead {
        len,
        is_head: method == "HEAD",
        host: authority.or(host),
        path,
        framing,
        http10: version == 0,
        keep_alive,
        expect_continue,
    }))
}

fn strip_scheme(target: &[u8]) -> Option<&[u8]> {
    let colon = target.iter().position(|&b| b == b':')?;
    let (scheme, rest) = target.split_at(colon);
    let ok = scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https");
    rest.strip_prefix(b"://").filter(|_| ok)
}

/// Receives the end-to-end header fields of a response.
pub(crate) trait HeaderSink {
    fn header(&mut self, name: &[u8], value: &[u8]);
}

/// Why a replica's response head is unusable (the client gets 502).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadResponse(pub(crate) &'static str);

/// What the gateway needs from a response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub(crate) len: usize,
    pub(crate) status: u16,
    pub(crate) framing: Framing,
    /// The replica keeps the connection open after this response.
    pub(crate) keep_alive: bool,
}

/// Parse the response head at the start of `buf`; `Ok(None)`: incomplete. The end-to-end
/// headers go to `sink`, only when the head is complete and not an interim (1xx) one. A
/// Content-Length header is passed on when the response has no body (HEAD, 204, 304), where
/// it describes what a GET would have returned; otherwise framing is the caller's to write.
pub(crate) fn parse_response(
    buf: &[u8],
    request_was_head: bool,
    sink: &mut impl HeaderSink,
) -> Result<Option<ResponseHead>, BadResponse> {
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut storage,
    ) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(BadResponse("too many response headers"));
        }
        Err(_) => return Err(BadResponse("malformed response head")),
    };
    // The reason phrase is not kept: clients get the canonical one for the status (httparse
    // gives a reason that is not UTF-8 as "", not as a slice of `buf`).
    let (Some(status), Some(version)) = (response.code, response.version) else {
        return Err(BadResponse("malformed status line"));
    };
    if (100..200).contains(&status) {
        if status == 101 {
            return Err(BadResponse(
                "the replica switched protocols; upgrades are not supported",
            ));
        }
        // An interim response: the caller skips it and parses the next head.
        return Ok(Some(ResponseHead {
            len,
            status,
            framing: Framing::Empty,
            keep_alive: true,
        }));
    }
    let headers = &*response.headers;
    let mut connection = ConnectionTokens::default();
    let (mut length, mut codings, mut chunked) = (None, false, false);
    for header in headers {
        match kind(header.name.as_bytes()) {
            Kind::ContentLength => {
                length = Some(content_length(length, header.value).map_err(BadResponse)?);
            }
            Kind::TransferEncoding => {
                codings = true;
                chunked = ends_chunked(header.value);
            }
            Kind::Connection => connection.add(header.value),
            _ => {}
        }
    }
    let no_body = request_was_head || status == 204 || status == 304;
    let framing = match (codings, chunked, length) {
        _ if no_body => Framing::Empty,
        (true, true, None) => Framing::Chunked,
        (true, _, Some(_)) => return Err(BadResponse("both content-length and transfer-encoding")),
        (true, false, None) | (false, _, None) => Framing::UntilClose,
        (false, _, Some(n)) => Framing::Length(n),
    };
    for header in headers {
        let name = header.name.as_bytes();
        let forward = match kind(name) {
            Kind::EndToEnd | Kind::Host | Kind::Expect => {
                !connection.names_headers || !listed_in_connection(headers, name)
            }
            Kind::ContentLength => no_body,
            _ => false,
        };
        if forward {
            sink.header(name, header.value);
        }
    }
    let keep_alive = framing != Framing::UntilClose
        && if version == 1 {
            !connection.close
        } else {
            connection.keep_alive && !connection.close
        };
    Ok(Some(ResponseHead {
        len,
        status,
        framing,
        keep_alive,
    }))
}

/// `name: value\r\n`.
pub(crate) fn write_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// `n` in decimal, without `fmt`.
pub(crate) fn write_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `n` in lower-case hex, as chunk sizes are written.
pub(crate) fn write_hex(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
