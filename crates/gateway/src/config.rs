//! What the gateway is built from: services, their limits, and connection limits.
//!
//! Plain data with defaults taken from Knative where a default exists upstream. [`validate`]
//! checks everything once, before anything listens, and reports every problem with the field's
//! path and what would be valid.

use std::collections::HashMap;
use std::time::Duration;

use ebb_core::FieldError;

/// Knative's activator queue depth (`breakerQueueDepth`), our default per-service bound.
pub const DEFAULT_QUEUE_DEPTH: u32 = 10_000;
/// Knative's default request timeout (`revision-timeout-seconds`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// Inference payloads (images, tensors) are large; nginx's 1 MiB default is far too small.
pub const DEFAULT_MAX_REQUEST_BODY_BYTES: u64 = 100 * 1024 * 1024;
/// KServe's default ingress domain.
pub const DEFAULT_DOMAIN: &str = "example.com";
/// hyper refuses header buffers below 8 KiB.
pub const MIN_HEADER_BYTES: usize = 8 * 1024;
/// Far above any file-descriptor limit; keeps the connection semaphore in its range.
pub const MAX_CONNECTIONS: usize = 1 << 24;

/// The whole gateway: the services it routes to and the limits on client connections.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    /// Domain of `{name}.{namespace}.{domain}` hosts; `example.com` as in KServe.
    pub domain: String,
    /// The services, in the order they are listed in 404 bodies.
    pub services: Vec<ServiceConfig>,
    /// Limits that keep a slow or hostile client from exhausting the gateway.
    pub limits: Limits,
    /// Whose answers the gateway gives where ebb deliberately differs from Knative.
    pub answers: Answers,
    /// How a request's replica is chosen among those with a free slot.
    pub balancing: Balancing,
}

impl GatewayConfig {
    /// A gateway for `services` with default domain and limits.
    pub fn new(services: Vec<ServiceConfig>) -> Self {
        GatewayConfig {
            domain: DEFAULT_DOMAIN.to_string(),
            services,
            limits: Limits::default(),
            answers: Answers::default(),
            balancing: Balancing::default(),
        }
    }
}

/// One routable service (a KServe InferenceService, a Knative Service, a local model server).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    /// DNS-1123 label; also the default model name in KServe paths.
    pub name: String,
    /// Namespace for the `{name}.{namespace}.{domain}` host.
    pub namespace: String,
    /// More hosts that route here (exact match, case-insensitive, port ignored).
    pub hosts: Vec<String>,
    /// More model names that route here in `/v1/models/{name}` and `/v2/models/{name}` paths.
    pub models: Vec<String>,
    /// Hard limit of in-flight requests per replica; 0 = unlimited (Knative's meaning).
    pub container_concurrency: u32,
    /// Most requests that may wait for a replica (held at zero or queued for a free slot).
    pub queue_depth: u32,
    /// Longest a request may wait in the queue before it is answered 503/504.
    pub queue_timeout: Duration,
    /// Longest from a request's arrival until its replica's response headers, time spent
    /// waiting for a replica included (as Knative's timeout handler counts); then 504. A
    /// response that has started is not cut off by it.
    pub response_timeout: Duration,
    /// Longest a replica may send nothing once its response has started; the response is then
    /// cut off. `None`: no limit (Knative's `idleTimeoutSeconds: 0`).
    pub response_idle_timeout: Option<Duration>,
    /// Largest request body accepted; larger ones get 413.
    pub max_request_body_bytes: u64,
}

/// Where ebb's gateway deliberately answers otherwise than Knative, whose answer it gives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Answers {
    /// ebb's: a request held at zero past its wait gets 504 (nothing is overloaded: no
    /// replica came up in time), and a response cut at `responseIdleTimeout` ends abnormally,
    /// so its client can tell it is incomplete.
    #[default]
    Ebb,
    /// Knative's: 503 for a request held at zero past its wait, as the activator answers; a
    /// response cut at `responseIdleTimeout` gets the gateway's message as its last data and
    /// ends as if complete where its framing allows (chunked between chunks, HTTP/2,
    /// close-delimited), as queue-proxy ends it.
    Knative,
}

