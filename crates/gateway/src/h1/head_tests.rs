//! Heads as a client or a replica may send them, awkward ones included.

use super::*;

fn request(text: &str) -> Result<Option<(RequestHead, String)>, HeadError> {
    let mut out = Vec::new();
    let head = parse_request(text.as_bytes(), &mut out)?;
    Ok(head.map(|h| (h, String::from_utf8(out).unwrap())))
}

fn complete(text: &str) -> (RequestHead, String) {
    request(text).unwrap().expect("a complete head")
}

#[test]
fn a_plain_request_is_forwarded_as_is() {
    let text =
        "GET /v1/models/iris:predict?x=1 HTTP/1.1\r\nHost: iris.localhost\r\nX-Tag: a\r\n\r\nbody";
    let (head, out) = complete(text);
    assert_eq!(head.len, text.len() - 4);
    assert_eq!(&text[head.path.clone()], "/v1/models/iris:predict");
    assert_eq!(&text[head.host.clone().unwrap()], "iris.localhost");
    assert_eq!(head.framing, Framing::Empty);
    assert!(head.keep_alive && !head.http10 && !head.is_head);
    assert_eq!(
        out,
        "GET /v1/models/iris:predict?x=1 HTTP/1.1\r\nHost: iris.localhost\r\nX-Tag: a\r\n\r\n"
    );
}

#[test]
fn partial_heads_ask_for_more() {
    assert_eq!(request("GET / HTTP/1.1\r\nHost: a\r\n"), Ok(None));
    assert_eq!(request(""), Ok(None));
}

#[test]
fn hop_by_hop_headers_stay_behind() {
    let (head, out) = complete(
        "POST / HTTP/1.1\r\nhost: a\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\n\
         Keep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Authorization: x\r\n\
         Expect: 100-continue\r\nContent-Length: 3\r\nX-Kept: k\r\n\r\n",
    );
    assert_eq!(head.framing, Framing::Length(3));
    assert!(head.expect_continue);
    assert_eq!(
        out,
        "POST / HTTP/1.1\r\nhost: a\r\nX-Kept: k\r\ncontent-length: 3\r\n\r\n"
    );
}

#[test]
fn absolute_form_becomes_origin_form_with_a_host() {
    let text = "GET http://svc.localhost:8080/v2/models/m/ready?q HTTP/1.1\r\n\r\n";
    let (head, out) = complete(text);
    assert_eq!(&text[head.host.clone().unwrap()], "svc.localhost:8080");
    assert_eq!(&text[head.path.clone()], "/v2/models/m/ready");
    assert_eq!(
        out,
        "GET /v2/models/m/ready?q HTTP/1.1\r\nhost: svc.localhost:8080\r\n\r\n"
    );
    // A Host header wins for routing and is kept.
    let text = "GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n";
    let (head, out) = complete(text);
    assert_eq!(&text[head.host.unwrap()], "b.example");
    assert_eq!(out, "GET /x HTTP/1.1\r\nHost: b.example\r\n\r\n");
    let (_, out) = complete("OPTIONS http://a.example HTTP/1.1\r\n\r\n");
    assert_eq!(out, "OPTIONS / HTTP/1.1\r\nhost: a.example\r\n\r\n");
}

