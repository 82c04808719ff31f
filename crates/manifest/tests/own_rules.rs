//! Callers' own rules about a checked object land at the field's file:line:column.

use ebb_manifest::{Mode, Severity, Source, check};

#[test]
fn a_callers_finding_is_placed_at_the_field() {
    let text = "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: Utilization, averageUtilization: 80}}
";
    let checked = check(&[Source::new("h.yaml", text)], Mode::Cluster);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let d = checked.objects[0].diagnostic(Severity::Error, "spec.metrics[0]", "not simulated");
    assert_eq!(
        d.to_string(),
        "h.yaml:8:5: error: HorizontalPodAutoscaler/web: spec.metrics[0]: not simulated"
    );
}