/// How the gateway chooses a replica among those with a free slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Balancing {
    /// ebb's: the less loaded (fewer requests in flight) of two replicas drawn at random, at
    /// every `containerConcurrency`.
    #[default]
    LeastOfTwo,
    /// Knative's activator's: least-of-two at `containerConcurrency` 0, the first replica
    /// (oldest first) with a free slot at 1–3, round robin over replicas with a free slot
    /// above 3.
    Knative,
}

impl ServiceConfig {
    /// A service named `name` in namespace `default`, with Knative's defaults.
    pub fn new(name: impl Into<String>) -> Self {
        ServiceConfig {
            name: name.into(),
            namespace: "default".to_string(),
            hosts: Vec::new(),
            models: Vec::new(),
            container_concurrency: 0,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            queue_timeout: DEFAULT_TIMEOUT,
            response_timeout: DEFAULT_TIMEOUT,
            response_idle_timeout: None,
            max_request_body_bytes: DEFAULT_MAX_REQUEST_BODY_BYTES,
        }
    }
}

impl ServiceConfig {
    /// A Knative revision's timeouts (`None`: not set), as queue-proxy applies them: all three
    /// run from the request's arrival, and each that passes before the response has started
    /// answers 504. So `request` (`timeoutSeconds`, default 300 s) bounds the wait for a
    /// replica, and the response must start within the shortest of `request`,
    /// `response_start` (`responseStartTimeoutSeconds`; `None`: `request`, as KServe sets it)
    /// and `idle` (`idleTimeoutSeconds`). Once it has started, only `idle` applies, to the
    /// replica's silences: a stream runs past `request`, as it does upstream.
    pub fn apply_knative_timeouts(
        &mut self,
        request: Option<Duration>,
        response_start: Option<Duration>,
        idle: Option<Duration>,
    ) {
        let request = request.unwrap_or(DEFAULT_TIMEOUT);
        self.queue_timeout = request;
        self.response_timeout = [response_start, idle]
            .into_iter()
            .flatten()
            .fold(request, Duration::min);
        self.response_idle_timeout = idle;
    }
}

/// Limits on client connections.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Time a client has to send a request's headers; also how long an idle keep-alive
    /// connection is kept (hyper starts the timer when it waits for the next request).
    pub header_read_timeout: Duration,
    /// Longest a client may send nothing while the gateway waits for more of its request body;
    /// it then gets 408 and the replica connection is dropped, so a stalled upload does not
    /// hold a replica's slot for the whole `responseTimeout` (nginx's `client_body_timeout`).
    pub body_read_timeout: Duration,
    /// Largest request head (request line plus headers); larger gets 431.
    pub max_header_bytes: usize,
    /// Most open client connections; beyond it new connections wait in the listen backlog.
    pub max_connections: usize,
    /// Most idle pooled connections kept per replica and thread.
    pub max_idle_per_replica: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(60),
            max_header_bytes: 64 * 1024,
            max_connections: 10_000,
            max_idle_per_replica: 256,
        }
    }
}

/// The configuration is invalid; every problem found is listed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid gateway configuration:{}", list(.0))]
pub struct ConfigError(pub Vec<FieldError>);

fn list(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("\n  {e}")).collect()
}

