//! The HorizontalPodAutoscaler `kubectl autoscale` creates, built the same way: autoscaling/v2,
//! `minReplicas` only when `--min` is above 0, a CPU metric for `--cpu-percent` (or `--cpu`),
//! a memory metric for `--memory`, and the empty status an unsaved object prints with.

use ebb_core::Quantity;
use serde_json::{Map, Value, json};

/// What the user asked for, as `kubectl autoscale TYPE NAME` flags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// `deployment`, `rs`, `statefulset/NAME`, ...
    pub resource: String,
    /// The workload's name (may be empty when `resource` is `TYPE/NAME`).
    pub name: String,
    /// `--min` (kubectl: -1 when not given; only values above 0 are written).
    pub min: Option<i32>,
    /// `--max`.
    pub max: i32,
    /// `--cpu-percent` (deprecated in kubectl in favor of `--cpu=50%`).
    pub cpu_percent: Option<i32>,
    /// `--cpu`: `70%` for utilization, a quantity (`500m`, bare numbers are millicores) for an
    /// average value.
    pub cpu: Option<String>,
    /// `--memory`: `60%`, or a quantity (`200Mi`; bare numbers are MiB).
    pub memory: Option<String>,
    /// `--name` of the HPA (default: the workload's name).
    pub hpa_name: Option<String>,
    /// `-n`: written to metadata.namespace when given.
    pub namespace: Option<String>,
}

/// Why kubectl would refuse the request (its words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RequestError(pub String);

/// The HPA object kubectl would print with `--dry-run=client -o yaml`.
pub fn hpa(request: &Request) -> Result<Value, RequestError> {
    let err = |m: String| Err(RequestError(m));
    let (api_version, kind, name) = target(&request.resource, &request.name)?;
    let min = request.min.unwrap_or(-1);
    if request.max < 1 {
        return err(format!(
            "--max=MAXPODS is required and must be at least 1, max: {}",
            request.max
        ));
    }
    if request.max < min {
        return err(format!(
            "--max=MAXPODS must be larger or equal to --min=MINPODS, max: {}, min: {min}",
            request.max
        ));
    }
    let cpu_percent = request.cpu_percent.unwrap_or(-1);
    if cpu_percent > 0 && request.cpu.is_some() {
        return err("--cpu-percent and --cpu are mutually exclusive".to_string());
    }
    let mut metrics = Vec::new();
    if cpu_percent > 0 {
        metrics.push(resource_metric("cpu", Target::Utilization(cpu_percent)));
    }
    if let Some(cpu) = &request.cpu {
        metrics.push(resource_metric("cpu", parse_target(cpu, "cpu")?));
    }
    if let Some(memory) = &request.memory {
        metrics.push(resource_metric("memory", parse_target(memory, "memory")?));
    }
    let mut metadata = Map::new();
    metadata.insert(
        "name".into(),
        json!(request.hpa_name.clone().unwrap_or_else(|| name.clone())),
    );
    if let Some(ns) = &request.namespace {
        metadata.insert("namespace".into(), json!(ns));
    }
    let mut spec = Map::new();
    spec.insert(
        "scaleTargetRef".into(),
        json!({"apiVersion": api_version, "kind": kind, "name": name}),
    );
    spec.insert("maxReplicas".into(), json!(request.max));
    if min > 0 {
        spec.insert("minReplicas".into(), json!(min));
    }
    if !metrics.is_empty() {
        spec.insert("metrics".into(), Value::Array(metrics));
    }
    Ok(json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata,
        "spec": spec,
        "status": {"currentMetrics": null, "desiredReplicas": 0},
    }))
}

/// `deployment NAME` or `deployment/NAME` → (apiVersion, kind, name).
fn target(resource: &str, name: &str) -> Result<(String, String, String), RequestError> {
    let (resource, name) = match resource.split_once('/') {
        Some((r, n)) if name.is_empty() => (r, n.to_string()),
        Some(_) => {
            return Err(RequestError(
                "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form".into(),
            ));
        }
        None => (resource, name.to_string()),
    };
    if name.is_empty() {
        return Err(RequestError(format!(
            "a name is required: ebb autoscale {resource} NAME"
        )));
    }
    let (api_version, kind) = match resource.to_ascii_lowercase().as_str() {
        "deployment" | "deployments" | "deploy" => ("apps/v1", "Deployment"),
        "replicaset" | "replicasets" | "rs" => ("apps/v1", "ReplicaSet"),
        "statefulset" | "statefulsets" | "sts" => ("apps/v1", "StatefulSet"),
        "replicationcontroller" | "replicationcontrollers" | "rc" => {
            ("v1", "ReplicationController")
        }
        other => {
            return Err(RequestError(format!(
                "cannot autoscale a {other:?}: supported types are deployment, replicaset, statefulset, replicationcontroller"
            )));
        }
    };
    Ok((api_version.into(), kind.into(), name))
}

