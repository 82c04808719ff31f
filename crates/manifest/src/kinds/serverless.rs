//! The Knative side of InferenceServices and Knative Services: the revision annotations they
//! end up with (KServe writes some from predictor fields, as its Knative reconciler does), their
//! validation with the Knative webhook's rules (`ebb_core::kpa::KpaSettings`), and KServe's own
//! checks of the scaling fields.

use std::collections::BTreeMap;

use ebb_core::FieldError;
use ebb_core::kpa::KpaSettings;
use ebb_core::kpa::config::{HPA_CLASS, KPA_CLASS, KpaConfig};
use ebb_core::kpa::settings::{
    AnnotationPaths, GROUP, MAX_CONTAINER_CONCURRENCY, is_known_annotation,
};

use super::defaults::RevisionDefaults;
use super::kserve::{InferenceService, KSERVE_DEFAULT_MIN_REPLICAS, KnativeService};
use crate::Finding;
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
    /// The cluster's bounds on containerConcurrency, where `config-defaults` narrows
    /// upstream's 0–1000 (which the settings check): a lower `container-concurrency-max-limit`,
    /// `allow-container-concurrency-zero: "false"`.
    fn check_container_concurrency(&self, defaults: &RevisionDefaults, issues: &mut Issues) {
        let cc = self.container_concurrency.unwrap_or(0);
        let max = defaults.container_concurrency_max_limit;
        let path = self.container_concurrency_path;
        if cc > max && max < MAX_CONTAINER_CONCURRENCY {
            issues.field(FieldError::invalid(
                path,
                cc,
                format!(
                    "expected 0 <= {cc} <= {max} (config-defaults' container-concurrency-max-limit)"
                ),
            ));
        }
        if cc == 0 && !defaults.allow_container_concurrency_zero {
            issues.field(FieldError::invalid(
                path,
                0,
                format!("expected 1 <= 0 <= {max}: config-defaults sets allow-container-concurrency-zero: \"false\""),
            ));
        }
    }

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

/// Why an InferenceService has no Knative autoscaler (not Serverless mode): a warning for
/// `validate`, where the object is still valid.
fn not_serverless(isvc: &InferenceService) -> Issue {
    let mode = isvc
        .metadata
        .annotations
        .get(DEPLOYMENT_MODE_ANNOTATION)
        .map_or("", String::as_str);
    Issue::warning(
        format!("metadata.annotations[{DEPLOYMENT_MODE_ANNOTATION}]"),
        format!(
            "{mode:?}: in this mode KServe scales with an HPA or KEDA instead of Knative, which ebb does not read from an InferenceService yet; it runs with minReplicas replicas and no autoscaler (write a HorizontalPodAutoscaler or ScaledObject for it)"
        ),
    )
}

/// Annotations in Knative's group that Knative does not read: upstream ignores them silently.
fn unknown_annotations(revision: &Revision, issues: &mut Issues) {
    for key in revision.annotations.keys() {
        if key.starts_with(GROUP) && !is_known_annotation(key) {
            let at = revision
                .origins
                .get(key)
                .cloned()
                .unwrap_or_else(|| format!("{}[{key}]", revision.annotations_path));
            issues.warning(
                at,
                "not an annotation Knative reads: it is ignored (a typo?)",
            );
        }
    }
}