/// Check everything at once; `Ok` means the gateway can be built from `config`.
pub fn validate(config: &GatewayConfig) -> Result<(), ConfigError> {
    let mut errors = Vec::new();
    if !is_dns_subdomain(&config.domain) {
        errors.push(FieldError::invalid(
            "domain",
            &config.domain,
            "must be a DNS subdomain: lowercase letters, digits, '-' and '.'",
        ));
    }
    if config.services.is_empty() {
        errors.push(FieldError::required(
            "services",
            "at least one service is required",
        ));
    }
    let mut names = HashMap::new();
    let mut hosts = HashMap::new();
    let mut models = HashMap::new();
    for (i, service) in config.services.iter().enumerate() {
        let at = |field: &str| format!("services[{i}].{field}");
        validate_service(service, &at, &mut errors);
        claim(&mut names, &service.name, i, &at("name"), &mut errors);
        for host in service_hosts(service, &config.domain) {
            claim(&mut hosts, &host, i, &at("hosts"), &mut errors);
        }
        for model in service_models(service) {
            claim(&mut models, model, i, &at("models"), &mut errors);
        }
    }
    validate_limits(&config.limits, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigError(errors))
    }
}

fn validate_service(
    service: &ServiceConfig,
    at: &dyn Fn(&str) -> String,
    errors: &mut Vec<FieldError>,
) {
    if !is_dns_label(&service.name) {
        errors.push(FieldError::invalid(
            at("name"),
            &service.name,
            "must be a DNS-1123 label: 1-63 lowercase letters, digits or '-', \
             starting and ending with a letter or digit",
        ));
    }
    if !is_dns_label(&service.namespace) {
        errors.push(FieldError::invalid(
            at("namespace"),
            &service.namespace,
            "must be a DNS-1123 label: 1-63 lowercase letters, digits or '-'",
        ));
    }
    for (j, host) in service.hosts.iter().enumerate() {
        if !is_dns_subdomain(&host.to_ascii_lowercase()) {
            errors.push(FieldError::invalid(
                format!("{}[{j}]", at("hosts")),
                host,
                "must be a host name without port: letters, digits, '-' and '.'",
            ));
        }
    }
    for (j, model) in service.models.iter().enumerate() {
        if model.is_empty() || model.contains(['/', ':', '?', '#']) {
            errors.push(FieldError::invalid(
                format!("{}[{j}]", at("models")),
                model,
                "must be a non-empty model name without '/', ':', '?' or '#'",
            ));
        }
    }
    if service.queue_depth == 0 {
        errors.push(FieldError::invalid(
            at("queueDepth"),
            0,
            "must be at least 1: requests held at zero wait in this queue",
        ));
    }
    for (field, value) in [
        ("queueTimeout", service.queue_timeout),
        ("responseTimeout", service.response_timeout),
        (
            "responseIdleTimeout",
            service.response_idle_timeout.unwrap_or(Duration::MAX),
        ),
    ] {
        if value.is_zero() {
            errors.push(FieldError::invalid(
                at(field),
                "0s",
                "must be greater than 0s",
            ));
        }
    }
}

fn validate_limits(limits: &Limits, errors: &mut Vec<FieldError>) {
    for (field, value) in [
        ("limits.headerReadTimeout", limits.header_read_timeout),
        ("limits.bodyReadTimeout", limits.body_read_timeout),
    ] {
        if value.is_zero() {
            errors.push(FieldError::invalid(field, "0s", "must be greater than 0s"));
        }
    }
    if limits.max_header_bytes < MIN_HEADER_BYTES {
        errors.push(FieldError::invalid(
            "limits.maxHeaderBytes",
            limits.max_header_bytes,
            format!("must be at least {MIN_HEADER_BYTES}"),
        ));
    }
    if limits.max_connections == 0 || limits.max_connections > MAX_CONNECTIONS {
        errors.push(FieldError::invalid(
            "limits.maxConnections",
            limits.max_connections,
            format!("must be between 1 and {MAX_CONNECTIONS}"),
        ));
    }
}

/// Record that `key` belongs to service `owner`; a second owner is an error.
fn claim(
    seen: &mut HashMap<String, usize>,
    key: &str,
    owner: usize,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    match seen.get(key) {
        Some(&first) if first != owner => errors.push(FieldError::invalid(
            path,
            key,
            format!("already routes to services[{first}]; each host and model name must be unique"),
        )),
        Some(_) => {}
        None => {
            seen.insert(key.to_string(), owner);
        }
    }
}

