//! Every request the controller sends to the API server, in one place: the paths, verbs, patch
//! content types and bodies are what a Kubernetes v1.28+ API server accepts.
//!
//! | what | request |
//! |---|---|
//! | the target's scale | `GET /apis/{group}/{version}/namespaces/{ns}/{resource}/{name}/scale` |
//! | rescale | `PATCH …/scale`, `application/merge-patch+json`, `{"metadata":{"resourceVersion":…},"spec":{"replicas":n}}` |
//! | the target's pods | `GET /api/v1/namespaces/{ns}/pods?labelSelector=…` |
//! | Resource metrics | `GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods?labelSelector=…` |
//! | Pods metrics | `GET /apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns}/pods/*/{metric}?labelSelector=…` |
//! | Object metrics | `GET /apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns}/{resource.group}/{name}/{metric}` |
//! | External metrics | `GET /apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{metric}?labelSelector=…` |
//! | HPAs on the same target | `GET /apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers` |
//! | status | `PATCH /apis/ebb.dev/v1alpha1/namespaces/{ns}/autoscalers/{name}/status`, merge patch with `metadata.resourceVersion` |
//! | events | `POST /apis/events.k8s.io/v1/namespaces/{ns}/events` |
//! | Knative's cluster defaults | `GET /api/v1/namespaces/knative-serving/configmaps/config-autoscaler` |
//!
//! Every write first checks the [`Fence`]: a replica that lost the lease writes nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use ebb_core::hpa::spec::{CrossVersionObjectReference, LabelSelector, MetricIdentifier};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::events::v1::Event as KubeEvent;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Client, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::crd::{Autoscaler, AutoscalerStatus};
use crate::error::{Error, Result};
use crate::leader::Fence;
use crate::metrics_api::{ExternalMetricValueList, MetricValueList, PodMetricsList};

/// The target's `/scale` as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetScale {
    /// `spec.replicas`.
    pub spec_replicas: i32,
    /// `status.replicas`.
    pub status_replicas: i32,
    /// `status.selector` (empty when the workload publishes none).
    pub selector: String,
    /// `metadata.resourceVersion`, the precondition of the next write.
    pub resource_version: Option<String>,
}

/// A client for the few endpoints the controller uses.
pub struct Cluster {
    client: Client,
    resources: Mutex<HashMap<(String, String), ApiResource>>,
}

impl Cluster {
    /// Wraps a client.
    pub fn new(client: Client) -> Self {
        Cluster {
            client,
            resources: Mutex::new(HashMap::new()),
        }
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Resource name, group and version of a kind. The workload kinds of the core API are
    /// known; anything else (a custom resource with a scale subresource) is discovered once.
    pub async fn resource(&self, api_version: &str, kind: &str) -> Result<ApiResource> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(found) = self.cached(&key) {
            return Ok(found);
        }
        let (group, version) = split_api_version(api_version, kind);
        let gvk = GroupVersionKind::gvk(&group, &version, kind);
        let resource = match well_known_plural(&group, kind) {
            Some(plural) => ApiResource::from_gvk_with_plural(&gvk, plural),
            None => kube::discovery::pinned_kind(&self.client, &gvk)
                .await
                .map(|(resource, _)| resource)
                .map_err(|e| Error::UnknownKind(format!("{kind} in {api_version}: {e}")))?,
        };
        if let Ok(mut cache) = self.resources.lock() {
            cache.insert(key, resource.clone());
        }
        Ok(resource)
    }

    fn cached(&self, key: &(String, String)) -> Option<ApiResource> {
        self.resources.lock().ok()?.get(key).cloned()
    }

    async fn scalable(
        &self,
        ns: &str,
        target: &CrossVersionObjectReference,
    ) -> Result<Api<DynamicObject>> {
        let resource = self.resource(&target.api_version, &target.kind).await?;
        Ok(Api::namespaced_with(self.client.clone(), ns, &resource))
    }

    /// `GET …/{name}/scale`.
    pub async fn get_scale(
        &self,
        ns: &str,
        target: &CrossVersionObjectReference,
    ) -> Result<TargetScale> {
        let scale = self
            .scalable(ns, target)
            .await?
            .get_scale(&target.name)
            .await?;
        Ok(TargetScale {
            spec_replicas: scale.spec.and_then(|s| s.replicas).unwrap_or(0),
            status_replicas: scale.status.as_ref().map_or(0, |s| s.replicas),
            selector: scale.status.and_then(|s| s.selector).unwrap_or_default(),
            resource_version: scale.metadata.resource_version,
        })
    }

