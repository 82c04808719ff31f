//! autoscaling/v1 and autoscaling/v2 HorizontalPodAutoscaler. The spec types and their API
//! validation live in `ebb_core::hpa::spec`; this adds the object around them and reports
//! v1 errors on the v1 field names.

use ebb_core::FieldError;
use ebb_core::hpa::spec::{Gates, HpaSpec, HpaSpecV1};

use super::meta::{NameRule, Object, validate_name};
use crate::diagnostic::{Issue, Issues};

/// autoscaling/v2 HorizontalPodAutoscaler.
pub type Hpa = Object<HpaSpec>;

/// autoscaling/v1 HorizontalPodAutoscaler.
pub type HpaV1 = Object<HpaSpecV1>;

/// Validates a v2 spec with ebb's feature gates. Rules that only upstream's default gates
/// enforce (scale to zero, tolerance) become warnings: ebb accepts them, a cluster may not.
pub(crate) fn validate_v2(object: &Object<HpaSpec>, issues: &mut Issues) {
    issues.fields(validate_name(&object.metadata.name, NameRule::Subdomain));
    validate_spec(&object.spec, "spec", issues, |e| e);
}

/// Validates a v1 spec through its v2 form, naming v1 fields in the messages.
pub(crate) fn validate_v1(object: &Object<HpaSpecV1>, issues: &mut Issues) {
    issues.fields(validate_name(&object.metadata.name, NameRule::Subdomain));
    let v2: HpaSpec = object.spec.clone().into();
    validate_spec(&v2, "spec", issues, |mut e| {
        if e.path.starts_with("spec.metrics[0]") {
            e.path = "spec.targetCPUUtilizationPercentage".to_string();
            if e.message == "must be greater than 0" {
                e.message = "must be greater than 0 (a percent of the pods' CPU request)".into();
            }
        }
        e
    });
}

/// Shared by HPAs, ScaledObjects and Autoscalers: `rename` maps the v2 paths onto the fields
/// the user actually wrote.
pub(crate) fn validate_spec(
    spec: &HpaSpec,
    prefix: &str,
    issues: &mut Issues,
    rename: impl Fn(FieldError) -> FieldError,
) {
    let ebb = spec.validate(prefix, Gates::EBB);
    let upstream = spec.validate(prefix, Gates::UPSTREAM);
    for e in &upstream {
        if !ebb.contains(e) {
            let gate = if e.path.ends_with("tolerance") {
                "HPAConfigurableTolerance"
            } else {
                "HPAScaleToZero"
            };
            let e = rename(e.clone());
            issues.push(Issue::warning(
                e.path.clone(),
                format!(
                    "{}: accepted by ebb, but a Kubernetes cluster without the {gate} feature gate rejects it",
                    e.to_string().trim_start_matches(&format!("{}: ", e.path))
                ),
            ));
        }
    }
    issues.fields(ebb.into_iter().map(rename));
}