/// Every host that routes to `service`, lowercased.
pub(crate) fn service_hosts(service: &ServiceConfig, domain: &str) -> Vec<String> {
    let mut hosts = vec![
        format!("{}.{}.{}", service.name, service.namespace, domain),
        format!("{}.localhost", service.name),
    ];
    hosts.extend(
        service
            .hosts
            .iter()
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase()),
    );
    hosts
}

/// Every model name that routes to `service`: its own name first.
pub(crate) fn service_models(service: &ServiceConfig) -> impl Iterator<Item = &str> {
    std::iter::once(service.name.as_str()).chain(service.models.iter().map(String::as_str))
}

fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !s.is_empty()
        && s.len() <= 63
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knative_timeouts_set_the_wait_the_response_start_and_the_silences() {
        // The response must start within the shortest of the three; the wait is `request`.
        let secs = Duration::from_secs;
        let timeouts = |request, start, idle| {
            let mut s = ServiceConfig::new("svc");
            s.apply_knative_timeouts(request, start, idle);
            (s.queue_timeout, s.response_timeout, s.response_idle_timeout)
        };
        assert_eq!(
            timeouts(None, None, None),
            (DEFAULT_TIMEOUT, DEFAULT_TIMEOUT, None)
        );
        assert_eq!(
            timeouts(Some(secs(600)), None, None),
            (secs(600), secs(600), None)
        );
        assert_eq!(
            timeouts(Some(secs(600)), Some(secs(30)), Some(secs(40))),
            (secs(600), secs(30), Some(secs(40)))
        );
        assert_eq!(
            timeouts(Some(secs(600)), Some(secs(30)), Some(secs(20))),
            (secs(600), secs(20), Some(secs(20)))
        );
        assert_eq!(
            timeouts(None, Some(secs(30)), None),
            (DEFAULT_TIMEOUT, secs(30), None)
        );
        assert_eq!(
            timeouts(Some(secs(60)), Some(secs(120)), None),
            (secs(60), secs(60), None)
        );
    }

    fn paths(config: &GatewayConfig) -> Vec<String> {
        match validate(config) {
            Ok(()) => Vec::new(),
            Err(ConfigError(errors)) => errors.into_iter().map(|e| e.path).collect(),
        }
    }

    #[test]
    fn defaults_are_valid() {
        let config = GatewayConfig::new(vec![ServiceConfig::new("iris"), ServiceConfig::new("b")]);
        assert_eq!(paths(&config), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let mut bad = ServiceConfig::new("Iris");
        bad.queue_depth = 0;
        bad.queue_timeout = Duration::ZERO;
        bad.models = vec!["a/b".into()];
        let mut config = GatewayConfig::new(vec![bad]);
        config.limits.max_header_bytes = 100;
        config.limits.max_connections = usize::MAX;
        assert_eq!(
            paths(&config),
            [
                "services[0].name",
                "services[0].models[0]",
                "services[0].queueDepth",
                "services[0].queueTimeout",
                "limits.maxHeaderBytes",
                "limits.maxConnections"
            ]
        );
    }

    #[test]
    fn hosts_and_models_must_be_unique_across_services() {
        let mut a = ServiceConfig::new("a");
        a.hosts = vec!["api.test".into()];
        a.models = vec!["shared".into()];
        let mut b = ServiceConfig::new("b");
        b.hosts = vec!["API.test".into()];
        b.models = vec!["shared".into(), "a".into()];
        let err = validate(&GatewayConfig::new(vec![a, b])).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.0.len(), 3, "{text}");
        assert!(text.contains("already routes to services[0]"), "{text}");
    }

    #[test]
    fn no_services_is_an_error() {
        assert_eq!(paths(&GatewayConfig::new(vec![])), ["services"]);
    }
}
