//! The Knative side of InferenceServices and Knative Services: the revision annotations they
//! end up with (KServe writes some from predictor fields, as its Knative reconciler does), their
//! validation with the Knative webhook's rules (`ebb_core::kpa::KpaSettings`), and KServe's own
//! checks of the scaling fields.

use std::collections::BTreeMap;

use ebb_core::FieldError;
use ebb_core::kpa::KpaSettings;
use ebb_core::kpa::config::{HPA_CLASS, KPA_CLASS, KpaConfig};
use ebb_core::kpa::settings::{AnnotationPaths, GROUP};

use super::kserve::{InferenceService, KSERVE_DEFAULT_MIN_REPLICAS, KnativeService};
use crate::diagnostic::{Issue, Issues};

/// KServe's deployment-mode annotation.
pub const DEPLOYMENT_MODE_ANNOTATION: &str = "serving.kserve.io/deploymentMode";

/// The predictor fields KServe turns into revision settings.
const SCALING_FIELDS: &[&str] = &[
    "spec.predictor.minReplicas",
    "spec.predictor.maxReplicas",
    "spec.predictor.scaleTarget",
    "spec.predictor.scaleMetric",
    "spec.predictor.containerConcurrency",
];

/// What the revision's autoscaler reads, and where each value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Revision {
    /// The revision's annotations (all of them; the autoscaler reads its group).
    pub(crate) annotations: BTreeMap<String, String>,
    /// Annotation key → the field KServe wrote it from.
    pub(crate) origins: BTreeMap<String, String>,
    /// containerConcurrency.
    pub(crate) container_concurrency: Option<i64>,
    /// Where the annotations and containerConcurrency are in the document.
    pub(crate) annotations_path: &'static str,
    pub(crate) container_concurrency_path: &'static str,
}

fn key(name: &str) -> String {
    format!("{GROUP}{name}")
}

/// Whether KServe runs this InferenceService through Knative (Serverless mode, the default).
pub(crate) fn is_serverless(isvc: &InferenceService) -> bool {
    isvc.metadata
        .annotations
        .get(DEPLOYMENT_MODE_ANNOTATION)
        .is_none_or(|m| matches!(m.as_str(), "Serverless" | "Knative"))
}

/// The annotations KServe gives the Knative revision: the InferenceService's own merged with
/// `spec.predictor.annotations` (which win), the class defaulted to KPA, and target, metric,
/// min-scale and max-scale written from scaleTarget, scaleMetric, minReplicas (default 1) and
/// maxReplicas (when set) — replacing what the annotations said. Warns where a user's
/// annotation is replaced by a different value.
pub(crate) fn isvc_revision(isvc: &InferenceService, issues: &mut Issues) -> Revision {
    let p = &isvc.spec.predictor;
    let mut annotations = isvc.metadata.annotations.clone();
    // Where each value came from, when not from metadata.annotations.
    let mut origins = BTreeMap::new();
    for (k, v) in &p.annotations {
        annotations.insert(k.clone(), v.clone());
        origins.insert(k.clone(), format!("spec.predictor.annotations[{k}]"));
    }
    annotations
        .entry(key("class"))
        .or_insert_with(|| KPA_CLASS.to_string());
    let min = p.min_replicas.unwrap_or(KSERVE_DEFAULT_MIN_REPLICAS);
    let written = [
        (
            "target",
            None,
            "scaleTarget",
            p.scale_target.map(|t| t.to_string()),
        ),
        ("metric", None, "scaleMetric", p.scale_metric.clone()),
        (
            "min-scale",
            Some("minScale"),
            "minReplicas",
            Some(min.to_string()),
        ),
        (
            "max-scale",
            Some("maxScale"),
            "maxReplicas",
            p.max_replicas.filter(|m| *m != 0).map(|m| m.to_string()),
        ),
    ];
    for (name, alias, field, value) in written {
        let Some(value) = value else { continue };
        let full = key(name);
        let origin = format!("spec.predictor.{field}");
        let keys = [Some(full.clone()), alias.map(key)];
        for user_key in keys.into_iter().flatten() {
            let Some(user_value) = annotations.get(&user_key).cloned() else {
                continue;
            };
            if user_value != value {
                let how = if field == "minReplicas" && p.min_replicas.is_none() {
                    format!("{origin} (unset, KServe's default {KSERVE_DEFAULT_MIN_REPLICAS})")
                } else {
                    origin.clone()
                };
                let fix = if name == "min-scale" && user_value == "0" {
                    "; set spec.predictor.minReplicas: 0 to scale to zero"
                } else {
                    ""
                };
                let at = origins
                    .get(&user_key)
                    .cloned()
                    .unwrap_or_else(|| format!("metadata.annotations[{user_key}]"));
                issues.warning(
                    at,
                    format!("{user_value:?} is replaced by KServe with {value:?} from {how}{fix}"),
                );
            }
            annotations.remove(&user_key);
        }
        annotations.insert(full.clone(), value);
        origins.insert(full, origin);
    }
    Revision {
        annotations,
        origins,
        container_concurrency: p.container_concurrency,
        annotations_path: "metadata.annotations",
        container_concurrency_path: "spec.predictor.containerConcurrency",
    }
}

