//! Any autoscaling kind → ebb's normalized [`Autoscaler`]: HPA v1/v2 as they are, a KEDA
//! ScaledObject as the HPA KEDA would generate plus its lifecycle settings, KServe and Knative
//! services as class `kpa` with their annotations resolved.

use std::collections::BTreeMap;

use ebb_core::Quantity;
use ebb_core::hpa::spec::{
    CrossVersionObjectReference, HpaSpec, MetricIdentifier, MetricSourceType, MetricSpec,
    MetricTarget, MetricTargetType, PodsMetricSource, ResourceMetricSource,
};
use ebb_core::kpa::config::HPA_CLASS;
use ebb_core::kpa::{KpaConfig, KpaSettings};
use ebb_core::units::QuantityFormat;

use crate::Manifest;
use crate::diagnostic::Issues;
use crate::kinds::autoscaler::{
    API_VERSION, Autoscaler, AutoscalerClass, AutoscalerSpec, KedaSettings,
};
use crate::kinds::defaults::RevisionDefaults;
use crate::kinds::keda::{self, ScaledObject};
use crate::kinds::meta::{Object, ObjectMeta};
use crate::kinds::serverless;
use crate::timeouts::RequestTimeouts;

/// The annotation that records what an Autoscaler was converted from.
pub const SOURCE_ANNOTATION: &str = "ebb.dev/source";

/// The normalized form of an autoscaling object; `None` for kinds that do not autoscale
/// (Deployments, Services, ConfigMaps, Secrets). Convert only objects that validated.
/// `config` and `defaults` are the cluster's `config-autoscaler` and `config-defaults`.
pub fn to_autoscaler(
    manifest: &Manifest,
    config: &KpaConfig,
    defaults: &RevisionDefaults,
) -> Option<Autoscaler> {
    match manifest {
        Manifest::Hpa(h) => Some(from_hpa(&h.metadata, &h.api_version, h.spec.clone())),
        Manifest::HpaV1(h) => Some(from_hpa(&h.metadata, &h.api_version, h.spec.clone().into())),
        Manifest::ScaledObject(s) => Some(from_scaled_object(s)),
        Manifest::Autoscaler(a) => Some(a.clone()),
        Manifest::InferenceService(isvc) => {
            let settings = serverless::isvc_settings(isvc, config).ok()?.settings;
            Some(from_revision(
                &isvc.metadata,
                &isvc.api_version,
                "InferenceService",
                settings,
                RequestTimeouts::of(manifest, defaults),
            ))
        }
        Manifest::KnativeService(ksvc) => {
            let settings = serverless::ksvc_settings(ksvc, config).ok()?.settings;
            Some(from_revision(
                &ksvc.metadata,
                &ksvc.api_version,
                "Service",
                settings,
                RequestTimeouts::of(manifest, defaults),
            ))
        }
        Manifest::Deployment(_)
        | Manifest::Service(_)
        | Manifest::ConfigMap(_)
        | Manifest::Secret(_) => None,
    }
}

fn metadata(source: &ObjectMeta, from: String) -> ObjectMeta {
    ObjectMeta {
        name: source.name.clone(),
        namespace: source.namespace.clone(),
        labels: BTreeMap::new(),
        annotations: [(SOURCE_ANNOTATION.to_string(), from)].into(),
    }
}

fn autoscaler(metadata: ObjectMeta, spec: AutoscalerSpec) -> Autoscaler {
    Object {
        api_version: API_VERSION.to_string(),
        kind: "Autoscaler".to_string(),
        metadata,
        spec,
    }
}

fn from_hpa(meta: &ObjectMeta, api_version: &str, spec: HpaSpec) -> Autoscaler {
    autoscaler(
        metadata(meta, format!("{api_version} HorizontalPodAutoscaler")),
        AutoscalerSpec {
            class: AutoscalerClass::Hpa,
            scale_target_ref: spec.scale_target_ref,
            min_replicas: spec.min_replicas,
            max_replicas: Some(spec.max_replicas),
            metrics: spec.metrics,
            behavior: spec.behavior,
            kpa: None,
            keda: None,
            external_metrics: Vec::new(),
        },
    )
}