    /// `PATCH …/{name}/scale` with a merge patch that carries the resourceVersion read, so the
    /// write fails with a conflict if the target changed in between.
    pub async fn patch_scale(
        &self,
        fence: &Fence,
        ns: &str,
        target: &CrossVersionObjectReference,
        replicas: i32,
        resource_version: Option<&str>,
    ) -> Result<()> {
        let api = self.scalable(ns, target).await?;
        let patch = json!({
            "metadata": { "resourceVersion": resource_version },
            "spec": { "replicas": replicas },
        });
        fence.check()?;
        api.patch_scale(&target.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// The pods of a selector.
    pub async fn list_pods(&self, ns: &str, selector: &str) -> Result<Vec<Pod>> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        Ok(api
            .list(&ListParams::default().labels(selector))
            .await?
            .items)
    }

    /// PodMetrics of a selector from `metrics.k8s.io`.
    pub async fn pod_metrics(&self, ns: &str, selector: &str) -> Result<PodMetricsList> {
        let path = format!("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods");
        self.get_json(&path, &[("labelSelector", selector)]).await
    }

    /// A per-pod custom metric of a selector's pods.
    pub async fn pods_metric(
        &self,
        ns: &str,
        selector: &str,
        metric: &MetricIdentifier,
    ) -> Result<MetricValueList> {
        let path = format!(
            "/apis/custom.metrics.k8s.io/v1beta2/namespaces/{ns}/pods/*/{}",
            segment(&metric.name)
        );
        let metric_selector = selector_string(metric.selector.as_ref());
        let mut query = vec![("labelSelector", selector)];
        if !metric_selector.is_empty() {
            query.push(("metricLabelSelector", metric_selector.as_str()));
        }
        self.get_json(&path, &query).await
    }

    /// A custom metric describing one object.
    pub async fn object_metric(
        &self,
        ns: &str,
        object: &CrossVersionObjectReference,
        metric: &MetricIdentifier,
    ) -> Result<MetricValueList> {
        let base = "/apis/custom.metrics.k8s.io/v1beta2";
        let name = segment(&metric.name);
        let path = if object.kind == "Namespace" {
            format!("{base}/namespaces/{}/metrics/{name}", segment(&object.name))
        } else {
            let resource = self.resource(&object.api_version, &object.kind).await?;
            let group_resource = if resource.group.is_empty() {
                resource.plural
            } else {
                format!("{}.{}", resource.plural, resource.group)
            };
            format!(
                "{base}/namespaces/{ns}/{group_resource}/{}/{name}",
                segment(&object.name)
            )
        };
        let metric_selector = selector_string(metric.selector.as_ref());
        let query: Vec<(&str, &str)> = if metric_selector.is_empty() {
            Vec::new()
        } else {
            vec![("metricLabelSelector", metric_selector.as_str())]
        };
        self.get_json(&path, &query).await
    }

    /// An external metric.
    pub async fn external_metric(
        &self,
        ns: &str,
        metric: &MetricIdentifier,
    ) -> Result<ExternalMetricValueList> {
        let path = format!(
            "/apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{}",
            segment(&metric.name)
        );
        let selector = selector_string(metric.selector.as_ref());
        let query: Vec<(&str, &str)> = if selector.is_empty() {
            Vec::new()
        } else {
            vec![("labelSelector", selector.as_str())]
        };
        self.get_json(&path, &query).await
    }

    /// Names of the HorizontalPodAutoscalers in `ns` that scale `target`.
    pub async fn hpas_on(
        &self,
        ns: &str,
        target: &CrossVersionObjectReference,
    ) -> Result<Vec<String>> {
        let api: Api<HorizontalPodAutoscaler> = Api::namespaced(self.client.clone(), ns);
        let list = api.list(&ListParams::default()).await?;
        Ok(list
            .items
            .iter()
            .filter(|h| {
                h.spec.as_ref().is_some_and(|s| {
                    s.scale_target_ref.kind == target.kind && s.scale_target_ref.name == target.name
                })
            })
            .map(|h| h.name_any())
            .collect())
    }

    /// `ip:port` of the ready endpoints of a Service, from its EndpointSlices, for the port
    /// named `port_name` (or the only port).
    pub async fn endpoints(&self, ns: &str, service: &str, port_name: &str) -> Result<Vec<String>> {
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), ns);
        let selector = format!("kubernetes.io/service-name={service}");
        let slices = api.list(&ListParams::default().labels(&selector)).await?;
        Ok(ready_endpoints(&slices.items, port_name)
            .into_iter()
            .map(|(ip, port)| {
                if ip.contains(':') {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                }
            })
            .collect())
    }

    /// Reads a ConfigMap; `None` when there is none of that name.
    pub async fn config_map(&self, ns: &str, name: &str) -> Result<Option<ConfigMap>> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), ns);
        Ok(api.get_opt(name).await?)
    }

    /// Reads an Autoscaler.
    pub async fn get_autoscaler(&self, ns: &str, name: &str) -> Result<Autoscaler> {
        let api: Api<Autoscaler> = Api::namespaced(self.client.clone(), ns);
        Ok(api.get(name).await?)
    }

    /// Writes an Autoscaler's status with a merge patch guarded by `resource_version`.
    pub async fn patch_status(
        &self,
        fence: &Fence,
        ns: &str,
        name: &str,
        resource_version: Option<&str>,
        status: &AutoscalerStatus,
    ) -> Result<Autoscaler> {
        let api: Api<Autoscaler> = Api::namespaced(self.client.clone(), ns);
        let patch = json!({
            "metadata": { "resourceVersion": resource_version },
            "status": status,
        });
        fence.check()?;
        Ok(api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?)
    }

    /// Records an event.
    pub async fn create_event(&self, fence: &Fence, event: &KubeEvent) -> Result<()> {
        let ns = event.metadata.namespace.clone().unwrap_or_default();
        let api: Api<KubeEvent> = Api::namespaced(self.client.clone(), &ns);
        fence.check()?;
        api.create(&PostParams::default(), event).await?;
        Ok(())
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T> {
        let uri = format!("{path}{}", query_string(query));
        let request = http::Request::get(&uri)
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| Error::Api(format!("cannot build the request for {uri}: {e}")))?;
        Ok(self.client.request::<T>(request).await?)
    }
}

