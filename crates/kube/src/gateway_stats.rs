//! The load of class-kpa services, as ebb's in-cluster gateways measure it.
//!
//! Every gateway serves, per service, cumulative counters (Prometheus-style, so the reader's
//! cadence does not matter and a missed read loses nothing):
//!
//! `GET {gateway}/ebb/v1/stats/{namespace}/{name}` →
//! `{"requests": 1234, "concurrencySeconds": 567.8, "inFlight": 3, "held": 0}`
//!
//! - `requests`: requests received since the gateway started;
//! - `concurrencySeconds`: the integral of in-flight requests over time, in request-seconds
//!   (its increase over an interval divided by the interval is the average concurrency);
//! - `inFlight`, `held`: requests in flight now, and those of them held because no replica is
//!   ready (the gateway is the request holder while the service is at zero).
//!
//! The controller sums the rates of increase over all gateways, as Knative's autoscaler sums what the
//! activators and queue-proxies report.

use std::collections::HashMap;

use ebb_core::kpa::Stat;
use ebb_core::time::Instant;
use serde::{Deserialize, Serialize};

use crate::api::Cluster;
use crate::prometheus::{HttpClient, path_segment};

/// One gateway's counters for one service.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceCounters {
    /// Requests received since the gateway started.
    pub requests: u64,
    /// ∫ in-flight requests dt, in request-seconds.
    pub concurrency_seconds: f64,
    /// Requests in flight now.
    pub in_flight: u64,
    /// Requests held now (no ready replica).
    pub held: u64,
}

/// The path of a service's counters.
pub fn stats_path(namespace: &str, name: &str) -> String {
    format!(
        "/ebb/v1/stats/{}/{}",
        path_segment(namespace),
        path_segment(name)
    )
}

/// Where the gateways are: fixed URLs, or the ready endpoints of the gateway's Service (every
/// replica must be read, since each one sees only the requests it carries).
#[derive(Debug, Clone, Default)]
pub struct GatewayStats {
    /// Base URLs (`http://10.0.0.7:9091`), one per gateway replica.
    pub gateways: Vec<String>,
    /// The gateway Service whose EndpointSlices list the replicas: namespace, name, and the
    /// name of the port that serves the statistics.
    pub discover: Option<(String, String, String)>,
}

/// The load measured since the previous read, for the KPA collector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// Average concurrency and requests over the interval.
    pub stat: Stat,
    /// Requests held now, summed over the gateways.
    pub held: u64,
}

/// The previous readings of one service, per gateway.
#[derive(Debug, Clone, Default)]
pub struct Readings {
    last: HashMap<String, (ServiceCounters, Instant)>,
}

impl Readings {
    /// Folds new counters into a load: the increase since the last reading of each gateway
    /// (a gateway whose counters went down restarted: its counters are the increase). The
    /// first reading of a gateway only sets the baseline.
    pub fn load(&mut self, now: Instant, current: &[(String, ServiceCounters)]) -> Option<Load> {
        let mut concurrency = 0.0;
        let mut requests = 0.0;
        let mut held = 0;
        let mut any = false;
        for (gateway, c) in current {
            held += c.held;
            if let Some((prev, at)) = self.last.get(gateway) {
                let seconds = now.since(*at).as_secs_f64();
                let restarted =
                    c.requests < prev.requests || c.concurrency_seconds < prev.concurrency_seconds;
                let (dr, dc) = if restarted {
                    (c.requests as f64, c.concurrency_seconds)
                } else {
                    (
                        (c.requests - prev.requests) as f64,
                        c.concurrency_seconds - prev.concurrency_seconds,
                    )
                };
                if seconds > 0.0 {
                    concurrency += dc / seconds;
                    requests += dr / seconds;
                    any = true;
                }
            }
            self.last.insert(gateway.clone(), (*c, now));
        }
        any.then_some(Load {
            stat: Stat::new(concurrency, requests),
            held,
        })
    }
}

impl GatewayStats {
    /// Reads every gateway's counters for a service; gateways that fail are left out (and
    /// logged), as Knative skips pods it cannot scrape.
    pub async fn read(
        &self,
        cluster: &Cluster,
        http: &HttpClient,
        namespace: &str,
        name: &str,
    ) -> Vec<(String, ServiceCounters)> {
        let path = stats_path(namespace, name);
        let mut bases = self.gateways.clone();
        if let Some((ns, service, port)) = &self.discover {
            match cluster.endpoints(ns, service, port).await {
                Ok(found) => bases.extend(found.into_iter().map(|a| format!("http://{a}"))),
                Err(error) => tracing::warn!(%error, "Cannot list the gateway's endpoints."),
            }
        }
        let mut out = Vec::with_capacity(bases.len());
        for base in &bases {
            let url = format!("{}{path}", base.trim_end_matches('/'));
            match http.get_json::<ServiceCounters>(&url).await {
                Ok(c) => out.push((base.clone(), c)),
                Err(error) => tracing::warn!(%error, "Cannot read a gateway's statistics."),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(requests: u64, concurrency_seconds: f64) -> ServiceCounters {
        ServiceCounters {
            requests,
            concurrency_seconds,
            in_flight: 0,
            held: 0,
        }
    }

    #[test]
    fn increases_over_the_interval_become_a_stat() {
        let mut r = Readings::default();
        let t0 = Instant::from_secs(100);
        assert_eq!(
            r.load(t0, &[("a".into(), counters(10, 5.0))]),
            None,
            "a baseline only"
        );
        let load = r
            .load(
                Instant::from_secs(102),
                &[
                    ("a".into(), counters(30, 11.0)),
                    ("b".into(), counters(7, 1.0)),
                ],
            )
            .unwrap();
        // a: 20 requests, 6 request-seconds over 2 s → 10 requests/s at concurrency 3; b is new
        // (a baseline).
        assert_eq!(load.stat, Stat::new(3.0, 10.0));
        let load = r
            .load(
                Instant::from_secs(103),
                &[
                    ("a".into(), counters(2, 0.5)),
                    ("b".into(), counters(9, 2.0)),
                ],
            )
            .unwrap();
        // a restarted: its counters are the increase; b: 2 requests, 1 request-second.
        assert_eq!(load.stat, Stat::new(1.5, 4.0));
    }

    #[test]
    fn paths_are_escaped() {
        assert_eq!(
            stats_path("default", "sentiment"),
            "/ebb/v1/stats/default/sentiment"
        );
        assert_eq!(stats_path("a b", "c/d"), "/ebb/v1/stats/a%20b/c%2Fd");
    }
}
