//! serving.kserve.io/v1beta1 InferenceService (predictor only) and serving.knative.dev/v1
//! Service: the serverless kinds, scaled by the Knative Pod Autoscaler through
//! `autoscaling.knative.dev/*` annotations.

use std::collections::BTreeMap;

use ebb_core::FieldError;
use serde::{Deserialize, Serialize};

use super::defaults::RevisionDefaults;
use super::meta::{NameRule, Object, ObjectMeta, quoted, validate_name};
use super::pod::{
    Container, ContainerPort, ContainerRules, EnvVar, ResourceRequirements, validate_containers,
};
use crate::diagnostic::Issues;

/// serving.kserve.io/v1beta1 InferenceService.
pub type InferenceService = Object<InferenceServiceSpec>;

/// `spec` of an InferenceService. Transformers and explainers are accepted and not run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceServiceSpec {
    /// The model server.
    pub predictor: PredictorSpec,
}

/// The predictor: KServe's component extension (scaling fields) plus an inline pod spec, or a
/// model served by a KServe runtime.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PredictorSpec {
    /// Lower bound; KServe's default is 1 (0 enables scale to zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// Upper bound; 0 or absent means no bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<i32>,
    /// Target per replica for the scale metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_target: Option<i32>,
    /// `concurrency`, `rps`, `cpu` or `memory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_metric: Option<String>,
    /// Hard limit of requests in flight per replica (0 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_concurrency: Option<i64>,
    /// Request timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Annotations KServe adds to the revision, over the InferenceService's own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// A custom predictor's containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    /// Seconds between SIGTERM and SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
    /// A model served by a KServe serving runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSpec>,
    /// `sklearn:` (an older per-framework predictor; needs a KServe runtime image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sklearn: Option<serde_json::Value>,
    /// `xgboost:` (an older per-framework predictor; needs a KServe runtime image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xgboost: Option<serde_json::Value>,
    /// `tensorflow:` (an older per-framework predictor; needs a KServe runtime image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensorflow: Option<serde_json::Value>,
    /// `pytorch:` (an older per-framework predictor; needs a KServe runtime image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pytorch: Option<serde_json::Value>,
    /// `triton:` (an older per-framework predictor; needs a KServe runtime image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triton: Option<serde_json::Value>,
    /// `onnx:` (an older per-framework predictor; needs a KServe runtime image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onnx: Option<serde_json::Value>,
    /// `huggingface:` (an older per-framework predictor; needs a KServe runtime image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub huggingface: Option<serde_json::Value>,
    /// `pmml:` (an older per-framework predictor; needs a KServe runtime image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmml: Option<serde_json::Value>,
    /// `lightgbm:` (an older per-framework predictor; needs a KServe runtime image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lightgbm: Option<serde_json::Value>,
    /// `paddle:` (an older per-framework predictor; needs a KServe runtime image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paddle: Option<serde_json::Value>,
}

impl PredictorSpec {
    /// The per-framework predictor fields that are set.
    pub fn frameworks(&self) -> Vec<&'static str> {
        [
            ("sklearn", &self.sklearn),
            ("xgboost", &self.xgboost),
            ("tensorflow", &self.tensorflow),
            ("pytorch", &self.pytorch),
            ("triton", &self.triton),
            ("onnx", &self.onnx),
            ("huggingface", &self.huggingface),
            ("pmml", &self.pmml),
            ("lightgbm", &self.lightgbm),
            ("paddle", &self.paddle),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(name, _)| name)
        .collect()
    }
}

/// `predictor.model`: a model format and where the model is stored, plus container overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSpec {
    /// e.g. `{name: sklearn}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_format: Option<ModelFormat>,
    /// e.g. `gs://bucket/model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_uri: Option<String>,
    /// A ServingRuntime name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Runtime image tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_version: Option<String>,
    /// `v1` or `v2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// Container name override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Image override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Command override.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments for the runtime.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    /// Requests and limits.
    #[serde(default)]
    pub resources: ResourceRequirements,
}

/// `modelFormat`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFormat {
    /// e.g. `sklearn`, `pytorch`, `huggingface`.
    #[serde(default)]
    pub name: String,
    /// Format version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// serving.knative.dev/v1 Service.