/// The ready addresses of EndpointSlices with the port named `port_name` (or their only
/// port), deduplicated, in a stable order.
pub fn ready_endpoints(slices: &[EndpointSlice], port_name: &str) -> Vec<(String, u16)> {
    let mut out = std::collections::BTreeSet::new();
    for slice in slices {
        let ports = slice.ports.as_deref().unwrap_or_default();
        let port = ports
            .iter()
            .find(|p| p.name.as_deref() == Some(port_name))
            .or_else(|| (ports.len() == 1).then(|| &ports[0]))
            .and_then(|p| p.port)
            .and_then(|p| u16::try_from(p).ok());
        let Some(port) = port else { continue };
        for e in &slice.endpoints {
            let conditions = e.conditions.as_ref();
            // Upstream: a nil `ready` means ready; terminating endpoints are not.
            let ready = conditions.and_then(|c| c.ready).unwrap_or(true)
                && !conditions.and_then(|c| c.terminating).unwrap_or(false);
            if ready {
                out.extend(e.addresses.iter().map(|a| (a.clone(), port)));
            }
        }
    }
    out.into_iter().collect()
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`). An empty apiVersion picks the usual one of
/// the well-known workload kinds.
fn split_api_version(api_version: &str, kind: &str) -> (String, String) {
    if api_version.is_empty() {
        return match kind {
            "ReplicationController" => (String::new(), "v1".into()),
            _ => ("apps".into(), "v1".into()),
        };
    }
    match api_version.split_once('/') {
        Some((group, version)) => (group.to_string(), version.to_string()),
        None => (String::new(), api_version.to_string()),
    }
}

/// Plural resource names of kinds every cluster serves, so no discovery is needed for them.
fn well_known_plural(group: &str, kind: &str) -> Option<&'static str> {
    Some(match (group, kind) {
        ("apps", "Deployment") => "deployments",
        ("apps", "StatefulSet") => "statefulsets",
        ("apps", "ReplicaSet") => "replicasets",
        ("", "ReplicationController") => "replicationcontrollers",
        ("", "Service") => "services",
        ("", "Pod") => "pods",
        ("networking.k8s.io", "Ingress") => "ingresses",
        _ => return None,
    })
}

/// A label selector as the API's `labelSelector` parameter writes it.
pub fn selector_string(selector: Option<&LabelSelector>) -> String {
    let Some(s) = selector else {
        return String::new();
    };
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in &s.match_expressions {
        let mut values = e.values.clone();
        values.sort();
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({})", e.key, values.join(",")),
            "NotIn" => format!("{} notin ({})", e.key, values.join(",")),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => format!("{} {other} ({})", e.key, values.join(",")),
        });
    }
    parts.join(",")
}

/// `?a=b&c=d`, percent-encoded (empty without parameters).
pub(crate) fn query_string(query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("?{}", pairs.join("&"))
}

/// A path segment, percent-encoded.
fn segment(text: &str) -> String {
    encode(text)
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebb_core::hpa::spec::LabelSelectorRequirement;

    #[test]
    fn selectors_read_as_kubectl_writes_them() {
        let s = LabelSelector {
            match_labels: [("app".to_string(), "web".to_string())].into(),
            match_expressions: vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: vec!["b".into(), "a".into()],
                },
                LabelSelectorRequirement {
                    key: "canary".into(),
                    operator: "DoesNotExist".into(),
                    values: vec![],
                },
            ],
        };
        assert_eq!(selector_string(Some(&s)), "app=web,tier in (a,b),!canary");
        assert_eq!(selector_string(None), "");
    }

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            query_string(&[("labelSelector", "app=web,tier in (a,b)")]),
            "?labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29"
        );
        assert_eq!(query_string(&[]), "");
    }

    #[test]
    fn api_versions_split_into_group_and_version() {
        assert_eq!(
            split_api_version("apps/v1", "Deployment"),
            ("apps".into(), "v1".into())
        );
        assert_eq!(
            split_api_version("v1", "ReplicationController"),
            ("".into(), "v1".into())
        );
        assert_eq!(
            split_api_version("", "StatefulSet"),
            ("apps".into(), "v1".into())
        );
    }
}
