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
    // The target's authority wins over a Host header, for routing and for the replica
    // (RFC 9112 §3.2.2).
    let text = "GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\nX-Kept: k\r\n\r\n";
    let (head, out) = complete(text);
    assert_eq!(&text[head.host.unwrap()], "a.example");
    assert_eq!(
        out,
        "GET /x HTTP/1.1\r\nX-Kept: k\r\nhost: a.example\r\n\r\n"
    );
    let (_, out) = complete("OPTIONS http://a.example HTTP/1.1\r\n\r\n");
    assert_eq!(out, "OPTIONS / HTTP/1.1\r\nhost: a.example\r\n\r\n");
}

#[test]
fn framing_and_keep_alive_follow_the_version() {
    let (head, out) = complete("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(head.framing, Framing::Chunked);
    assert_eq!(
        out,
        "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let (head, _) = complete("GET / HTTP/1.0\r\n\r\n");
    assert!(head.http10 && !head.keep_alive);
    let (head, out) = complete("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assert!(head.http10 && head.keep_alive);
    assert_eq!(
        out, "GET / HTTP/1.1\r\nhost: \r\n\r\n",
        "the replica hop is HTTP/1.1, which needs a Host"
    );
    let (head, _) = complete("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert!(!head.keep_alive);
    let (head, _) = complete("HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    assert!(head.is_head);
    assert_eq!(head.framing, Framing::Empty);
    let (head, _) = complete("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n");
    assert_eq!(head.framing, Framing::Length(5));
}

#[test]
fn ambiguous_or_unsupported_requests_are_refused() {
    use HeadError::*;
    for (text, expected) in [
        (
            "GET / HTTP/1.1\r\nX-Tag: a\r\n\r\n",
            Malformed("an HTTP/1.1 request needs a Host header"),
        ),
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
fn a_reason_phrase_in_obs_text_is_accepted() {
    // RFC 9112 allows bytes above 0x7f in a reason phrase; httparse reports it as "".
    let text = b"HTTP/1.1 200 \xd6K\r\nContent-Length: 2\r\n\r\nok";
    let head = parse_response(text, false, &mut Lines::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        (head.status, head.len, head.framing),
        (200, 38, Framing::Length(2))
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

/// Heads built from the pieces smuggling and parser bugs are made of — repeated, conflicting
/// or oddly spelled framing headers, every target form, bare LF line ends — and then, half
/// of the time, one byte changed or inserted anywhere.
mod properties {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::{Index, select};

    fn line_end() -> impl Strategy<Value = &'static str> {
        prop_oneof![8 => Just("\r\n"), 1 => Just("\n")]
    }

    fn header_name() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => select(vec![
                "Host", "host", "Content-Length", "content-length", "Transfer-Encoding",
                "transfer-encoding", "Connection", "Keep-Alive", "TE", "Upgrade", "Trailer",
                "Expect", "Proxy-Connection", "X-Hop", "X-Tag",
            ])
            .prop_map(String::from),
            1 => "[A-Za-z-]{1,12}",
        ]
    }

    fn header_value() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => select(vec![
                "0", "5", "05", " 7 ", "5,5", "5, 6", "", "-1", "+5", "0x5", "99999999999999999999",
                "18446744073709551615", "chunked", "Chunked", "chunked, chunked", "gzip, chunked",
                "chunked, gzip", "identity", "close", "keep-alive", "Keep-Alive, X-Hop", "X-Tag",
                "100-continue", "iris.localhost", "a.example:8080",
            ])
            .prop_map(String::from),
            1 => "[ -~]{0,16}",
        ]
    }

    fn request_text() -> impl Strategy<Value = Vec<u8>> {
        let method = prop_oneof![
            3 => select(vec!["GET", "POST", "HEAD", "PUT", "OPTIONS", "CONNECT"]).prop_map(String::from),
            1 => "[A-Z]{1,7}",
        ];
        let target = prop_oneof![
            3 => select(vec![
                "/", "/v1/models/iris:predict?x=1", "*", "?q", "http://svc.localhost:8080/p?q",
                "HTTPS://h", "http://", "http:///x", "ftp://a/", "http://a?b",
            ])
            .prop_map(String::from),
            1 => "/[a-z0-9?=&/:%.]{0,16}",
            1 => "[!-~]{1,12}",
        ];
        let version = select(vec![
            "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.2", "http/1.1",
        ]);
        let headers = prop::collection::vec((header_name(), header_value(), line_end()), 0..8);
        let edit = prop::option::of((any::<Index>(), any::<u8>(), any::<bool>()));
        (
            method,
            target,
            version,
            line_end(),
            headers,
            line_end(),
            edit,
        )
            .prop_map(|(method, target, version, eol, headers, last, edit)| {
                let mut text = format!("{method} {target} {version}{eol}");
                for (name, value, eol) in headers {
                    text += &format!("{name}: {value}{eol}");
                }
                text += last;
                let mut text = text.into_bytes();
                if let Some((at, byte, insert)) = edit {
                    let at = at.index(text.len());
                    if insert {
                        text.insert(at, byte);
                    } else {
                        text[at] = byte;
                    }
                }
                text.extend_from_slice(b"BODY");
                text
            })
    }

    /// The framing headers of a head the gateway wrote, after checking that it is one whole
    /// head and nothing more.
    fn framing_headers(head: &[u8]) -> Vec<(String, String)> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS + 2];
        let mut parsed = httparse::Request::new(&mut headers);
        assert_eq!(
            parsed.parse(head).unwrap(),
            httparse::Status::Complete(head.len()),
            "{:?}",
            String::from_utf8_lossy(head)
        );
        parsed
            .headers
            .iter()
            .filter(|h| {
                matches!(
                    kind(h.name.as_bytes()),
                    Kind::ContentLength | Kind::TransferEncoding
                )
            })
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect()
    }

    /// A path as the replica sees it: an empty one is sent as `/`.
    fn as_sent(path: &[u8]) -> &[u8] {
        if path.is_empty() { b"/" } else { path }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Whatever a client sends, the gateway either refuses it or sends the replica one
        /// well-formed head whose only framing header says what the gateway will forward,
        /// with no hop-by-hop header left, that parses again to the same route and framing.
        #[test]
        fn an_accepted_request_reaches_the_replica_with_one_unambiguous_head(text in request_text()) {
            let mut out = Vec::new();
            let Ok(Some(head)) = parse_request(&text, &mut out) else {
                return Ok(());
            };
            prop_assert!(head.len <= text.len() - 4, "the head ends before the body");
            prop_assert!(head.path.end <= head.len);
            prop_assert!(head.host.as_ref().is_none_or(|h| h.end <= head.len));

            let framing = framing_headers(&out);
            let expected: Vec<(String, String)> = match head.framing {
                Framing::Length(n) => vec![("content-length".into(), n.to_string())],
                Framing::Chunked => vec![("transfer-encoding".into(), "chunked".into())],
                Framing::Empty | Framing::UntilClose => vec![],
            };
            prop_assert_eq!(framing, expected);

            let mut again = Vec::new();
            let forwarded = parse_request(&out, &mut again).unwrap().unwrap();
            prop_assert_eq!(forwarded.len, out.len());
            prop_assert_eq!(&again, &out, "the forwarded head is already in the gateway's form");
            prop_assert_eq!(forwarded.framing, head.framing);
            prop_assert!(forwarded.keep_alive && !forwarded.http10 && !forwarded.expect_continue);
            prop_assert_eq!(as_sent(&out[forwarded.path.clone()]), as_sent(&text[head.path.clone()]));
            // No host (an HTTP/1.0 client's right) goes as an empty one.
            prop_assert_eq!(
                forwarded.host.map(|h| out[h].to_vec()).unwrap_or_default(),
                head.host.map(|h| text[h].to_vec()).unwrap_or_default()
            );
        }

        /// Cut anywhere before its end, a head asks for more bytes; it is never taken for a
        /// shorter one.
        #[test]
        fn a_head_cut_short_asks_for_more(text in request_text(), cut in any::<Index>()) {
            let mut out = Vec::new();
            if let Ok(Some(head)) = parse_request(&text, &mut out) {
                let cut = cut.index(head.len);
                prop_assert_eq!(parse_request(&text[..cut], &mut out), Ok(None));
            }
        }
    }

    fn response_text() -> impl Strategy<Value = Vec<u8>> {
        let status = prop_oneof![
            select(vec![100u16, 101, 103, 200, 204, 301, 304, 404, 500, 503]),
            100u16..1000,
        ];
        let version = select(vec!["HTTP/1.1", "HTTP/1.0", "HTTP/2"]);
        let headers = prop::collection::vec((header_name(), header_value(), line_end()), 0..8);
        let edit = prop::option::of((any::<Index>(), any::<u8>()));
        (version, status, headers, line_end(), edit).prop_map(
            |(version, status, headers, last, edit)| {
                let mut text = format!("{version} {status} Reason\r\n");
                for (name, value, eol) in headers {
                    text += &format!("{name}: {value}{eol}");
                }
                text += last;
                let mut text = text.into_bytes();
                if let Some((at, byte)) = edit {
                    let at = at.index(text.len());
                    text[at] = byte;
                }
                text
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// A replica's head either is refused (502) or gives framing that its own headers
        /// state, and hands on no header that describes the replica's connection or framing
        /// (a length only where there is no body, as information).
        #[test]
        fn a_response_head_hands_on_end_to_end_headers_only(text in response_text(), head_request in any::<bool>()) {
            let mut lines = Lines::default();
            let Ok(Some(head)) = parse_response(&text, head_request, &mut lines) else {
                return Ok(());
            };
            prop_assert!(head.len <= text.len());
            if (100..200).contains(&head.status) {
                prop_assert_eq!(lines.0, "", "interim heads are skipped, not forwarded");
                return Ok(());
            }
            let no_body = head_request || head.status == 204 || head.status == 304;
            for line in lines.0.lines() {
                let name = line.split(':').next().unwrap_or_default();
                let kind = kind(name.as_bytes());
                let allowed = matches!(kind, Kind::EndToEnd | Kind::Host | Kind::Expect)
                    || (kind == Kind::ContentLength && no_body);
                prop_assert!(allowed, "{} forwarded from {:?}", name, String::from_utf8_lossy(&text));
            }
            match head.framing {
                Framing::Empty => prop_assert!(no_body),
                Framing::Length(n) => {
                    prop_assert!(!no_body);
                    let text = String::from_utf8_lossy(&text).to_ascii_lowercase();
                    prop_assert!(text.contains("content-length"), "length {} from nowhere", n);
                }
                Framing::Chunked => prop_assert!(!no_body),
                Framing::UntilClose => prop_assert!(!no_body && !head.keep_alive),
            }
        }
    }
}
