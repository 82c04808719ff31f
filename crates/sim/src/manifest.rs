//! Policies from the manifests users already run, read by `ebb-manifest`: `ebb sim` accepts
//! exactly what `ebb validate` and `ebb convert` accept, with the same file:line:column
//! findings. Every autoscaling kind becomes its normalized `Autoscaler` first (HPA v1/v2, KEDA
//! ScaledObject, KServe InferenceService, Knative Service, ebb Autoscaler); what the simulator
//! cannot model is then refused on that form. Other kinds (Deployments, Services) are skipped.

use ebb_core::hpa::HpaSettings;
use ebb_core::hpa::spec::{Gates, HpaSpec};
use ebb_core::kpa::settings::{GROUP, is_known_annotation};
use ebb_core::kpa::{KpaConfig, KpaSettings, KpaSpec};
use ebb_manifest::convert::to_autoscaler;
use ebb_manifest::kinds::autoscaler::AutoscalerClass;
use ebb_manifest::kinds::defaults::RevisionDefaults;
use ebb_manifest::kinds::serverless::{isvc_settings, ksvc_settings};
use ebb_manifest::{Diagnostic, Manifest, Manifests, Mode, Parsed, Severity, Source};
use serde_json::Value;

use crate::policy::{PolicyDef, PolicyKind};

/// Why manifests could not become policies.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ManifestError {
    /// Findings in the files, each at its file:line:column.
    #[error("{}", findings(.0))]
    Findings(Vec<Diagnostic>),
    /// The files hold no autoscaler.
    #[error(
        "no autoscaler in the file (anything else is not a policy ebb sim can run): give a HorizontalPodAutoscaler (autoscaling/v1 or v2), a KServe InferenceService, a Knative Service, a KEDA ScaledObject or an ebb Autoscaler"
    )]
    NoAutoscaler,
    /// A `--sweep` value does not fit the policy.
    #[error("{origin}: {message}")]
    Sweep {
        /// The sweep and the policy.
        origin: String,
        /// What is wrong and what would be valid.
        message: String,
    },
}

fn findings(list: &[Diagnostic]) -> String {
    let lines: Vec<String> = list.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

impl ManifestError {
    /// The findings in the files, if that is what is wrong.
    pub fn findings(&self) -> &[Diagnostic] {
        match self {
            ManifestError::Findings(list) => list,
            _ => &[],
        }
    }
}

/// Cluster-wide settings that manifests do not carry.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// kube-controller-manager's HPA flags.
    pub hpa: HpaSettings,
    /// Knative's `config-autoscaler`.
    pub kpa: KpaConfig,
    /// Knative's `config-defaults` (its containerConcurrency default is filled in when the
    /// files are checked; its bounds apply again to a swept revision).
    pub revision: RevisionDefaults,
}

/// Reads every policy in `text` (one or more YAML documents); `origin` names the file.
pub fn load_policies(
    text: &str,
    origin: &str,
    defaults: &Defaults,
) -> Result<Vec<PolicyDef>, ManifestError> {
    policies(&check(&[Source::new(origin, text)]), defaults)
}

/// Reads and validates manifests as `ebb convert` does (references may be in the cluster).
pub fn check(sources: &[Source]) -> Manifests {
    ebb_manifest::check(sources, Mode::Cluster)
}

/// The policies of checked manifests: errors in the files first, then what the simulator cannot
/// run, each at its file:line:column.
pub fn policies(checked: &Manifests, defaults: &Defaults) -> Result<Vec<PolicyDef>, ManifestError> {
    if checked.has_errors() {
        let errors = checked.of(Severity::Error).cloned().collect();
        return Err(ManifestError::Findings(errors));
    }
    let mut policies = Vec::new();
    let mut problems = Vec::new();
    for parsed in &checked.objects {
        match policy_kind(&parsed.manifest, defaults) {
            Ok(Some(kind)) => policies.push(PolicyDef {
                name: name(&parsed.manifest, &kind),
                kind,
            }),
            Ok(None) => {}
            Err(list) => problems.extend(
                list.into_iter()
                    .map(|(path, message)| located(parsed, &path, &message)),
            ),
        }
    }
    if !problems.is_empty() {
        return Err(ManifestError::Findings(problems));
    }
    if policies.is_empty() {
        return Err(ManifestError::NoAutoscaler);
    }
    Ok(policies)
}

/// `message` about `path` of `parsed`, placed in its file.
fn located(parsed: &Parsed, path: &str, message: &str) -> Diagnostic {
    let message = message
        .strip_prefix(&format!("{path}: "))
        .unwrap_or(message);
    parsed.diagnostic(Severity::Error, path, message)
}

fn name(manifest: &Manifest, kind: &PolicyKind) -> String {
    let name = &manifest.metadata().name;
    if !name.is_empty() {
        return name.clone();
    }
    match manifest {
        Manifest::Autoscaler(_) => "autoscaler".into(),
        _ => match kind {
            PolicyKind::Hpa { .. } => "hpa".into(),
            _ => "kpa".into(),
        },
    }
}

