//! A **fake** of the few Kubernetes API endpoints the controller uses — not an API server. No
//! real one can run on our machines, so this one serves HTTP on 127.0.0.1 from a script: each
//! request must be the next expected one (method, path, query, content type, body), and gets
//! the scripted answer. Anything else is recorded as a failure and answered 500, and
//! [`FakeApi::finish`] fails the test with every difference.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;

type Reply = Box<dyn Fn(&Value) -> (u16, Value) + Send>;
type Check = Box<dyn Fn(&Value) -> Result<(), String> + Send>;

/// One expected request and its answer.
pub struct Exchange {
    method: &'static str,
    path: String,
    query: BTreeMap<String, String>,
    content_type: Option<&'static str>,
    check: Option<Check>,
    reply: Reply,
    hook: Option<Box<dyn FnOnce() + Send>>,
}

impl Exchange {
    fn new(method: &'static str, path_and_query: &str) -> Self {
        let (path, query) = split(path_and_query);
        Exchange {
            method,
            path,
            query,
            content_type: None,
            check: None,
            reply: Box::new(|_| (200, json!({}))),
            hook: None,
        }
    }

    /// `GET path?query`.
    pub fn get(path: &str) -> Self {
        Exchange::new("GET", path)
    }

    /// `PATCH path` with this content type.
    pub fn patch(path: &str, content_type: &'static str) -> Self {
        let mut e = Exchange::new("PATCH", path);
        e.content_type = Some(content_type);
        e
    }

    /// `POST path` (JSON).
    pub fn post(path: &str) -> Self {
        let mut e = Exchange::new("POST", path);
        e.content_type = Some("application/json");
        e
    }

    /// The body must equal `body`.
    pub fn body(mut self, body: Value) -> Self {
        self.check = Some(Box::new(move |got| {
            if *got == body {
                Ok(())
            } else {
                Err(format!("body\n  expected {body}\n  got      {got}"))
            }
        }));
        self
    }

    /// The body must pass `check`.
    pub fn check(mut self, check: impl Fn(&Value) -> Result<(), String> + Send + 'static) -> Self {
        self.check = Some(Box::new(check));
        self
    }

    /// Answers `status` with `body`.
    pub fn reply(mut self, status: u16, body: Value) -> Self {
        self.reply = Box::new(move |_| (status, body.clone()));
        self
    }

    /// Answers from the request body.
    pub fn reply_with(mut self, reply: impl Fn(&Value) -> (u16, Value) + Send + 'static) -> Self {
        self.reply = Box::new(reply);
        self
    }

    /// Runs `hook` when this request arrives, before answering.
    pub fn on_arrival(mut self, hook: impl FnOnce() + Send + 'static) -> Self {
        self.hook = Some(Box::new(hook));
        self
    }
}

fn split(path_and_query: &str) -> (String, BTreeMap<String, String>) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    (decode_path(path), query)
}

fn decode_path(s: &str) -> String {
    percent_decode(s, false)
}

fn decode(s: &str) -> String {
    percent_decode(s, true)
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 3 <= bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A request as it arrived.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    /// Content type.
    pub content_type: Option<String>,
    /// Body (JSON, or `null`).
    pub body: Value,
}

impl Seen {
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    /// Whether `?watch=true` requests get an open stream that never sends an event (a quiet
    /// cluster), instead of going through the script.
    hang_watches: bool,
    /// Answers to requests that may come any number of times (polling), by method and path.
    always: Vec<(&'static str, String, Reply)>,
    script: VecDeque<Exchange>,
    seen: Vec<Seen>,
    failures: Vec<String>,
}

/// The fake API server.
pub struct FakeApi {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeApi {
    /// Starts serving on 127.0.0.1 (a free port).
    pub async fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(state.clone(), req));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeApi {
            addr,
            state,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for this server, default namespace `default`.
    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url().parse().expect("url"));
        ebb_kube::client(config).expect("client")
    }

    /// Appends expected requests.
    pub fn expect(&self, exchanges: impl IntoIterator<Item = Exchange>) {
        self.state.lock().unwrap().script.extend(exchanges);
    }