#[test]
fn framing_and_keep_alive_follow_the_version() {
    let (head, out) = complete("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(head.framing, Framing::Chunked);
    assert_eq!(out, "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n");
    let (head, _) = complete("GET / HTTP/1.0\r\n\r\n");
    assert!(head.http10 && !head.keep_alive);
    let (head, out) = complete("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert!(head.http10 && head.keep_alive);
    assert_eq!(out, "GET / HTTP/1.1\r\n\r\n", "the replica hop is HTTP/1.1");
    let (head, _) = complete("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(!head.keep_alive);
    let (head, _) = complete("HEAD / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(head.is_head);
    assert_eq!(head.framing, Framing::Empty);
    let (head, _) = complete("PUT / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n");
    assert_eq!(head.framing, Framing::Length(5));
}

#[test]
fn ambiguous_or_unsupported_requests_are_refused() {
    use HeadError::*;
    for (text, expected) in [
        (
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            Malformed("both content-length and transfer-encoding"),
        ),
        (
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            Malformed("conflicting content-length values"),
        ),
        (
            "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            Malformed("invalid content-length"),
        ),
        (
            "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            Malformed("invalid content-length"),
        ),
        (
            "GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            Unsupported("transfer codings other than chunked"),
        ),
        (
            "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            Malformed("transfer-encoding in an HTTP/1.0 request"),
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            Malformed("more than one host header"),
        ),
        (
            "CONNECT a:443 HTTP/1.1\r\n\r\n",
            Unsupported("CONNECT is not supported"),
        ),
        ("GET / HTTP/2.0\r\n\r\n", Malformed("not HTTP/1.x")),
        (
            "GET ftp://a/ HTTP/1.1\r\n\r\n",
            Malformed("invalid request target"),
        ),
        (
            "GET http:///x HTTP/1.1\r\n\r\n",
            Malformed("invalid request target"),
        ),
        (
            "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
            Malformed("malformed request head"),
        ),
    ] {
        assert_eq!(request(text), Err(expected), "{text:?}");
    }
    let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: v\r\n")).collect();
    assert_eq!(
        request(&format!("GET / HTTP/1.1\r\n{many}\r\n")),
        Err(TooManyHeaders)
    );
}

/// Collects forwarded response headers as text.
#[derive(Default)]
struct Lines(String);

impl HeaderSink for Lines {
    fn header(&mut self, name: &[u8], value: &[u8]) {
        self.0 += &format!(
            "{}: {}\n",
            String::from_utf8_lossy(name),
            String::from_utf8_lossy(value)
        );
    }
}

fn response(text: &str, head_request: bool) -> Result<(ResponseHead, String), BadResponse> {
    let mut lines = Lines::default();
    let head = parse_response(text.as_bytes(), head_request, &mut lines)?.expect("complete");
    Ok((head, lines.0))
}

#[test]
fn response_framing_and_forwarded_headers() {
    let (head, lines) = response(
        "HTTP/1.1 200 OK\r\nContent-Length: 19\r\nContent-Type: application/json\r\n\
         Connection: x-hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n\r\n",
        false,
    )
    .unwrap();
    assert_eq!(
        (head.status, head.framing, head.keep_alive),
        (200, Framing::Length(19), true)
    );
    assert_eq!(lines, "Content-Type: application/json\n");
    let (head, lines) = response(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        false,
    )
    .unwrap();
    assert_eq!((head.framing, lines.as_str()), (Framing::Chunked, ""));
    let (head, _) = response("HTTP/1.0 200 OK\r\n\r\n", false).unwrap();
    assert_eq!(
        (head.framing, head.keep_alive),
        (Framing::UntilClose, false)
    );
    let (head, _) = response(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        false,
    )
    .unwrap();
    assert!(!head.keep_alive);
    // No body: the length is passed on as information.
    let (head, lines) = response("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n", true).unwrap();
    assert_eq!(
        (head.framing, lines.as_str()),
        (Framing::Empty, "Content-Length: 7\n")
    );
    let (head, _) = response("HTTP/1.1 304 Not Modified\r\n\r\n", false).unwrap();
    assert_eq!(head.framing, Framing::Empty);
}

#[test]
fn interim_and_broken_responses() {
    let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n";
    let (head, lines) = response(text, false).unwrap();
    assert_eq!((head.status, head.len, lines.as_str()), (100, 25, ""));
    assert_eq!(&text[head.reason], "Continue");
    for bad in [
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "SSH-2.0-OpenSSH\r\n\r\n",
    ] {
        assert!(response(bad, false).is_err(), "{bad:?}");
    }
    let mut lines = Lines::default();
    assert_eq!(
        parse_response(b"HTTP/1.1 200 OK\r\nA: b", false, &mut lines),
        Ok(None)
    );
}

#[test]
fn numbers_are_written_without_fmt() {
    let mut out = Vec::new();
    for n in [0, 7, 10, 19, 1234567890, u64::MAX] {
        out.clear();
        write_decimal(&mut out, n);
        assert_eq!(out, n.to_string().as_bytes());
    }
    out.clear();
    write_hex(&mut out, 0);
    assert_eq!(out, b"0");
}