/// Problems as `(field path, message)`.
type Problems = Vec<(String, String)>;

/// The policy of one object: `None` for kinds that do not autoscale.
fn policy_kind(manifest: &Manifest, defaults: &Defaults) -> Result<Option<PolicyKind>, Problems> {
    // The serverless kinds' settings with the simulator's config-autoscaler, which may be
    // stricter than the one the files were checked against.
    let knative = match manifest {
        Manifest::InferenceService(isvc) => Some(isvc_settings(isvc, &defaults.kpa)),
        Manifest::KnativeService(ksvc) => Some(ksvc_settings(ksvc, &defaults.kpa)),
        _ => None,
    };
    if let Some(Err(errors)) = knative {
        return Err(errors.into_iter().map(|f| (f.path, f.message)).collect());
    }
    let Some(autoscaler) = to_autoscaler(manifest, &defaults.kpa, &defaults.revision) else {
        return Ok(None);
    };
    let spec = autoscaler.spec;
    match spec.class {
        AutoscalerClass::Hpa => {
            let hpa = spec.hpa_spec().ok_or_else(|| {
                vec![(
                    "spec.maxReplicas".to_string(),
                    "the HPA needs maxReplicas".to_string(),
                )]
            })?;
            simulable(&hpa, manifest)?;
            Ok(Some(PolicyKind::Hpa {
                spec: Box::new(hpa),
                settings: defaults.hpa.clone(),
            }))
        }
        AutoscalerClass::Kpa => {
            let settings: KpaSettings = spec.kpa.unwrap_or_default();
            let errors = settings.validate(&defaults.kpa, "spec.kpa");
            if !errors.is_empty() {
                return Err(errors
                    .iter()
                    .map(|e| (e.path.clone(), e.to_string()))
                    .collect());
            }
            Ok(Some(PolicyKind::Kpa {
                spec: Box::new(KpaSpec::resolve(&defaults.kpa, &settings)),
                manifest: Box::new(manifest.clone()),
            }))
        }
    }
}

/// The simulator models replicas' CPU; other HPA metrics have no source in a simulation.
fn simulable(spec: &HpaSpec, manifest: &Manifest) -> Result<(), Problems> {
    for (i, m) in spec.metrics.iter().enumerate() {
        let cpu = m.resource.as_ref().is_some_and(|r| r.name == "cpu");
        if !cpu {
            let what = match (&m.resource, &m.container_resource) {
                (Some(r), _) => format!("Resource {}", r.name),
                (_, Some(r)) => format!("ContainerResource {}", r.name),
                _ => format!("{:?}", m.kind),
            };
            // Where the metric came from in the object as written.
            let path = match manifest {
                Manifest::ScaledObject(_) => format!("spec.triggers[{i}]"),
                Manifest::InferenceService(_) => "spec.predictor.scaleMetric".to_string(),
                Manifest::KnativeService(_) => {
                    format!("spec.template.metadata.annotations[{GROUP}metric]")
                }
                _ => format!("spec.metrics[{i}]"),
            };
            return Err(vec![(
                path,
                format!(
                    "a {what} metric cannot be simulated: ebb sim models the replicas' CPU, so it runs HPAs on Resource cpu metrics (Utilization or AverageValue)"
                ),
            )]);
        }
    }
    Ok(())
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
    let fail = |message: String| ManifestError::Sweep {
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
            let mut manifest = (**manifest).clone();
            set_knative(&mut manifest, param, value).map_err(fail)?;
            let findings = ebb_manifest::validate_object(
                &manifest,
                Mode::Cluster,
                &defaults.kpa,
                &defaults.revision,
            );
            let mut errors: Vec<String> = findings
                .into_iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| f.message)
                .collect();
            let kind = match policy_kind(&manifest, defaults) {
                Ok(Some(kind @ PolicyKind::Kpa { .. })) => Some(kind),
                Ok(_) => None,
                Err(problems) => {
                    errors.extend(problems.into_iter().map(|(_, m)| m));
                    None
                }
            };
            errors.dedup();
            match kind {
                Some(kind) if errors.is_empty() => kind,
                _ => {
                    let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
                    return Err(fail(format!(
                        "the result is not valid:\n{}",
                        list.join("\n")
                    )));
                }
            }
        }
        PolicyKind::Fixed { .. } => {
            return Err(fail("a fixed replica count has nothing to sweep".into()));
        }
    };
    Ok(PolicyDef { name, kind })
}

