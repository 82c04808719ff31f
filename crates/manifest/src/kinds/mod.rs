//! The kinds ebb reads, one module each, and the dispatch from a document's `apiVersion` and
//! `kind` to its Rust type.

pub mod autoscaler;
pub mod config;
pub mod defaults;
pub mod hpa;
pub mod keda;
pub mod kserve;
pub mod meta;
pub mod pod;
pub mod serverless;
pub mod workload;

use serde::de::DeserializeOwned;

use crate::parse::{TypeError, parse_document};
use crate::yaml::index::Node;

/// One object read from a manifest.
#[derive(Debug, Clone, PartialEq)]
pub enum Manifest {
    /// apps/v1 Deployment.
    Deployment(workload::Deployment),
    /// v1 Service.
    Service(workload::Service),
    /// v1 ConfigMap.
    ConfigMap(config::ConfigMap),
    /// v1 Secret.
    Secret(config::Secret),
    /// autoscaling/v2 (or v2beta2) HorizontalPodAutoscaler.
    Hpa(hpa::Hpa),
    /// autoscaling/v1 HorizontalPodAutoscaler.
    HpaV1(hpa::HpaV1),
    /// serving.kserve.io/v1beta1 InferenceService.
    InferenceService(Box<kserve::InferenceService>),
    /// serving.knative.dev/v1 Service.
    KnativeService(kserve::KnativeService),
    /// keda.sh/v1alpha1 ScaledObject.
    ScaledObject(keda::ScaledObject),
    /// ebb.dev/v1alpha1 Autoscaler.
    Autoscaler(autoscaler::Autoscaler),
}

impl Manifest {
    /// The object's metadata.
    pub fn metadata(&self) -> &meta::ObjectMeta {
        match self {
            Manifest::Deployment(o) => &o.metadata,
            Manifest::Service(o) => &o.metadata,
            Manifest::ConfigMap(o) => &o.metadata,
            Manifest::Secret(o) => &o.metadata,
            Manifest::Hpa(o) => &o.metadata,
            Manifest::HpaV1(o) => &o.metadata,
            Manifest::InferenceService(o) => &o.metadata,
            Manifest::KnativeService(o) => &o.metadata,
            Manifest::ScaledObject(o) => &o.metadata,
            Manifest::Autoscaler(o) => &o.metadata,
        }
    }

    /// The kind as written in manifests.
    pub fn kind(&self) -> &'static str {
        match self {
            Manifest::Deployment(_) => "Deployment",
            Manifest::Service(_) | Manifest::KnativeService(_) => "Service",
            Manifest::ConfigMap(_) => "ConfigMap",
            Manifest::Secret(_) => "Secret",
            Manifest::Hpa(_) | Manifest::HpaV1(_) => "HorizontalPodAutoscaler",
            Manifest::InferenceService(_) => "InferenceService",
            Manifest::ScaledObject(_) => "ScaledObject",
            Manifest::Autoscaler(_) => "Autoscaler",
        }
    }

    /// `Kind/name`, as kubectl names objects.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.kind(), self.metadata().name)
    }
}

/// A document's `apiVersion` and `kind`, read in the first pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) name: String,
}

impl Header {
    /// Reads the header from a document's root; `None` when the root is not a mapping.
    pub(crate) fn read(root: &Node) -> Option<Header> {
        let text = |key: &str| {
            root.get(key)
                .and_then(|e| e.value.scalar())
                .unwrap_or_default()
                .to_string()
        };
        let name = root
            .get("metadata")
            .and_then(|m| m.value.get("name"))
            .and_then(|e| e.value.scalar())
            .unwrap_or_default()
            .to_string();
        matches!(root.value, crate::yaml::index::Value::Map(_)).then(|| Header {
            api_version: text("apiVersion"),
            kind: text("kind"),
            name,
        })
    }
}

/// What the header says a document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recognized {
    /// A kind ebb reads.
    Known,
    /// A known kind at an apiVersion ebb does not read; the message says which to use.
    WrongVersion(String),
    /// A kind ebb has no use for (ConfigMap-like objects of other tools, Namespaces, ...).
    Ignored,
}

/// Typed parse of a document whose header is known.
pub(crate) fn read(
    header: &Header,
    text: &str,
    range: std::ops::Range<usize>,
    root: &Node,
) -> Result<Option<(Manifest, Vec<String>)>, TypeError> {
    fn typed<T: DeserializeOwned>(
        text: &str,
        range: std::ops::Range<usize>,
        root: &Node,
        wrap: fn(T) -> Manifest,
    ) -> Result<Option<(Manifest, Vec<String>)>, TypeError> {
        parse_document::<T>(text, range, root).map(|(v, unknown)| Some((wrap(v), unknown)))
    }
    match (header.api_version.as_str(), header.kind.as_str()) {
        ("apps/v1", "Deployment") => typed(text, range, root, Manifest::Deployment),
        ("v1", "Service") => typed(text, range, root, Manifest::Service),
        ("v1", "ConfigMap") => typed(text, range, root, Manifest::ConfigMap),
        ("v1", "Secret") => typed(text, range, root, Manifest::Secret),
        ("autoscaling/v2" | "autoscaling/v2beta2", "HorizontalPodAutoscaler") => {
            typed(text, range, root, Manifest::Hpa)
        }
        ("autoscaling/v1", "HorizontalPodAutoscaler") => typed(text, range, root, Manifest::HpaV1),
        ("serving.kserve.io/v1beta1", "InferenceService") => typed(text, range, root, |i| {
            Manifest::InferenceService(Box::new(i))
        }),
        ("serving.knative.dev/v1", "Service") => typed(text, range, root, Manifest::KnativeService),
        ("keda.sh/v1alpha1", "ScaledObject") => typed(text, range, root, Manifest::ScaledObject),
        (autoscaler::API_VERSION, "Autoscaler") => typed(text, range, root, Manifest::Autoscaler),
        _ => Ok(None),
    }
}

/// Classifies a header that [`read`] did not take.
pub(crate) fn recognize(header: &Header) -> Recognized {
    let wanted = match header.kind.as_str() {
        "Deployment" => "apps/v1",
        "HorizontalPodAutoscaler" => "autoscaling/v2 or autoscaling/v1",
        "InferenceService" => "serving.kserve.io/v1beta1",
        "ScaledObject" => "keda.sh/v1alpha1",
        "Autoscaler" if header.api_version.starts_with("ebb.dev/") => autoscaler::API_VERSION,
        "Service" if header.api_version.contains("knative") => "serving.knative.dev/v1",
        _ => return Recognized::Ignored,
    };
    if read_matches(header) {
        Recognized::Known
    } else {
        Recognized::WrongVersion(wanted.to_string())
    }
}

fn read_matches(header: &Header) -> bool {
    matches!(
        (header.api_version.as_str(), header.kind.as_str()),
        ("apps/v1", "Deployment")
            | ("v1", "Service" | "ConfigMap" | "Secret")
            | (
                "autoscaling/v1" | "autoscaling/v2" | "autoscaling/v2beta2",
                "HorizontalPodAutoscaler"
            )
            | ("serving.kserve.io/v1beta1", "InferenceService")
            | ("serving.knative.dev/v1", "Service")
            | ("keda.sh/v1alpha1", "ScaledObject")
            | (autoscaler::API_VERSION, "Autoscaler")
    )
}