pub type KnativeService = Object<KnativeServiceSpec>;

/// `spec` of a Knative Service (traffic splits are accepted and not used).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KnativeServiceSpec {
    /// The revision template: autoscaling annotations live in its metadata.
    #[serde(default)]
    pub template: RevisionTemplate,
}

/// `spec.template` of a Knative Service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionTemplate {
    /// Labels and `autoscaling.knative.dev/*` annotations.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The revision.
    #[serde(default)]
    pub spec: RevisionSpec,
}

/// A Knative revision: a pod spec plus request limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionSpec {
    /// Hard limit of requests in flight per replica (0 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_concurrency: Option<i64>,
    /// Request timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    /// Seconds a replica has to start its response (default: `config-defaults`'
    /// `revision-response-start-timeout-seconds`, 300, whatever `timeoutSeconds` is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_start_timeout_seconds: Option<i64>,
    /// Seconds a replica may send nothing once its response has started (0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_seconds: Option<i64>,
    /// The containers (one serves).
    #[serde(default)]
    pub containers: Vec<Container>,
    /// Seconds between SIGTERM and SIGKILL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
}

/// Ports Knative's queue-proxy uses.
const RESERVED_PORTS: &[i64] = &[8012, 8013, 8022, 9090, 9091];

/// KServe and Knative name unnamed containers and require images.
const PLATFORM_CONTAINERS: ContainerRules = ContainerRules {
    names_required: false,
    image_required: true,
    probe_ports_required: false,
};

/// KServe's default when `minReplicas` is not set.
pub const KSERVE_DEFAULT_MIN_REPLICAS: i32 = 1;

impl InferenceService {
    /// KServe webhook rules for the predictor (the autoscaling annotations are checked with
    /// the Knative rules, see `serverless.rs`).
    pub(crate) fn validate(&self, issues: &mut Issues) {
        let name = &self.metadata.name;
        if name.is_empty() {
            issues.field(FieldError::required(
                "metadata.name",
                "name or generateName is required",
            ));
        } else if !super::meta::is_dns1035_label(name) {
            issues.field(FieldError::invalid(
                "metadata.name",
                quoted(name),
                "a InferenceService name must consist of lower case alphanumeric characters or '-', and must start with alphabetical character. (e.g. \"my-name\" or \"abc-123\", regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
            ));
        }
        let p = &self.spec.predictor;
        let implementations = usize::from(!p.containers.is_empty())
            + usize::from(p.model.is_some())
            + p.frameworks().len();
        if implementations != 1 {
            issues.field(FieldError::invalid(
                "spec.predictor",
                format!("{implementations} implementations"),
                "exactly one of [containers, model, sklearn, xgboost, tensorflow, pytorch, triton, onnx, huggingface, pmml, lightgbm, paddle] must be specified in PredictorSpec",
            ));
        }
        let min = p.min_replicas.unwrap_or(KSERVE_DEFAULT_MIN_REPLICAS);
        if min < 0 {
            issues.field(FieldError::invalid(
                "spec.predictor.minReplicas",
                min,
                "'MinReplicas' cannot be less than 0",
            ));
        }
        let max = p.max_replicas.unwrap_or(0);
        if max < 0 {
            issues.field(FieldError::invalid(
                "spec.predictor.maxReplicas",
                max,
                "'MaxReplicas' cannot be less than 0",
            ));
        } else if max != 0 && min > max {
            issues.field(FieldError::invalid(
                "spec.predictor.minReplicas",
                min,
                "'MinReplicas' cannot be greater than MaxReplicas",
            ));
        }
        if let Some(cc) = p.container_concurrency
            && cc < 0
        {
            issues.field(FieldError::invalid(
                "spec.predictor.containerConcurrency",
                cc,
                "parallelism cannot be less than 0",
            ));
        }
        if let Some(t) = p.timeout
            && t < 0
        {
            issues.field(FieldError::invalid(
                "spec.predictor.timeout",
                t,
                "must be 0 (the default, 300) or more seconds",
            ));
        }
        if let Some(metric) = &p.scale_metric
            && !matches!(metric.as_str(), "cpu" | "memory" | "concurrency" | "rps")
        {
            issues.field(FieldError::unsupported(
                "spec.predictor.scaleMetric",
                metric,
                &["cpu", "memory", "concurrency", "rps"],
            ));
        }
        validate_containers(&p.containers, "spec.predictor", PLATFORM_CONTAINERS, issues);
    }
}