/// All serverless rules of an InferenceService; returns its settings when they are valid.
pub(crate) fn check_isvc(
    isvc: &InferenceService,
    config: &KpaConfig,
    defaults: &RevisionDefaults,
    issues: &mut Issues,
) -> Option<KpaSettings> {
    if !is_serverless(isvc) {
        issues.push(not_serverless(isvc));
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
    unknown_annotations(&revision, issues);
    if !kserve_rejected {
        revision.check_container_concurrency(defaults, issues);
    }
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
    defaults: &RevisionDefaults,
    issues: &mut Issues,
) -> Option<KpaSettings> {
    for key in ksvc.metadata.annotations.keys() {
        if key.starts_with(GROUP) {
            issues.warning(
                format!("metadata.annotations[{key}]"),
                "autoscaling annotations on the Service's own metadata do not reach its revisions: put them under spec.template.metadata.annotations",
            );
        }
    }
    let revision = ksvc_revision(ksvc);
    unknown_annotations(&revision, issues);
    revision.check_container_concurrency(defaults, issues);
    match revision.settings(config) {
        Ok(settings) => Some(settings),
        Err(errors) => {
            issues.fields(errors);
            None
        }
    }
}

/// The Knative autoscaler's view of a serverless object: its settings, and notes (warnings)
/// on what its author may not expect, such as an annotation KServe replaces.
#[derive(Debug, Clone, PartialEq)]
pub struct RevisionSettings {
    /// The revision's autoscaling settings, validated.
    pub settings: KpaSettings,
    /// Warnings, each starting with the field path it is about.
    pub notes: Vec<Finding>,
}

/// The settings KServe and Knative give an InferenceService's revision in Serverless mode: the
/// predictor's scaling fields written over the annotations, checked with KServe's and Knative's
/// webhook rules. `Err` holds every error (also: the InferenceService is not in Serverless
/// mode). Only the autoscaling rules apply here; [`crate::validate_object`] has all of them.
pub fn isvc_settings(
    isvc: &InferenceService,
    config: &KpaConfig,
) -> Result<RevisionSettings, Vec<Finding>> {
    if !is_serverless(isvc) {
        let mut issue = not_serverless(isvc);
        issue.severity = crate::Severity::Error;
        return Err(vec![Finding::from(issue)]);
    }
    let mut issues = Issues::default();
    let settings = check_isvc(isvc, config, &RevisionDefaults::default(), &mut issues);
    split(settings, issues)
}

/// The settings Knative gives a Knative Service's revision (its template's annotations and
/// containerConcurrency), with the webhook's rules; see [`isvc_settings`].
pub fn ksvc_settings(
    ksvc: &KnativeService,
    config: &KpaConfig,
) -> Result<RevisionSettings, Vec<Finding>> {
    let mut issues = Issues::default();
    let settings = check_ksvc(ksvc, config, &RevisionDefaults::default(), &mut issues);
    split(settings, issues)
}

fn split(settings: Option<KpaSettings>, issues: Issues) -> Result<RevisionSettings, Vec<Finding>> {
    let (errors, notes): (Vec<Finding>, Vec<Finding>) = issues
        .0
        .into_iter()
        .map(Finding::from)
        .partition(|f| f.severity == crate::Severity::Error);
    match settings {
        Some(settings) if errors.is_empty() => Ok(RevisionSettings { settings, notes }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;
    use crate::kinds::kserve::KnativeServiceSpec;

    fn isvc(yaml: &str) -> InferenceService {
        serde_saphyr::from_str(yaml).expect("an InferenceService")
    }

    const ISVC: &str = "apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: m
  annotations: {autoscaling.knative.dev/target: 10, autoscaling.knative.dev/min-scale: \"0\", autoscaling.knative.dev/windw: 30s}
spec:
  predictor: {maxReplicas: 4, containers: [{name: kserve-container, image: x}]}
";

    #[test]
    fn kserve_writes_min_and_max_scale_and_notes_what_it_replaces() {
        let r = isvc_settings(&isvc(ISVC), &KpaConfig::default()).expect("valid");
        assert_eq!(r.settings.min_scale, Some(1));
        assert_eq!(r.settings.max_scale, Some(4));
        assert_eq!(r.settings.target, Some(10.0));
        assert_eq!(r.settings.class.as_deref(), Some(KPA_CLASS));
        assert!(r.notes.iter().all(|n| n.severity == Severity::Warning));
        assert_eq!(
            r.notes[0].message,
            "metadata.annotations[autoscaling.knative.dev/min-scale]: \"0\" is replaced by KServe with \"1\" from spec.predictor.minReplicas (unset, KServe's default 1); set spec.predictor.minReplicas: 0 to scale to zero"
        );
        assert_eq!(
            r.notes[1].message,
            "metadata.annotations[autoscaling.knative.dev/windw]: not an annotation Knative reads: it is ignored (a typo?)"
        );
    }

    #[test]
    fn only_serverless_mode_has_knative_settings() {
        let raw = ISVC.replace(
            "annotations: {",
            "annotations: {serving.kserve.io/deploymentMode: RawDeployment, ",
        );
        let errors = isvc_settings(&isvc(&raw), &KpaConfig::default()).expect_err("raw");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].severity, Severity::Error);
        assert_eq!(
            errors[0].path,
            "metadata.annotations[serving.kserve.io/deploymentMode]"
        );
        assert!(errors[0].message.contains("HPA or KEDA"), "{errors:?}");
    }

    #[test]
    fn knative_service_errors_name_the_template_fields() {
        let ksvc: KnativeService = serde_saphyr::from_str(
            "apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: s
  annotations: {autoscaling.knative.dev/target: \"5\"}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/window: 5s}
    spec: {containerConcurrency: 2000}
",
        )
        .expect("a Knative Service");
        let errors = ksvc_settings(&ksvc, &KpaConfig::default()).expect_err("invalid");
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "spec.template.metadata.annotations[autoscaling.knative.dev/window]: Invalid value: 5s: expected 6s <= 5s <= 1h0m0s",
                "spec.template.spec.containerConcurrency: Invalid value: 2000: expected 0 <= 2000 <= 1000",
            ]
        );
        let fixed = KnativeService {
            spec: KnativeServiceSpec::default(),
            ..ksvc
        };
        let r = ksvc_settings(&fixed, &KpaConfig::default()).expect("valid");
        assert_eq!(r.notes.len(), 1);
        assert!(
            r.notes[0]
                .message
                .starts_with("metadata.annotations[autoscaling.knative.dev/target]: autoscaling annotations on the Service's own metadata do not reach its revisions"),
            "{:?}",
            r.notes
        );
    }
}