/// A Knative Service's revision template, as the autoscaler reads it.
pub(crate) fn ksvc_revision(ksvc: &KnativeService) -> Revision {
    let t = &ksvc.spec.template;
    Revision {
        annotations: t.metadata.annotations.clone(),
        origins: BTreeMap::new(),
        container_concurrency: t.spec.container_concurrency,
        annotations_path: "spec.template.metadata.annotations",
        container_concurrency_path: "spec.template.spec.containerConcurrency",
    }
}

impl Revision {
    /// The revision's settings with the Knative webhook's rules; errors name the field the user
    /// wrote (a predictor field when KServe wrote the annotation).
    pub(crate) fn settings(&self, config: &KpaConfig) -> Result<KpaSettings, Vec<FieldError>> {
        let paths = AnnotationPaths {
            annotations: self.annotations_path,
            container_concurrency: self.container_concurrency_path,
        };
        KpaSettings::from_annotations_at(
            paths,
            &self.annotations,
            self.container_concurrency,
            config,
        )
        .map_err(|errors| {
            errors
                .into_iter()
                .map(|mut e| {
                    for (key, origin) in &self.origins {
                        if e.path == format!("{}[{key}]", self.annotations_path) {
                            e.path.clone_from(origin);
                        }
                    }
                    e
                })
                .collect()
        })
    }
}

/// KServe's webhook rules for the scaling fields in Serverless mode
/// (`validateAutoScalingCompExtension`).
pub(crate) fn validate_kserve_scaling(isvc: &InferenceService, issues: &mut Issues) {
    let p = &isvc.spec.predictor;
    let hpa_class = isvc
        .metadata
        .annotations
        .get(&key("class"))
        .map(String::as_str)
        == Some(HPA_CLASS);
    let path = "spec.predictor.scaleMetric";
    if hpa_class {
        let metric = p.scale_metric.as_deref().unwrap_or("cpu");
        if !matches!(metric, "cpu" | "memory") {
            issues.push(Issue::error(
                path,
                format!("Unsupported value: {metric:?}: [{metric}] is not a supported metric (the hpa class scales on \"cpu\" or \"memory\")"),
            ));
        }
        if let Some(target) = p.scale_target {
            // Upstream checks `metric == cpu && target < 1 || target > 100`: any metric above 100.
            if metric == "cpu" && target < 1 || target > 100 {
                issues.push(Issue::error(
                    "spec.predictor.scaleTarget",
                    format!("Invalid value: {target}: the target utilization percentage should be a [1-100] integer"),
                ));
            }
            if metric == "memory" && target < 1 {
                issues.push(Issue::error(
                    "spec.predictor.scaleTarget",
                    format!(
                        "Invalid value: {target}: the target memory should be greater than 1 MiB"
                    ),
                ));
            }
        }
    } else {
        let metric = p.scale_metric.as_deref().unwrap_or("concurrency");
        if !matches!(metric, "concurrency" | "rps") {
            issues.push(Issue::error(
                path,
                format!("Unsupported value: {metric:?}: [{metric}] is not a supported metric (Knative's pod autoscaler scales on \"concurrency\" or \"rps\"; for cpu or memory add the annotation autoscaling.knative.dev/class: {HPA_CLASS})"),
            ));
        }
        if metric == "rps"
            && let Some(target) = p.scale_target
            && target < 1
        {
            issues.push(Issue::error(
                "spec.predictor.scaleTarget",
                format!("Invalid value: {target}: the target for rps should be greater than 1"),
            ));
        }
    }
}

/// All serverless rules of an InferenceService; returns its settings when they are valid.
pub(crate) fn check_isvc(
    isvc: &InferenceService,
    config: &KpaConfig,
    issues: &mut Issues,
) -> Option<KpaSettings> {
    if !is_serverless(isvc) {
        let mode = &isvc.metadata.annotations[DEPLOYMENT_MODE_ANNOTATION];
        issues.warning(
            format!("metadata.annotations[{DEPLOYMENT_MODE_ANNOTATION}]"),
            format!(
                "{mode:?}: in this mode KServe scales with an HPA or KEDA instead of Knative, which ebb does not read from an InferenceService yet; it runs with minReplicas replicas and no autoscaler (write a HorizontalPodAutoscaler or ScaledObject for it)"
            ),
        );
        return None;
    }
    validate_kserve_scaling(isvc, issues);
    // KServe's webhook rejects bad scaling fields before Knative sees the annotations it would
    // write from them: report those fields once, in KServe's words.
    let kserve_rejected = issues
        .0
        .iter()
        .any(|i| i.severity == crate::Severity::Error && SCALING_FIELDS.contains(&i.path.as_str()));
    let revision = isvc_revision(isvc, issues);
    match revision.settings(config) {
        Ok(settings) => Some(settings),
        Err(errors) => {
            let from_fields = |e: &FieldError| SCALING_FIELDS.contains(&e.path.as_str());
            issues.fields(
                errors
                    .into_iter()
                    .filter(|e| !(kserve_rejected && from_fields(e))),
            );
            None
        }
    }
}

/// All serverless rules of a Knative Service; returns its settings when they are valid.
pub(crate) fn check_ksvc(
    ksvc: &KnativeService,
    config: &KpaConfig,
    issues: &mut Issues,
) -> Option<KpaSettings> {
    match ksvc_revision(ksvc).settings(config) {
        Ok(settings) => Some(settings),
        Err(errors) => {
            issues.fields(errors);
            None
        }
    }
}