impl KnativeService {
    /// Knative webhook rules for the revision template (annotations and containerConcurrency:
    /// see `serverless.rs`), with the cluster's `config-defaults` bounds.
    pub(crate) fn validate(&self, defaults: &RevisionDefaults, issues: &mut Issues) {
        issues.fields(validate_name(&self.metadata.name, NameRule::Label1035));
        let spec = &self.spec.template.spec;
        let max_timeout = defaults.max_timeout_seconds;
        for (field, value) in [
            ("timeoutSeconds", spec.timeout_seconds),
            (
                "responseStartTimeoutSeconds",
                spec.response_start_timeout_seconds,
            ),
            ("idleTimeoutSeconds", spec.idle_timeout_seconds),
        ] {
            if let Some(t) = value
                && !(0..=max_timeout).contains(&t)
            {
                issues.field(FieldError::invalid(
                    format!("spec.template.spec.{field}"),
                    t,
                    format!("expected 0 <= {t} <= {max_timeout}"),
                ));
            }
        }
        let start = defaults.response_start_timeout_seconds;
        if let Some(t) = spec.timeout_seconds
            && t > start
            && t <= max_timeout
            && spec.response_start_timeout_seconds.is_none()
        {
            issues.warning(
                "spec.template.spec.timeoutSeconds",
                format!(
                    "a response must still start within {start}s: \
                     responseStartTimeoutSeconds defaults to Knative's \
                     revision-response-start-timeout-seconds ({start}), \
                     not to timeoutSeconds; set responseStartTimeoutSeconds: {t} for a longer wait"
                ),
            );
        }
        if spec.containers.is_empty() {
            issues.field(FieldError::required(
                "spec.template.spec.containers",
                "must specify at least one container",
            ));
        }
        validate_containers(
            &spec.containers,
            "spec.template.spec",
            PLATFORM_CONTAINERS,
            issues,
        );
        let with_ports = spec
            .containers
            .iter()
            .filter(|c| !c.ports.is_empty())
            .count();
        if spec.containers.len() > 1 && with_ports != 1 {
            issues.field(FieldError::invalid(
                "spec.template.spec.containers",
                format!("{with_ports} containers with ports"),
                "exactly one container of a multi-container revision must specify a port",
            ));
        }
        for (i, c) in spec.containers.iter().enumerate() {
            let path = format!("spec.template.spec.containers[{i}]");
            if c.ports.len() > 1 {
                issues.field(FieldError::invalid(
                    format!("{path}.ports"),
                    c.ports.len(),
                    "more than one container port is set; only one port is allowed",
                ));
            }
            for (j, port) in c.ports.iter().enumerate() {
                if RESERVED_PORTS.contains(&port.container_port) {
                    issues.field(FieldError::invalid(
                        format!("{path}.ports[{j}].containerPort"),
                        port.container_port,
                        format!("{} is a reserved port", port.container_port),
                    ));
                }
            }
            for (j, env) in c.env.iter().enumerate() {
                if env.name == "PORT" {
                    issues.field(FieldError::invalid(
                        format!("{path}.env[{j}].name"),
                        quoted(&env.name),
                        "PORT is a reserved environment variable",
                    ));
                }
            }
        }
        if let Some(keys) = misplaced_autoscaling_annotations(&self.metadata.annotations) {
            issues.warning(
                "metadata.annotations",
                format!(
                    "{keys} on the Service itself have no effect: Knative reads autoscaling annotations from spec.template.metadata.annotations"
                ),
            );
        }
    }
}

fn misplaced_autoscaling_annotations(annotations: &BTreeMap<String, String>) -> Option<String> {
    let keys: Vec<&str> = annotations
        .keys()
        .filter(|k| k.starts_with("autoscaling.knative.dev/"))
        .map(String::as_str)
        .collect();
    (!keys.is_empty()).then(|| keys.join(", "))
}