enum Target {
    Utilization(i32),
    AverageValue(Quantity),
}

/// kubectl's `parseResourceInput`: `70%`, a quantity, or a bare number in the resource's
/// default unit (millicores for cpu, MiB for memory).
fn parse_target(input: &str, resource: &str) -> Result<Target, RequestError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(RequestError("empty input".into()));
    }
    if let Some(percent) = input.strip_suffix('%') {
        return match percent.parse::<i32>() {
            Ok(p) if p >= 0 => Ok(Target::Utilization(p)),
            _ => Err(RequestError(format!("invalid percentage value: {percent}"))),
        };
    }
    let invalid = || RequestError(format!("invalid resource {resource} value: {input}"));
    let text = match input.parse::<f64>() {
        Ok(n) if n.is_finite() => {
            let unit = if resource == "cpu" { "m" } else { "Mi" };
            format!("{n}{unit}")
        }
        _ => input.to_string(),
    };
    text.parse::<Quantity>()
        .map(Target::AverageValue)
        .map_err(|_| invalid())
}

fn resource_metric(name: &str, target: Target) -> Value {
    let target = match target {
        Target::Utilization(p) => json!({"type": "Utilization", "averageUtilization": p}),
        Target::AverageValue(q) => json!({"type": "AverageValue", "averageValue": q.to_string()}),
    };
    json!({"type": "Resource", "resource": {"name": name, "target": target}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::to_yaml;

    fn request(max: i32) -> Request {
        Request {
            resource: "deployment".into(),
            name: "app-fastapi".into(),
            max,
            ..Request::default()
        }
    }

    #[test]
    fn the_seed_command_prints_what_kubectl_prints() {
        let hpa = hpa(&Request {
            min: Some(1),
            cpu_percent: Some(50),
            ..request(10)
        })
        .expect("valid");
        assert_eq!(
            to_yaml(&hpa),
            "\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: app-fastapi
spec:
  maxReplicas: 10
  metrics:
  - resource:
      name: cpu
      target:
        averageUtilization: 50
        type: Utilization
    type: Resource
  minReplicas: 1
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: app-fastapi
status:
  currentMetrics: null
  desiredReplicas: 0
"
        );
    }

    #[test]
    fn flags_map_like_kubectl() {
        let bare = hpa(&request(5)).expect("valid");
        assert!(bare["spec"].get("metrics").is_none());
        assert!(bare["spec"].get("minReplicas").is_none());
        let values = hpa(&Request {
            cpu: Some("500".into()),
            memory: Some("60%".into()),
            ..request(5)
        })
        .expect("valid");
        assert_eq!(
            values["spec"]["metrics"][0]["resource"]["target"]["averageValue"],
            "500m"
        );
        assert_eq!(
            values["spec"]["metrics"][1]["resource"]["target"]["averageUtilization"],
            60
        );
        let memory = hpa(&Request {
            memory: Some("200".into()),
            ..request(5)
        })
        .expect("valid");
        assert_eq!(
            memory["spec"]["metrics"][0]["resource"]["target"]["averageValue"],
            "200Mi"
        );
    }

    #[test]
    fn refuses_what_kubectl_refuses() {
        let msg = |r: Request| hpa(&r).expect_err("invalid").0;
        assert_eq!(
            msg(request(0)),
            "--max=MAXPODS is required and must be at least 1, max: 0"
        );
        assert_eq!(
            msg(Request {
                min: Some(5),
                ..request(3)
            }),
            "--max=MAXPODS must be larger or equal to --min=MINPODS, max: 3, min: 5"
        );
        assert_eq!(
            msg(Request {
                cpu_percent: Some(50),
                cpu: Some("60%".into()),
                ..request(3)
            }),
            "--cpu-percent and --cpu are mutually exclusive"
        );
        assert_eq!(
            msg(Request {
                cpu: Some("x%".into()),
                ..request(3)
            }),
            "invalid percentage value: x"
        );
        assert!(
            msg(Request {
                resource: "pod".into(),
                ..request(3)
            })
            .starts_with("cannot autoscale a \"pod\"")
        );
    }
}