/// A Knative revision's autoscaler: class kpa with the settings as they are and the request
/// timeouts as annotations for the gateway, or for Knative's HPA class the HPA its reconciler
/// creates (cpu as utilization, memory as MiB per pod, other metrics as a Pods metric;
/// max-scale 0 means no bound).
fn from_revision(
    meta: &ObjectMeta,
    api_version: &str,
    kind: &str,
    settings: KpaSettings,
    timeouts: RequestTimeouts,
) -> Autoscaler {
    let scale_target_ref = CrossVersionObjectReference {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: meta.name.clone(),
    };
    let mut metadata = metadata(meta, format!("{api_version} {kind}"));
    if settings.class.as_deref() != Some(HPA_CLASS) {
        metadata.annotations.extend(timeouts.annotations());
        return autoscaler(
            metadata,
            AutoscalerSpec {
                class: AutoscalerClass::Kpa,
                scale_target_ref,
                min_replicas: None,
                max_replicas: None,
                metrics: Vec::new(),
                behavior: None,
                kpa: Some(settings),
                keda: None,
                external_metrics: Vec::new(),
            },
        );
    }
    let min = settings.min_scale.unwrap_or(0);
    let max = settings.max_scale.filter(|m| *m != 0).unwrap_or(i32::MAX);
    let metric = settings.metric.as_deref().unwrap_or("cpu");
    let metrics = settings
        .target
        .map(|target| match metric {
            "cpu" => MetricSpec::resource_utilization("cpu", target.ceil() as i32),
            "memory" => average_value_metric(
                MetricSourceType::Resource,
                "memory",
                Quantity::from_units(
                    (target as i64).saturating_mul(1024 * 1024),
                    QuantityFormat::BinarySI,
                ),
            ),
            other => average_value_metric(
                MetricSourceType::Pods,
                other,
                Quantity::from_units(target as i64, QuantityFormat::DecimalSI),
            ),
        })
        .into_iter()
        .collect();
    autoscaler(
        metadata,
        AutoscalerSpec {
            class: AutoscalerClass::Hpa,
            scale_target_ref,
            min_replicas: (min > 0).then_some(min),
            max_replicas: Some(max),
            metrics,
            behavior: None,
            kpa: None,
            keda: None,
            external_metrics: Vec::new(),
        },
    )
}

fn average_value_metric(kind: MetricSourceType, name: &str, value: Quantity) -> MetricSpec {
    let target = MetricTarget {
        kind: MetricTargetType::AverageValue,
        value: None,
        average_value: Some(value),
        average_utilization: None,
    };
    let pods = kind == MetricSourceType::Pods;
    MetricSpec {
        kind,
        resource: (!pods).then(|| ResourceMetricSource {
            name: name.to_string(),
            target: target.clone(),
        }),
        container_resource: None,
        pods: pods.then(|| PodsMetricSource {
            metric: MetricIdentifier {
                name: name.to_string(),
                selector: None,
            },
            target,
        }),
        object: None,
        external: None,
    }
}

fn from_scaled_object(so: &ScaledObject) -> Autoscaler {
    let spec = &so.spec;
    let triggers = so.validate(&mut Issues::default());
    let target = &spec.scale_target_ref;
    let advanced = spec.advanced.as_ref();
    autoscaler(
        metadata(&so.metadata, format!("{} ScaledObject", so.api_version)),
        AutoscalerSpec {
            class: AutoscalerClass::Hpa,
            scale_target_ref: CrossVersionObjectReference {
                api_version: target
                    .api_version
                    .clone()
                    .unwrap_or_else(|| "apps/v1".to_string()),
                kind: target
                    .kind
                    .clone()
                    .unwrap_or_else(|| "Deployment".to_string()),
                name: target.name.clone(),
            },
            min_replicas: Some(spec.hpa_min_replicas()),
            max_replicas: Some(spec.hpa_max_replicas()),
            metrics: triggers.iter().map(|t| t.metric.clone()).collect(),
            behavior: advanced
                .and_then(|a| a.horizontal_pod_autoscaler_config.as_ref())
                .and_then(|h| h.behavior.clone()),
            kpa: None,
            keda: Some(KedaSettings {
                polling_interval: spec
                    .polling_interval
                    .unwrap_or(keda::DEFAULT_POLLING_INTERVAL),
                cooldown_period: spec
                    .cooldown_period
                    .unwrap_or(keda::DEFAULT_COOLDOWN_PERIOD),
                initial_cooldown_period: spec.initial_cooldown_period.unwrap_or(0),
                min_replica_count: spec.min_replica_count.unwrap_or(0),
                idle_replica_count: spec.idle_replica_count,
                fallback: spec.fallback.clone(),
                restore_to_original_replica_count: advanced
                    .and_then(|a| a.restore_to_original_replica_count)
                    .unwrap_or(false),
            }),
            external_metrics: triggers.into_iter().filter_map(|t| t.source).collect(),
        },
    )
}
