//! Conversions to ebb's Autoscaler, compared with the full expected output.

use ebb_manifest::{Mode, Source, check};

fn convert(name: &str, text: &str) -> String {
    let checked = check(&[Source::new(name, text)], Mode::Cluster);
    assert!(!checked.has_errors(), "{:#?}", checked.diagnostics);
    checked
        .autoscalers()
        .iter()
        .map(|a| ebb_manifest::yaml::to_yaml(&serde_json::to_value(a).expect("serializes")))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Each trigger becomes the metric KEDA's HPA would carry; prometheus and cron keep how ebb
/// computes them; KEDA's own settings get their defaults filled in; the HPA floor is 1.
#[test]
fn a_scaled_object_converts_to_the_hpa_keda_generates() {
    let text = include_str!("fixtures/valid/02-keda-all-supported-triggers.yaml");
    assert_eq!(
        convert("keda.yaml", text),
        r#"apiVersion: ebb.dev/v1alpha1
kind: Autoscaler
metadata:
  annotations:
    ebb.dev/source: keda.sh/v1alpha1 ScaledObject
  name: llm
spec:
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 60
  class: hpa
  externalMetrics:
  - name: s0-prometheus
    prometheus:
      activationThreshold: 1.0
      ignoreNullValues: true
      query: sum(vllm:num_requests_waiting{model="llm"})
      serverAddress: http://prometheus.monitoring:9090
  - cron:
      desiredReplicas: 2
      end: 0 20 * * 1-5
      start: 0 8 * * 1-5
      timezone: Europe/Kyiv
    name: s1-cron-Europe-Kyiv-08xx1-5-020xx1-5
  keda:
    cooldownPeriod: 120
    fallback:
      failureThreshold: 3
      replicas: 2
    initialCooldownPeriod: 0
    minReplicaCount: 0
    pollingInterval: 5
  maxReplicas: 8
  metrics:
  - external:
      metric:
        name: s0-prometheus
        selector:
          matchLabels:
            scaledobject.keda.sh/name: llm
      target:
        averageValue: "4"
        type: AverageValue
    type: External
  - external:
      metric:
        name: s1-cron-Europe-Kyiv-08xx1-5-020xx1-5
        selector:
          matchLabels:
            scaledobject.keda.sh/name: llm
      target:
        averageValue: "1"
        type: AverageValue
    type: External
  - resource:
      name: memory
      target:
        averageValue: 1536Mi
        type: AverageValue
    type: Resource
  minReplicas: 1
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: llm
"#
    );
}

/// Knative's HPA class becomes the HPA Knative's reconciler creates: memory targets in MiB per
/// pod, max-scale 0 meaning no bound.
#[test]
fn knatives_hpa_class_converts_to_an_hpa() {
    let text = r#"apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: cpu-bound
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/class: hpa.autoscaling.knative.dev
        autoscaling.knative.dev/metric: memory
        autoscaling.knative.dev/target: "300"
        autoscaling.knative.dev/min-scale: "2"
    spec:
      containers:
        - image: example/app:1
"#;
    assert_eq!(
        convert("knative-hpa.yaml", text),
        r#"apiVersion: ebb.dev/v1alpha1
kind: Autoscaler
metadata:
  annotations:
    ebb.dev/source: serving.knative.dev/v1 Service
  name: cpu-bound
spec:
  class: hpa
  maxReplicas: 2147483647
  metrics:
  - resource:
      name: memory
      target:
        averageValue: 300Mi
        type: AverageValue
    type: Resource
  minReplicas: 2
  scaleTargetRef:
    apiVersion: serving.knative.dev/v1
    kind: Service
    name: cpu-bound
"#
    );
}

/// A class-kpa revision keeps its request timeouts as annotations for `ebb gateway --kube`,
/// with the cluster's 300 s response-start default said where it is shorter than
/// `timeoutSeconds`.
#[test]
fn a_knative_services_timeouts_travel_as_annotations() {
    let text = r#"apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: llm
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/target: "4"
    spec:
      timeoutSeconds: 600
      idleTimeoutSeconds: 20
      containers:
        - image: example/llm:1
"#;
    assert_eq!(
        convert("llm.yaml", text),
        r#"apiVersion: ebb.dev/v1alpha1
kind: Autoscaler
metadata:
  annotations:
    ebb.dev/idle-timeout-seconds: "20"
    ebb.dev/response-start-timeout-seconds: "300"
    ebb.dev/source: serving.knative.dev/v1 Service
    ebb.dev/timeout-seconds: "600"
  name: llm
spec:
  class: kpa
  kpa:
    target: 4.0
  scaleTargetRef:
    apiVersion: serving.knative.dev/v1
    kind: Service
    name: llm
"#
    );
}