    /// Answers `method path` (query ignored) whenever it comes, outside the script.
    pub fn always(
        &self,
        method: &'static str,
        path: &str,
        reply: impl Fn(&Value) -> (u16, Value) + Send + 'static,
    ) {
        self.state
            .lock()
            .unwrap()
            .always
            .push((method, path.to_string(), Box::new(reply)));
    }

    /// Answers every watch with an open, quiet stream.
    pub fn hang_watches(&self) {
        self.state.lock().unwrap().hang_watches = true;
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Fails unless every expected request came, in order, and nothing else did.
    pub fn finish(&self) {
        let state = self.state.lock().unwrap();
        let mut problems = state.failures.clone();
        for left in &state.script {
            problems.push(format!("expected {} {} never came", left.method, left.path));
        }
        if !problems.is_empty() {
            let log: Vec<String> = state
                .seen
                .iter()
                .map(|s| format!("  {} {}", s.method, s.uri))
                .collect();
            panic!(
                "the fake API server saw:\n{}\nproblems:\n  {}",
                log.join("\n"),
                problems.join("\n  ")
            );
        }
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type AnyBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::convert::Infallible>;

async fn answer(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<AnyBody>, std::convert::Infallible> {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let (path, query) = split(&uri);
    if query.get("watch").is_some_and(|w| w == "true") && state.lock().unwrap().hang_watches {
        state.lock().unwrap().seen.push(Seen {
            method: method.clone(),
            uri: uri.clone(),
            content_type: content_type.clone(),
            body: Value::Null,
        });
        let quiet = futures::stream::pending::<
            Result<hyper::body::Frame<Bytes>, std::convert::Infallible>,
        >();
        let response = Response::builder()
            .status(200)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(http_body_util::BodyExt::boxed_unsync(
                http_body_util::StreamBody::new(quiet),
            ))
            .expect("response");
        return Ok(response);
    }
    let (status, reply) = {
        let mut s = state.lock().unwrap();
        s.seen.push(Seen {
            method: method.clone(),
            uri: uri.clone(),
            content_type: content_type.clone(),
            body: body.clone(),
        });
        let standing = s
            .always
            .iter()
            .find(|(m, p, _)| *m == method && *p == path)
            .map(|(_, _, reply)| reply(&body));
        if let Some(answer) = standing {
            answer
        } else {
            match s.script.pop_front() {
                None => {
                    s.failures.push(format!(
                        "unexpected {method} {uri}: nothing more was expected"
                    ));
                    (
                        500,
                        json!({"kind": "Status", "code": 500, "message": "unexpected request"}),
                    )
                }
                Some(mut e) => {
                    let mut problems = Vec::new();
                    if e.method != method || e.path != path {
                        problems.push(format!(
                            "expected {} {}, got {method} {uri}",
                            e.method, e.path
                        ));
                    } else if e.query != query {
                        problems.push(format!(
                            "{method} {path}: query expected {:?}, got {query:?}",
                            e.query
                        ));
                    }
                    if e.content_type.is_some()
                        && e.content_type.map(str::to_string) != content_type
                    {
                        problems.push(format!(
                            "{method} {path}: content type expected {:?}, got {content_type:?}",
                            e.content_type
                        ));
                    }
                    if let Some(check) = &e.check
                        && let Err(p) = check(&body)
                    {
                        problems.push(format!("{method} {path}: {p}"));
                    }
                    if let Some(hook) = e.hook.take() {
                        hook();
                    }
                    if problems.is_empty() {
                        (e.reply)(&body)
                    } else {
                        s.failures.extend(problems);
                        (
                            500,
                            json!({"kind": "Status", "code": 500, "message": "not the expected request"}),
                        )
                    }
                }
            }
        }
    };
    let response = Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(reply.to_string())).boxed_unsync())
        .expect("response");
    Ok(response)
}

/// RFC 7386 JSON merge patch, as the API server applies `application/merge-patch+json`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = json!({});
            }
            let obj = target.as_object_mut().expect("object");
            for (k, v) in fields {
                if v.is_null() {
                    obj.remove(k);
                } else {
                    merge_patch(obj.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// A Kubernetes `Status` error body.
pub fn status_error(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

/// One rule of a Role or ClusterRole.
pub struct Rule {
    pub groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
    /// `resourceNames`: empty for any name.
    pub names: Vec<String>,
}

impl Rule {
    /// Whether the rule allows `method uri`, as the API server authorizes it (a rule with
    /// `resourceNames` allows only requests for one of those names).
    fn allows(&self, method: &str, uri: &str) -> bool {
        let (group, resource, verb) = attributes(method, uri);
        let any = |list: &[String], value: &str| list.iter().any(|v| v == value || v == "*");
        any(&self.groups, &group)
            && any(&self.resources, &resource)
            && any(&self.verbs, &verb)
            && (self.names.is_empty()
                || resource_name(uri).is_some_and(|n| self.names.contains(&n)))
    }
}

/// The rules of `deploy/rbac.yaml` granted to `service_account` (ClusterRoles and Roles bound to
/// it).
pub fn rbac_rules(service_account: &str) -> Vec<Rule> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/rbac.yaml");
    let text = std::fs::read_to_string(&path).expect("deploy/rbac.yaml");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("rbac.yaml parses");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let bound: Vec<(String, String)> = docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRoleBinding" || d["kind"] == "RoleBinding")
        .filter(|d| {
            d["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["name"] == service_account)
        })
        .map(|d| {
            let role_kind = d["roleRef"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (
                role_kind,
                d["roleRef"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    docs.iter()
        .filter(|d| {
            bound
                .iter()
                .any(|(k, n)| d["kind"] == k.as_str() && d["metadata"]["name"] == n.as_str())
        })
        .flat_map(|d| d["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| Rule {
            groups: strings(&r["apiGroups"]),
            resources: strings(&r["resources"]),
            verbs: strings(&r["verbs"]),
            names: strings(&r["resourceNames"]),
        })
        .collect()
}

/// The object name a request is for, if it names one.
pub fn resource_name(uri: &str) -> Option<String> {
    let (path, _) = split(uri);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let rest = match parts.as_slice() {
        ["api", _v, rest @ ..] | ["apis", _, _v, rest @ ..] => rest,
        _ => return None,
    };
    let rest = match rest {
        ["namespaces", _ns, more @ ..] if !more.is_empty() => more,
        other => other,
    };
    match rest {
        [_resource, name, ..] if *name != "*" => Some((*name).to_string()),
        _ => None,
    }
}

/// (apiGroup, resource[/subresource], verb) of a request, as the API server authorizes it.
pub fn attributes(method: &str, uri: &str) -> (String, String, String) {
    let (path, query) = split(uri);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", _v, rest @ ..] => ("", rest),
        ["apis", g, _v, rest @ ..] => (*g, rest),
        _ => ("?", &parts[..0]),
    };
    let rest = match rest {
        ["namespaces", _ns, more @ ..] if !more.is_empty() => more,
        other => other,
    };
    let (resource, name, sub) = match rest {
        [r] => (*r, None, None),
        [r, n] => (*r, Some(*n), None),
        [r, n, s, ..] => (*r, Some(*n), Some(*s)),
        _ => ("?", None, None),
    };
    let resource = match sub {
        Some(s) if !group.ends_with("metrics.k8s.io") => format!("{resource}/{s}"),
        _ => resource.to_string(),
    };
    let verb = match (method, name) {
        ("GET", Some(n)) if n != "*" => "get",
        ("GET", _) if query.get("watch").is_some_and(|w| w == "true") => "watch",
        ("GET", _) => "list",
        ("PATCH", _) => "patch",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("DELETE", _) => "delete",
        _ => "?",
    };
    (group.to_string(), resource, verb.to_string())
}

/// Fails for any request in `seen` that `service_account`'s RBAC in `deploy/` does not allow.
pub fn assert_rbac_allows(service_account: &str, seen: &[Seen]) {
    let rules = rbac_rules(service_account);
    assert!(!rules.is_empty(), "no rules bound to {service_account}");
    let denied: Vec<String> = seen
        .iter()
        .filter(|s| !rules.iter().any(|rule| rule.allows(&s.method, &s.uri)))
        .map(|s| {
            format!(
                "{} {} ({:?})",
                s.method,
                s.uri,
                attributes(&s.method, &s.uri)
            )
        })
        .collect();
    assert!(
        denied.is_empty(),
        "deploy/rbac.yaml does not allow {service_account}:\n  {}",
        denied.join("\n  ")
    );
}
