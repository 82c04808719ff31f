//! External metrics ebb computes itself: a Prometheus instant query, as KEDA's `prometheus`
//! trigger runs it (`GET {serverAddress}/api/v1/query?query=…`), and the small HTTP client the
//! controller uses outside the API server.

use std::time::Duration;

use bytes::Bytes;
use ebb_core::Quantity;
use ebb_core::units::QuantityFormat;
use ebb_manifest::kinds::autoscaler::PrometheusQuery;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use crate::api::{encode, query_string};

/// How long one request outside the API server may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest response read.
const MAX_BODY: usize = 4 << 20;

/// A plain-HTTP JSON client (Prometheus, gateways). Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpConnector, Empty<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient {
            inner: Client::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClient")
    }
}

impl HttpClient {
    /// `GET url`, expecting a 2xx JSON body.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!(
                "{url}: only http:// endpoints are supported (put a TLS-terminating proxy in front for https)"
            ));
        }
        let request = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::new())
            .map_err(|e| format!("cannot build the request for {url}: {e}"))?;
        let response = tokio::time::timeout(TIMEOUT, self.inner.request(request))
            .await
            .map_err(|_| format!("GET {url}: no answer within {}s", TIMEOUT.as_secs()))?
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        let body = tokio::time::timeout(
            TIMEOUT,
            http_body_util::Limited::new(response.into_body(), MAX_BODY).collect(),
        )
        .await
        .map_err(|_| {
            format!(
                "GET {url}: the body did not arrive within {}s",
                TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("GET {url}: {e}"))?
        .to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(format!("GET {url}: HTTP {status}: {}", text.trim()));
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: unexpected response: {e}"))
    }
}

/// The URL KEDA queries: `{serverAddress}/api/v1/query?query=…[&namespace=…]`.
pub fn query_url(q: &PrometheusQuery) -> String {
    let mut params = vec![("query", q.query.as_str())];
    if let Some(ns) = &q.namespace {
        params.push(("namespace", ns.as_str()));
    }
    format!(
        "{}/api/v1/query{}",
        q.server_address.trim_end_matches('/'),
        query_string(&params)
    )
}

/// Prometheus' answer to an instant query.
#[derive(Debug, Deserialize)]
pub struct QueryResponse {
    /// `success` or `error`.
    pub status: String,
    /// The data, on success.
    #[serde(default)]
    pub data: Option<QueryData>,
    /// The error, on failure.
    #[serde(default)]
    pub error: Option<String>,
}

/// `data` of a query response.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryData {
    /// `vector`, `scalar`, `matrix` or `string`.
    pub result_type: String,
    /// The result (its shape depends on the type).
    pub result: serde_json::Value,
}

/// The metric value of a query response, as KEDA reads it: one element (or a scalar); an empty
/// result is 0 when `ignore_null_values`, an error otherwise; more than one element, NaN and
/// infinities are errors. The value becomes a milli-quantity.
pub fn value_of(response: &QueryResponse, ignore_null_values: bool) -> Result<Quantity, String> {
    if response.status != "success" {
        return Err(format!(
            "prometheus query failed: {}",
            response.error.as_deref().unwrap_or("no error text")
        ));
    }
    let data = response
        .data
        .as_ref()
        .ok_or_else(|| "prometheus answered without data".to_string())?;
    let sample = match data.result_type.as_str() {
        "scalar" => Some(&data.result),
        "vector" => {
            let items = data
                .result
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if items.len() > 1 {
                return Err(format!(
                    "prometheus query returned {} elements; it must return one",
                    items.len()
                ));
            }
            items.first().and_then(|i| i.get("value"))
        }
        other => {
            return Err(format!(
                "prometheus query returned a {other}; it must return a vector or a scalar"
            ));
        }
    };
    let Some(sample) = sample else {
        return if ignore_null_values {
            Ok(Quantity::from_milli(0, QuantityFormat::DecimalSI))
        } else {
            Err(
                "prometheus query returned an empty result (set ignoreNullValues to read it as 0)"
                    .to_string(),
            )
        };
    };
    let text = sample
        .get(1)
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("prometheus sample {sample} has no value"))?;
    let value: f64 = text
        .parse()
        .map_err(|_| format!("prometheus value {text:?} is not a number"))?;
    if !value.is_finite() {
        return Err(format!("prometheus value is {text}"));
    }
    Ok(Quantity::from_milli(
        (value * 1000.0).round() as i64,
        QuantityFormat::DecimalSI,
    ))
}

/// Runs one query.
pub async fn query(client: &HttpClient, q: &PrometheusQuery) -> Result<Quantity, String> {
    let response: QueryResponse = client.get_json(&query_url(q)).await?;
    value_of(&response, q.ignore_null_values)
}

/// Path segment helper re-exported for the gateway stats URL.
pub(crate) fn path_segment(text: &str) -> String {
    encode(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(v: serde_json::Value) -> QueryResponse {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn one_element_is_the_value() {
        let r = response(json!({"status": "success", "data": {"resultType": "vector",
            "result": [{"metric": {}, "value": [1700000000.1, "12.5"]}]}}));
        assert_eq!(value_of(&r, false).unwrap().milli_value(), 12_500);
        let s = response(json!({"status": "success", "data": {"resultType": "scalar",
            "result": [1700000000.1, "3"]}}));
        assert_eq!(value_of(&s, false).unwrap().milli_value(), 3_000);
    }

    #[test]
    fn empty_results_follow_ignore_null_values() {
        let r =
            response(json!({"status": "success", "data": {"resultType": "vector", "result": []}}));
        assert_eq!(value_of(&r, true).unwrap().milli_value(), 0);
        assert!(
            value_of(&r, false)
                .unwrap_err()
                .contains("ignoreNullValues")
        );
    }

    #[test]
    fn bad_answers_are_errors() {
        let two = response(json!({"status": "success", "data": {"resultType": "vector",
            "result": [{"value": [1, "1"]}, {"value": [1, "2"]}]}}));
        assert!(value_of(&two, true).unwrap_err().contains("2 elements"));
        let nan = response(json!({"status": "success", "data": {"resultType": "vector",
            "result": [{"value": [1, "NaN"]}]}}));
        assert!(value_of(&nan, true).is_err());
        let failed = response(json!({"status": "error", "error": "parse error"}));
        assert!(value_of(&failed, true).unwrap_err().contains("parse error"));
    }

    #[test]
    fn the_query_is_encoded() {
        let q = PrometheusQuery {
            server_address: "http://prometheus.monitoring:9090/".into(),
            query: "sum(rate(http_requests_total{app=\"web\"}[2m]))".into(),
            activation_threshold: 0.0,
            namespace: Some("team-a".into()),
            ignore_null_values: true,
        };
        assert_eq!(
            query_url(&q),
            "http://prometheus.monitoring:9090/api/v1/query?query=sum%28rate%28http_requests_total%7Bapp%3D%22web%22%7D%5B2m%5D%29%29&namespace=team-a"
        );
    }
}
