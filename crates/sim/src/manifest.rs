//! Policies from the manifests users already run.
//!
//! This is the one place that reads YAML into policies, so that switching to the shared
//! manifests crate (`ebb-manifest`) is a change here only. Every document of a file is read;
//! autoscaler kinds become policies, other kinds (Deployments, Services) are skipped.

use std::collections::BTreeMap;

use ebb_core::hpa::spec::{Gates, HpaSpecV1};
use ebb_core::hpa::{HpaSettings, HpaSpec};
use ebb_core::kpa::config::KPA_CLASS;
use ebb_core::kpa::settings::{AnnotationPaths, GROUP};
use ebb_core::kpa::{KpaConfig, KpaSettings, KpaSpec};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::policy::{PolicyDef, PolicyKind};

/// Why a manifest could not become a policy.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ManifestError {
    /// The file (and document) it came from.
    pub origin: String,
    /// What is wrong and what would be valid.
    pub message: String,
}

/// Cluster-wide settings that manifests do not carry.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// kube-controller-manager's HPA flags.
    pub hpa: HpaSettings,
    /// Knative's `config-autoscaler`.
    pub kpa: KpaConfig,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
}

#[derive(Deserialize, Default)]
struct Metadata {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Object<S> {
    #[serde(default)]
    metadata: Metadata,
    spec: S,
}

/// Kinds that are recognised and skipped (they carry no policy).
const SKIPPED: &[&str] = &[
    "Deployment",
    "Service",
    "ConfigMap",
    "Secret",
    "Namespace",
    "ServiceAccount",
];

/// Reads every policy in `text` (one or more YAML documents); `origin` names the file.
pub fn load_policies(
    text: &str,
    origin: &str,
    defaults: &Defaults,
) -> Result<Vec<PolicyDef>, ManifestError> {
    let err = |doc: Option<usize>, message: String| ManifestError {
        origin: match doc {
            Some(i) => format!("{origin} (document {})", i + 1),
            None => origin.to_string(),
        },
        message,
    };
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(text)
        .map_err(|e| err(None, e.to_string().replace("<input>", origin)))?;
    let mut policies = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        if doc.is_null() {
            continue;
        }
        let header: Header = serde_json::from_value(doc.clone())
            .map_err(|e| err(Some(i), format!("not a Kubernetes object: {e}")))?;
        let group = header.api_version.split('/').next().unwrap_or_default();
        let policy = match (group, header.kind.as_str()) {
            ("autoscaling", "HorizontalPodAutoscaler") => {
                let (name, spec) = match header.api_version.as_str() {
                    "autoscaling/v1" => {
                        let o: Object<HpaSpecV1> = typed(doc).map_err(|m| err(Some(i), m))?;
                        (o.metadata.name, HpaSpec::from(o.spec))
                    }
                    "autoscaling/v2" | "autoscaling/v2beta2" => {
                        let o: Object<HpaSpec> = typed(doc).map_err(|m| err(Some(i), m))?;
                        (o.metadata.name, o.spec)
                    }
                    other => {
                        return Err(err(
                            Some(i),
                            format!(
                                "apiVersion {other:?} of a HorizontalPodAutoscaler: use autoscaling/v1 or autoscaling/v2"
                            ),
                        ));
                    }
                };
                let problems = spec.validate("spec", Gates::EBB);
                if !problems.is_empty() {
                    let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
                    return Err(err(
                        Some(i),
                        format!(
                            "the HorizontalPodAutoscaler is not valid:\n{}",
                            list.join("\n")
                        ),
                    ));
                }
                simulable(&spec).map_err(|m| err(Some(i), m))?;
                PolicyDef {
                    name: if name.is_empty() { "hpa".into() } else { name },
                    kind: PolicyKind::Hpa {
                        spec: Box::new(spec),
                        settings: defaults.hpa.clone(),
                    },
                }
            }
            ("serving.kserve.io", "InferenceService") | ("serving.knative.dev", "Service") => {
                let name = doc["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let spec =
                    kpa_spec(&doc, &header.kind, &defaults.kpa).map_err(|m| err(Some(i), m))?;
                PolicyDef {
                    name: if name.is_empty() { "kpa".into() } else { name },
                    kind: PolicyKind::Kpa {
                        spec: Box::new(spec),
                        manifest: doc,
                    },
                }
            }
            ("ebb.dev", "Autoscaler") => {
                let name = doc["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let kind = autoscaler(&doc, defaults).map_err(|m| err(Some(i), m))?;
                PolicyDef {
                    name: if name.is_empty() {
                        "autoscaler".into()
                    } else {
                        name
                    },
                    kind,
                }
            }
            (_, kind) if SKIPPED.contains(&kind) => continue,
            (_, kind) => {
                return Err(err(
                    Some(i),
                    format!(
                        "kind {kind:?} (apiVersion {:?}) is not a policy ebb sim can run; give a HorizontalPodAutoscaler (autoscaling/v1 or v2), a KServe InferenceService, a Knative Service or an ebb Autoscaler",
                        header.api_version
                    ),
                ));
            }
        };
        policies.push(policy);
    }
    if policies.is_empty() {
        return Err(err(
            None,
            "no autoscaler in the file: give a HorizontalPodAutoscaler, an InferenceService or a Knative Service".into(),
        ));
    }
    Ok(policies)
}

/// ebb's own `Autoscaler` kind: the HPA v2 fields with `class: hpa`, or the Knative settings
/// under `spec.kpa` with `class: kpa`.
fn autoscaler(doc: &Value, defaults: &Defaults) -> Result<PolicyKind, String> {
    let spec = &doc["spec"];
    match spec["class"].as_str() {
        Some("hpa") => {
            let mut fields = spec.clone();
            if let Some(m) = fields.as_object_mut() {
                m.remove("class");
            }
            let hpa: HpaSpec = serde_json::from_value(fields)
                .map_err(|e| format!("spec: invalid for class hpa: {e}"))?;
            let problems = hpa.validate("spec", Gates::EBB);
            if !problems.is_empty() {
                let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
                return Err(format!("the Autoscaler is not valid:\n{}", list.join("\n")));
            }
            simulable(&hpa)?;
            Ok(PolicyKind::Hpa {
                spec: Box::new(hpa),
                settings: defaults.hpa.clone(),
            })
        }
        Some("kpa") => {
            let settings: KpaSettings = match spec.get("kpa") {
                Some(v) => {
                    serde_json::from_value(v.clone()).map_err(|e| format!("spec.kpa: {e}"))?
                }
                None => KpaSettings::default(),
            };
            let problems = settings.validate(&defaults.kpa, "spec.kpa");
            if !problems.is_empty() {
                let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
                return Err(format!("the Autoscaler is not valid:\n{}", list.join("\n")));
            }
            Ok(PolicyKind::Kpa {
                spec: Box::new(KpaSpec::resolve(&defaults.kpa, &settings)),
                manifest: doc.clone(),
            })
        }
        other => Err(format!(
            "spec.class: {:?}: an Autoscaler's class is hpa or kpa",
            other.unwrap_or_default()
        )),
    }
}

/// The simulator models replicas' CPU; other HPA metrics have no source in a simulation.
fn simulable(spec: &HpaSpec) -> Result<(), String> {
    for (i, m) in spec.metrics.iter().enumerate() {
        let cpu = m.resource.as_ref().is_some_and(|r| r.name == "cpu");
        if !cpu {
            let what = match (&m.resource, &m.container_resource) {
                (Some(r), _) => format!("Resource {}", r.name),
                (_, Some(r)) => format!("ContainerResource {}", r.name),
                _ => format!("{:?}", m.kind),
            };
            return Err(format!(
                "spec.metrics[{i}]: a {what} metric cannot be simulated: ebb sim models the replicas' CPU, so it runs HPAs on Resource cpu metrics (Utilization or AverageValue)"
            ));
        }
    }
    Ok(())
}

/// Annotation values as text (`10` and `"10"` alike).
fn texts(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The KPA settings of an InferenceService (KServe serverless mode: the predictor's typed
/// fields become Knative annotations) or of a Knative Service's revision template.
fn kpa_spec(doc: &Value, kind: &str, config: &KpaConfig) -> Result<KpaSpec, String> {
    let (annotations, cc, paths) = if kind == "InferenceService" {
        let mut a = texts(&doc["metadata"]["annotations"]);
        if let Some(mode) = a.get("serving.kserve.io/deploymentMode")
            && mode != "Serverless"
        {
            return Err(format!(
                "metadata.annotations[serving.kserve.io/deploymentMode]: {mode:?}: in this mode KServe scales with an HPA, not the Knative Pod Autoscaler; simulate the HPA instead"
            ));
        }
        let p = &doc["spec"]["predictor"];
        a.extend(texts(&p["annotations"]));
        // KServe regenerates min-scale and max-scale from the typed fields (min defaults to 1).
        a.remove(&format!("{GROUP}minScale"));
        let min = p["minReplicas"].as_i64().unwrap_or(1);
        a.insert(format!("{GROUP}min-scale"), min.to_string());
        if let Some(max) = p["maxReplicas"].as_i64().filter(|m| *m != 0) {
            a.remove(&format!("{GROUP}maxScale"));
            a.insert(format!("{GROUP}max-scale"), max.to_string());
        }
        if let Some(t) = texts(p).get("scaleTarget") {
            a.insert(format!("{GROUP}target"), t.clone());
        }
        if let Some(m) = p["scaleMetric"].as_str() {
            a.insert(format!("{GROUP}metric"), m.to_string());
        }
        let paths = AnnotationPaths {
            annotations: "metadata.annotations",
            container_concurrency: "spec.predictor.containerConcurrency",
        };
        (a, p["containerConcurrency"].as_i64(), paths)
    } else {
        let t = &doc["spec"]["template"];
        let paths = AnnotationPaths {
            annotations: "spec.template.metadata.annotations",
            container_concurrency: "spec.template.spec.containerConcurrency",
        };
        (
            texts(&t["metadata"]["annotations"]),
            t["spec"]["containerConcurrency"].as_i64(),
            paths,
        )
    };
    if let Some(class) = annotations.get(&format!("{GROUP}class"))
        && class != KPA_CLASS
    {
        return Err(format!(
            "{}[{GROUP}class]: {class:?} is not the Knative Pod Autoscaler ({KPA_CLASS:?}); simulate an HPA with a HorizontalPodAutoscaler",
            paths.annotations
        ));
    }
    let settings =
        KpaSettings::from_annotations_at(paths, &annotations, cc, config).map_err(|errs| {
            let list: Vec<String> = errs.iter().map(|e| format!("  {e}")).collect();
            format!(
                "the autoscaling settings are not valid:\n{}",
                list.join("\n")
            )
        })?;
    Ok(KpaSpec::resolve(config, &settings))
}

/// `--sweep param=v1,v2,...`: one parameter and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sweep {
    /// `target`, `min`, `max`, or (KPA) any autoscaling annotation such as `window`.
    pub param: String,
    /// The values, as written.
    pub values: Vec<String>,
}

impl Sweep {
    /// Parses `param=v1,v2,...`.
    pub fn parse(text: &str) -> Result<Sweep, String> {
        let (param, values) = text.split_once('=').ok_or_else(|| {
            format!("invalid --sweep {text:?}: write param=v1,v2,..., like target=5,10,20,40")
        })?;
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if param.trim().is_empty() || values.is_empty() {
            return Err(format!(
                "invalid --sweep {text:?}: give a parameter and at least one value, like target=5,10,20,40"
            ));
        }
        Ok(Sweep {
            param: param.trim().to_string(),
            values,
        })
    }
}

/// `policy` with `param` set to `value`, validated as the manifest would be. The HPA takes
/// `target` (its first metric's target), `min` and `max`; the KPA `target`, `min`, `max` and
/// any `autoscaling.knative.dev/` annotation by its short name (`window`, `scale-down-delay`).
pub fn vary(
    policy: &PolicyDef,
    param: &str,
    value: &str,
    defaults: &Defaults,
) -> Result<PolicyDef, ManifestError> {
    let name = format!("{} {param}={value}", policy.name);
    let fail = |message: String| ManifestError {
        origin: format!("--sweep {param}={value} on {}", policy.name),
        message,
    };
    let kind = match &policy.kind {
        PolicyKind::Hpa { spec, settings } => {
            let mut spec = (**spec).clone();
            let int = || -> Result<i32, ManifestError> {
                value
                    .trim_end_matches('%')
                    .parse()
                    .map_err(|_| fail(format!("{param} must be a whole number, got {value:?}")))
            };
            match param {
                "min" => spec.min_replicas = Some(int()?),
                "max" => spec.max_replicas = int()?,
                "target" => {
                    let m = spec.metrics.first_mut().ok_or_else(|| {
                        fail("the HPA has no metrics (it uses the default CPU 80%); give one to sweep its target".into())
                    })?;
                    let target = m
                        .resource
                        .as_mut()
                        .map(|r| &mut r.target)
                        .or(m.container_resource.as_mut().map(|r| &mut r.target))
                        .or(m.pods.as_mut().map(|r| &mut r.target))
                        .or(m.object.as_mut().map(|r| &mut r.target))
                        .or(m.external.as_mut().map(|r| &mut r.target))
                        .ok_or_else(|| fail("the first metric has no target".into()))?;
                    if target.average_utilization.is_some() {
                        target.average_utilization = Some(int()?);
                    } else {
                        let q = value.parse().map_err(|e| fail(format!("target: {e}")))?;
                        if target.average_value.is_some() {
                            target.average_value = Some(q);
                        } else {
                            target.value = Some(q);
                        }
                    }
                }
                other => {
                    return Err(fail(format!(
                        "an HPA can be swept over target, min or max, not {other:?}"
                    )));
                }
            }
            let problems = spec.validate("spec", Gates::EBB);
            if !problems.is_empty() {
                let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
                return Err(fail(format!(
                    "the result is not valid:\n{}",
                    list.join("\n")
                )));
            }
            PolicyKind::Hpa {
                spec: Box::new(spec),
                settings: settings.clone(),
            }
        }
        PolicyKind::Kpa { manifest, .. } => {
            let mut doc = manifest.clone();
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            let number = |v: &str| -> Value {
                v.parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::from(v))
            };
            let annotation = |short: &str| format!("{GROUP}{short}");
            let (key, annotations) = if kind == "InferenceService" {
                let predictor = &mut doc["spec"]["predictor"];
                match param {
                    "min" => {
                        predictor["minReplicas"] = number(value);
                        (None, None)
                    }
                    "max" => {
                        predictor["maxReplicas"] = number(value);
                        (None, None)
                    }
                    "target" if !predictor["scaleTarget"].is_null() => {
                        predictor["scaleTarget"] = number(value);
                        (None, None)
                    }
                    short => (Some(annotation(short)), Some("metadata")),
                }
            } else {
                let short = match param {
                    "min" => "min-scale",
                    "max" => "max-scale",
                    other => other,
                };
                (Some(annotation(short)), Some("template"))
            };
            if let (Some(key), Some(place)) = (key, annotations) {
                let meta = if place == "metadata" {
                    &mut doc["metadata"]
                } else {
                    &mut doc["spec"]["template"]["metadata"]
                };
                if !meta["annotations"].is_object() {
                    meta["annotations"] = Value::Object(Default::default());
                }
                meta["annotations"][key] = Value::from(value);
            }
            let spec = kpa_spec(&doc, &kind, &defaults.kpa).map_err(fail)?;
            PolicyKind::Kpa {
                spec: Box::new(spec),
                manifest: doc,
            }
        }
        PolicyKind::Fixed { .. } => {
            return Err(fail("a fixed replica count has nothing to sweep".into()));
        }
    };
    Ok(PolicyDef { name, kind })
}

fn typed<T: DeserializeOwned>(doc: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(doc).map_err(|e| format!("invalid spec: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_HPA: &str = "apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: app-fastapi
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: app-fastapi
  minReplicas: 1
  maxReplicas: 10
  targetCPUUtilizationPercentage: 50
";

    #[test]
    fn reads_the_seed_hpa_and_skips_other_kinds() {
        let text = format!("apiVersion: v1\nkind: Service\nmetadata: {{name: x}}\n---\n{SEED_HPA}");
        let p = load_policies(&text, "hpa.yaml", &Defaults::default()).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "app-fastapi");
        let PolicyKind::Hpa { spec, .. } = &p[0].kind else {
            panic!("expected an HPA")
        };
        assert_eq!(spec.max_replicas, 10);
        assert_eq!(
            spec.metrics[0]
                .resource
                .as_ref()
                .unwrap()
                .target
                .average_utilization,
            Some(50)
        );
    }

    #[test]
    fn reads_kserve_and_knative_services_as_kpa() {
        let isvc = "apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: custom-model-autoscaling
  annotations:
    autoscaling.knative.dev/target: \"10\"
spec:
  predictor:
    minReplicas: 0
    maxReplicas: 8
    containers: [{name: kserve-container, image: x}]
";
        let p = load_policies(isvc, "isvc.yaml", &Defaults::default()).unwrap();
        let PolicyKind::Kpa { spec, .. } = &p[0].kind else {
            panic!("expected a KPA")
        };
        assert_eq!((spec.min_scale, spec.max_scale), (0, 8));
        assert!((spec.target_value - 7.0).abs() < 1e-12, "target 10 × 70%");
        let ksvc = "apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: hello}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/target: 0}
    spec: {containerConcurrency: 4}
";
        let e = load_policies(ksvc, "ksvc.yaml", &Defaults::default()).unwrap_err();
        assert!(
            e.to_string().contains("spec.template.metadata.annotations"),
            "{e}"
        );
        let p = load_policies(
            &ksvc.replace("target: 0", "window: 30s"),
            "ksvc.yaml",
            &Defaults::default(),
        )
        .unwrap();
        assert_eq!(p[0].container_concurrency(), Some(4));
    }

    #[test]
    fn sweeps_change_one_parameter() {
        let hpa = load_policies(SEED_HPA, "h", &Defaults::default())
            .unwrap()
            .remove(0);
        let v = vary(&hpa, "target", "70", &Defaults::default()).unwrap();
        assert_eq!(v.name, "app-fastapi target=70");
        let PolicyKind::Hpa { spec, .. } = &v.kind else {
            panic!()
        };
        assert_eq!(
            spec.metrics[0]
                .resource
                .as_ref()
                .unwrap()
                .target
                .average_utilization,
            Some(70)
        );
        let e = vary(&hpa, "max", "0", &Defaults::default()).unwrap_err();
        assert!(e.to_string().contains("maxReplicas"), "{e}");
        let e = vary(&hpa, "window", "1m", &Defaults::default()).unwrap_err();
        assert!(e.to_string().contains("target, min or max"), "{e}");

        let isvc = "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: m}\nspec: {predictor: {minReplicas: 0}}\n";
        let kpa = load_policies(isvc, "k", &Defaults::default())
            .unwrap()
            .remove(0);
        let v = vary(&kpa, "target", "20", &Defaults::default()).unwrap();
        let PolicyKind::Kpa { spec, .. } = &v.kind else {
            panic!()
        };
        assert!((spec.target_value - 14.0).abs() < 1e-9);
        let v = vary(&kpa, "window", "2m", &Defaults::default()).unwrap();
        let PolicyKind::Kpa { spec, .. } = &v.kind else {
            panic!()
        };
        assert_eq!(spec.stable_window.0.as_secs(), 120);
        let e = vary(&kpa, "window", "2h", &Defaults::default()).unwrap_err();
        assert!(e.to_string().contains("window"), "{e}");
        assert!(Sweep::parse("target").is_err());
        assert_eq!(Sweep::parse("target=5, 10").unwrap().values, ["5", "10"]);
    }

    #[test]
    fn reads_ebb_autoscalers_of_both_classes() {
        let text = "apiVersion: ebb.dev/v1alpha1
kind: Autoscaler
metadata: {name: a}
spec:
  class: hpa
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}}]
---
apiVersion: ebb.dev/v1alpha1
kind: Autoscaler
metadata: {name: b}
spec:
  class: kpa
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  kpa: {target: 10, minScale: 1}
";
        let p = load_policies(text, "a.yaml", &Defaults::default()).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].class(), p[1].class()), ("hpa", "kpa"));
        let PolicyKind::Kpa { spec, .. } = &p[1].kind else {
            panic!()
        };
        assert_eq!(spec.min_scale, 1);
        let bad = text.replace("target: 10", "target: 0");
        let e = load_policies(&bad, "a.yaml", &Defaults::default()).unwrap_err();
        assert!(e.to_string().contains("spec.kpa"), "{e}");
    }

    #[test]
    fn invalid_and_unknown_manifests_are_explained() {
        let bad = SEED_HPA.replace("maxReplicas: 10", "maxReplicas: 0");
        let e = load_policies(&bad, "hpa.yaml", &Defaults::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("hpa.yaml (document 1): the HorizontalPodAutoscaler is not valid"),
            "{e}"
        );
        let memory = SEED_HPA.replace("autoscaling/v1", "autoscaling/v2").replace(
            "  targetCPUUtilizationPercentage: 50\n",
            "  metrics: [{type: Resource, resource: {name: memory, target: {type: Utilization, averageUtilization: 80}}}]\n",
        );
        let e = load_policies(&memory, "m.yaml", &Defaults::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("spec.metrics[0]: a Resource memory metric cannot be simulated"),
            "{e}"
        );
        let e = load_policies(
            "apiVersion: v1\nkind: Pod\n",
            "p.yaml",
            &Defaults::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("not a policy ebb sim can run"),
            "{e}"
        );
        let e = load_policies(
            "apiVersion: v1\nkind: Service\n",
            "s.yaml",
            &Defaults::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("no autoscaler in the file"), "{e}");
        let e = load_policies("a: [", "y.yaml", &Defaults::default()).unwrap_err();
        assert!(e.to_string().starts_with("y.yaml: "), "{e}");
    }
}