/// Sets a Knative setting where the object's author would: KServe's predictor fields for
/// `min`, `max` and (when the predictor has one) `target`, the revision's annotations
/// otherwise, or `spec.kpa` of an ebb Autoscaler.
fn set_knative(manifest: &mut Manifest, param: &str, value: &str) -> Result<(), String> {
    let short = match param {
        "min" => "min-scale",
        "max" => "max-scale",
        other => other,
    };
    let key = format!("{GROUP}{short}");
    if !is_known_annotation(&key) {
        return Err(format!(
            "a Knative policy can be swept over target, min, max or an autoscaling.knative.dev/ annotation such as window, not {param:?}"
        ));
    }
    let int = || {
        value
            .parse::<i32>()
            .map_err(|_| format!("{param} must be a whole number, got {value:?}"))
    };
    match manifest {
        Manifest::InferenceService(isvc) => {
            let p = &mut isvc.spec.predictor;
            match param {
                "min" => p.min_replicas = Some(int()?),
                "max" => p.max_replicas = Some(int()?),
                "target" if p.scale_target.is_some() => p.scale_target = Some(int()?),
                _ => {
                    isvc.metadata.annotations.insert(key, value.to_string());
                }
            }
        }
        Manifest::KnativeService(ksvc) => {
            let annotations = &mut ksvc.spec.template.metadata.annotations;
            annotations.insert(key, value.to_string());
        }
        Manifest::Autoscaler(a) => {
            let settings = a.spec.kpa.clone().unwrap_or_default();
            let mut fields = serde_json::to_value(settings).map_err(|e| e.to_string())?;
            let field = camel_case(short);
            let number = value
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64);
            fields[&field] = match (number, value.parse::<i64>()) {
                (_, Ok(n)) => Value::from(n),
                (Some(n), _) => Value::Number(n),
                _ => Value::from(value),
            };
            a.spec.kpa =
                Some(serde_json::from_value(fields).map_err(|e| format!("spec.kpa.{field}: {e}"))?);
        }
        other => return Err(format!("a {} has no Knative settings", other.kind())),
    }
    Ok(())
}

/// `scale-down-delay` → `scaleDownDelay`, as `spec.kpa` names the annotation's setting.
fn camel_case(kebab: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in kebab.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
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
        let text = format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: x}}\nspec: {{ports: [{{port: 80}}]}}\n---\n{SEED_HPA}"
        );
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
    spec: {containerConcurrency: 4, containers: [{image: x}]}
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

        let isvc = "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: m}\nspec: {predictor: {minReplicas: 0, containers: [{name: c, image: x}]}}\n";
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
                .starts_with("hpa.yaml:11:16: error: HorizontalPodAutoscaler/app-fastapi: spec.maxReplicas: Invalid value: 0"),
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
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n",
            "s.yaml",
            &Defaults::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("no autoscaler in the file"), "{e}");
        let e = load_policies("a: [", "y.yaml", &Defaults::default()).unwrap_err();
        assert!(e.to_string().starts_with("y.yaml:1:"), "{e}");
    }

    #[test]
    fn an_ebb_autoscaler_of_class_kpa_is_swept_in_its_settings() {
        let text = "apiVersion: ebb.dev/v1alpha1
kind: Autoscaler
metadata: {name: a}
spec:
  class: kpa
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  kpa: {target: 10, minScale: 1}
";
        let kpa = load_policies(text, "a.yaml", &Defaults::default())
            .unwrap()
            .remove(0);
        let v = vary(&kpa, "window", "2m", &Defaults::default()).unwrap();
        let PolicyKind::Kpa { spec, .. } = &v.kind else {
            panic!()
        };
        assert_eq!(spec.stable_window.0.as_secs(), 120);
        assert_eq!(spec.min_scale, 1, "the other settings stay");
        let v = vary(&kpa, "max", "3", &Defaults::default()).unwrap();
        let PolicyKind::Kpa { spec, .. } = &v.kind else {
            panic!()
        };
        assert_eq!(spec.max_scale, 3);
        let e = vary(&kpa, "windw", "2m", &Defaults::default()).unwrap_err();
        assert!(e.to_string().contains("not \"windw\""), "{e}");
    }

    #[test]
    fn a_keda_scaled_object_runs_as_the_hpa_keda_generates_when_it_scales_on_cpu() {
        let text = "apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: so}
spec:
  scaleTargetRef: {name: web}
  minReplicaCount: 1
  maxReplicaCount: 5
  triggers:
  - type: cpu
    metricType: Utilization
    metadata: {value: \"60\"}
";
        let p = load_policies(text, "so.yaml", &Defaults::default()).unwrap();
        let PolicyKind::Hpa { spec, .. } = &p[0].kind else {
            panic!("expected an HPA")
        };
        assert_eq!((spec.min(), spec.max_replicas), (1, 5));
        let memory = text.replace("type: cpu", "type: memory");
        let e = load_policies(&memory, "so.yaml", &Defaults::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("so.yaml:9:5: error: ScaledObject/so: spec.triggers[0]: a Resource memory metric cannot be simulated"),
            "{e}"
        );
    }
}
