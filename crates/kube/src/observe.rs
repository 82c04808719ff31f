//! Reading what one HPA sync needs from the cluster: the target's pods and the value of each
//! metric of the spec, each source with its own error, as the engine expects them.

use ebb_core::hpa::observe::{
    ApiResult, ExternalMetricReading, HpaObservation, ObjectMetricReading, PodsMetricReading, Scale,
};
use ebb_core::hpa::spec::{MetricSourceType, MetricSpec};
use ebb_core::time::Instant;
use ebb_manifest::kinds::autoscaler::ExternalMetric;

use crate::api::{Cluster, TargetScale};
use crate::metrics_api;
use crate::prometheus::{self, HttpClient};
use crate::sync::Context;

/// The readings of one selector, reused when a conflict makes the sync read the scale again.
#[derive(Debug, Clone)]
pub struct Readings {
    selector: String,
    observation: HpaObservation,
}

/// Everything an HPA sync reads. `scale` is the result of reading `/scale`; pods and metrics
/// are read only when there is a usable selector, and `previous` readings of the same
/// selector are reused.
pub async fn observe(
    ctx: &Context,
    ns: &str,
    metrics: &[MetricSpec],
    external: &[ExternalMetric],
    scale: &Result<TargetScale, String>,
    now: Instant,
    previous: Option<Readings>,
) -> Readings {
    let (cluster, http) = (&ctx.cluster, &ctx.http);
    let engine_scale: ApiResult<Scale> = scale.as_ref().map_err(Clone::clone).map(|s| Scale {
        spec_replicas: s.spec_replicas,
        status_replicas: s.status_replicas,
        selector: s.selector.clone(),
    });
    let selector = engine_scale
        .as_ref()
        .map(|s| s.selector.clone())
        .unwrap_or_default();
    if let Some(mut previous) = previous
        && previous.selector == selector
    {
        previous.observation.now = now;
        previous.observation.scale = engine_scale;
        return previous;
    }
    let mut obs = HpaObservation {
        now,
        scale: engine_scale,
        pods: Vec::new(),
        other_hpas_selecting_pods: Vec::new(),
        resource_metrics: Ok(Vec::new()),
        pods_metrics: Vec::new(),
        object_metrics: Vec::new(),
        external_metrics: Vec::new(),
    };
    if obs.scale.is_err() || selector.is_empty() {
        return Readings {
            selector,
            observation: obs,
        };
    }
    match cluster.list_pods(ns, &selector).await {
        Ok(pods) => obs.pods = pods.iter().map(metrics_api::engine_pod).collect(),
        Err(e) => {
            tracing::warn!(namespace = ns, %selector, error = %e, "Cannot list the target's pods.")
        }
    }
    let wants = |kind| metrics.iter().any(|m| m.kind == kind);
    if wants(MetricSourceType::Resource) || wants(MetricSourceType::ContainerResource) {
        obs.resource_metrics = cluster
            .pod_metrics(ns, &selector)
            .await
            .map(|list| metrics_api::resource_samples(&list))
            .map_err(|e| format!("unable to get metrics for resource: {e}"));
    }
    for m in metrics {
        match m.kind {
            MetricSourceType::Pods => {
                let Some(s) = &m.pods else { continue };
                let values = cluster
                    .pods_metric(ns, &selector, &s.metric)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|list| metrics_api::pod_values(&list));
                obs.pods_metrics.push(PodsMetricReading {
                    metric: s.metric.name.clone(),
                    values,
                });
            }
            MetricSourceType::Object => {
                let Some(s) = &m.object else { continue };
                let value = cluster
                    .object_metric(ns, &s.described_object, &s.metric)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|list| metrics_api::object_value(&list));
                obs.object_metrics.push(ObjectMetricReading {
                    metric: s.metric.name.clone(),
                    object: s.described_object.clone(),
                    value,
                });
            }
            MetricSourceType::External => {
                let Some(s) = &m.external else { continue };
                let values = external_values(cluster, http, ns, s, external).await;
                obs.external_metrics.push(ExternalMetricReading {
                    metric: s.metric.name.clone(),
                    values,
                });
            }
            MetricSourceType::Resource | MetricSourceType::ContainerResource => {}
        }
    }
    Readings {
        selector,
        observation: obs,
    }
}

impl Readings {
    /// The observation the engine plans with.
    pub fn observation(&self) -> &HpaObservation {
        &self.observation
    }

    /// Names other autoscalers that also scale the target (the engine refuses, as upstream
    /// does for pods claimed by several HPAs).
    pub fn set_other_autoscalers(&mut self, others: Vec<String>) {
        self.observation.other_hpas_selecting_pods = others;
    }
}

/// An External metric: from Prometheus when the spec says how ebb computes it, from the
/// external metrics API otherwise.
async fn external_values(
    cluster: &Cluster,
    http: &HttpClient,
    ns: &str,
    source: &ebb_core::hpa::spec::ExternalMetricSource,
    external: &[ExternalMetric],
) -> ApiResult<Vec<ebb_core::Quantity>> {
    match external.iter().find(|e| e.name == source.metric.name) {
        Some(ExternalMetric {
            prometheus: Some(q), ..
        }) => prometheus::query(http, q).await.map(|v| vec![v]),
        Some(ExternalMetric { cron: Some(_), .. }) => Err(
            "cron schedules are not evaluated by ebb controller yet: use KEDA's cron scaler through the external metrics API"
                .to_string(),
        ),
        _ => cluster
            .external_metric(ns, &source.metric)
            .await
            .map_err(|e| e.to_string())
            .and_then(|list| metrics_api::external_values(&list)),
    }
}
