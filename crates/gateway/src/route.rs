//! Which service a request is for: by Host, by the model name in a KServe path, or the only one.

use std::collections::HashMap;
use std::fmt::Write;

use crate::config::{GatewayConfig, service_hosts, service_models};

/// The routing table, built once from the configuration.
#[derive(Debug)]
pub(crate) struct Router {
    by_host: HashMap<String, usize>,
    by_model: HashMap<String, usize>,
    /// The fallback when exactly one service exists.
    single: Option<usize>,
    /// The body of a 404: what exists and how to reach it.
    listing: String,
}

impl Router {
    pub(crate) fn new(config: &GatewayConfig) -> Router {
        let mut by_host = HashMap::new();
        let mut by_model = HashMap::new();
        let mut listing = String::from("services:\n");
        for (i, service) in config.services.iter().enumerate() {
            let hosts = service_hosts(service, &config.domain);
            let models: Vec<&str> = service_models(service).collect();
            let _ = writeln!(
                listing,
                "  {}: hosts {}; models {}",
                service.name,
                hosts.join(", "),
                models.join(", ")
            );
            for host in hosts {
                by_host.entry(host).or_insert(i);
            }
            for model in models {
                by_model.entry(model.to_string()).or_insert(i);
            }
        }
        let single = (config.services.len() == 1).then_some(0);
        Router {
            by_host,
            by_model,
            single,
            listing,
        }
    }

    /// The index of the service for a request with this Host (or `:authority`) and path.
    pub(crate) fn route(&self, host: Option<&str>, path: &str) -> Option<usize> {
        host.and_then(|h| self.by_host(h))
            .or_else(|| model_name(path).and_then(|m| self.by_model.get(m).copied()))
            .or(self.single)
    }

    /// What to tell a client whose request matched nothing.
    pub(crate) fn not_found_body(&self, host: Option<&str>, path: &str) -> String {
        format!(
            "no service for host {:?} and path {:?}; route by host or by \
             /v1/models/{{name}} or /v2/models/{{name}} paths.\n{}",
            host.unwrap_or(""),
            path,
            self.listing
        )
    }

    fn by_host(&self, host: &str) -> Option<usize> {
        let host = strip_port(host).trim_end_matches('.');
        match self.by_host.get(host) {
            Some(&i) => Some(i),
            None if host.bytes().any(|b| b.is_ascii_uppercase()) => {
                self.by_host.get(&host.to_ascii_lowercase()).copied()
            }
            None => None,
        }
    }
}

/// `example.com:8080` → `example.com`; IPv6 literals (`[::1]:80`) are left whole.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// The model name in a KServe v1 or v2 (Open Inference Protocol) path.
///
/// `/v1/models/{name}`, `/v1/models/{name}:predict` (any verb), `/v2/models/{name}`,
/// `/v2/models/{name}/infer`, `/v2/models/{name}/ready`, `/v2/models/{name}/versions/...`.
pub(crate) fn model_name(path: &str) -> Option<&str> {
    let name = if let Some(rest) = path.strip_prefix("/v1/models/") {
        rest.split([':', '/']).next()
    } else if let Some(rest) = path.strip_prefix("/v2/models/") {
        rest.split('/').next()
    } else {
        None
    };
    name.filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServiceConfig;

    fn router() -> Router {
        let mut iris = ServiceConfig::new("iris");
        iris.namespace = "models".into();
        iris.hosts = vec!["Iris.Internal".into()];
        let mut llm = ServiceConfig::new("llm");
        llm.models = vec!["llama-3".into()];
        Router::new(&GatewayConfig::new(vec![iris, llm]))
    }

    #[test]
    fn routes_by_host_forms() {
        let r = router();
        assert_eq!(r.route(Some("iris.models.example.com"), "/"), Some(0));
        assert_eq!(r.route(Some("iris.models.example.com:8080"), "/"), Some(0));
        assert_eq!(r.route(Some("IRIS.localhost"), "/"), Some(0));
        assert_eq!(r.route(Some("iris.internal."), "/"), Some(0));
        assert_eq!(r.route(Some("llm.default.example.com"), "/"), Some(1));
        assert_eq!(r.route(Some("llm.localhost:1234"), "/x"), Some(1));
        // the service is in namespace `models`, not `default`
        assert_eq!(r.route(Some("iris.default.example.com"), "/"), None);
    }

    #[test]
    fn routes_by_model_name_in_kserve_paths() {
        let r = router();
        for path in [
            "/v1/models/llm:predict",
            "/v1/models/llm",
            "/v1/models/llama-3:explain",
            "/v2/models/llm/infer",
            "/v2/models/llama-3/ready",
            "/v2/models/llm",
            "/v2/models/llm/versions/2/infer",
        ] {
            assert_eq!(r.route(Some("127.0.0.1:8080"), path), Some(1), "{path}");
        }
        assert_eq!(r.route(None, "/v2/models/iris/infer"), Some(0));
        assert_eq!(r.route(None, "/v2/models/nope/infer"), None);
        assert_eq!(r.route(None, "/v2/models//infer"), None);
    }

    #[test]
    fn host_wins_over_path() {
        assert_eq!(
            router().route(Some("iris.localhost"), "/v2/models/llm/infer"),
            Some(0)
        );
    }

    #[test]
    fn a_single_service_takes_everything() {
        let r = Router::new(&GatewayConfig::new(vec![ServiceConfig::new("only")]));
        assert_eq!(
            r.route(Some("anything:80"), "/v2/models/other/infer"),
            Some(0)
        );
        assert_eq!(r.route(None, "/"), Some(0));
    }

    #[test]
    fn not_found_lists_what_exists() {
        let body = router().not_found_body(Some("x.test"), "/v2/models/nope/infer");
        assert!(body.contains("\"x.test\""), "{body}");
        assert!(
            body.contains(
                "iris: hosts iris.models.example.com, iris.localhost, iris.internal; models iris"
            ),
            "{body}"
        );
        assert!(
            body.contains("llm: hosts llm.default.example.com, llm.localhost; models llm, llama-3"),
            "{body}"
        );
    }

    #[test]
    fn ports_and_ipv6_literals() {
        assert_eq!(strip_port("a.b:80"), "a.b");
        assert_eq!(strip_port("a.b"), "a.b");
        assert_eq!(strip_port("[::1]:80"), "[::1]:80");
    }
}
