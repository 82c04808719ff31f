//! "Did you mean" for unknown fields. The vocabulary is the field names of the kinds ebb reads;
//! a misspelling within two edits of one of them gets a suggestion.

#[rustfmt::skip]
const FIELDS: &[&str] = &[
    // object and metadata
    "apiVersion", "kind", "metadata", "spec", "status", "name", "namespace", "labels",
    "annotations",
    // Deployment, pod, container
    "replicas", "selector", "matchLabels", "matchExpressions", "template", "containers",
    "terminationGracePeriodSeconds", "image", "command", "args", "workingDir", "env", "envFrom",
    "value", "valueFrom", "secretKeyRef", "configMapKeyRef", "fieldRef", "resourceFieldRef",
    "ports", "containerPort", "protocol", "resources", "requests", "limits", "readinessProbe",
    "livenessProbe", "startupProbe", "httpGet", "tcpSocket", "exec", "grpc", "path", "port",
    "initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
    "failureThreshold",
    // Service
    "targetPort", "type",
    // HPA
    "scaleTargetRef", "minReplicas", "maxReplicas", "metrics", "behavior", "scaleUp",
    "scaleDown", "stabilizationWindowSeconds", "selectPolicy", "policies", "tolerance",
    "targetCPUUtilizationPercentage", "resource", "containerResource", "pods", "object",
    "external", "target", "averageUtilization", "averageValue", "metric", "describedObject",
    // KServe, Knative
    "predictor", "scaleTarget", "scaleMetric", "containerConcurrency", "timeout", "model",
    "modelFormat", "storageUri", "runtime", "protocolVersion",
    // KEDA
    "pollingInterval", "cooldownPeriod", "initialCooldownPeriod", "idleReplicaCount",
    "minReplicaCount", "maxReplicaCount", "advanced", "horizontalPodAutoscalerConfig",
    "restoreToOriginalReplicaCount", "triggers", "fallback", "metricType", "useCachedMetrics",
    "authenticationRef",
    // ebb Autoscaler
    "class", "kpa", "keda", "externalMetrics",
];

/// `" (did you mean \"maxReplicas\"?)"` for a near miss, else empty.
pub(crate) fn hint(path: &str) -> String {
    let field = path
        .rsplit(['.', ']'])
        .next()
        .unwrap_or(path)
        .trim_start_matches('[');
    best_match(field)
        .map(|m| format!(" (did you mean {m:?}?)"))
        .unwrap_or_default()
}

fn best_match(field: &str) -> Option<&'static str> {
    closest(field, FIELDS)
}

/// The candidate within two edits of `field` (case-insensitive), if any.
pub(crate) fn closest<'a>(field: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = field.to_ascii_lowercase();
    candidates
        .iter()
        .map(|f| (distance(&lower, &f.to_ascii_lowercase()), *f))
        .filter(|(d, f)| *d <= 2.min(f.len() / 3) && *f != field)
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

/// A key of `mapping` that is a near miss of `field` (for "missing field" errors).
pub(crate) fn near_key<'a>(mapping: &'a crate::yaml::index::Node, field: &str) -> Option<&'a str> {
    let crate::yaml::index::Value::Map(entries) = &mapping.value else {
        return None;
    };
    let lower = field.to_ascii_lowercase();
    entries
        .iter()
        .map(|e| {
            (
                distance(&e.key.to_ascii_lowercase(), &lower),
                e.key.as_str(),
            )
        })
        .filter(|(d, k)| *d <= 2.min(field.len() / 3) && *k != field)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev + usize::from(ca != *cb);
            prev = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(prev + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_get_a_suggestion() {
        assert_eq!(hint("spec.maxReplica"), " (did you mean \"maxReplicas\"?)");
        assert_eq!(
            hint("spec.template.spec.containers[0].comand"),
            " (did you mean \"command\"?)"
        );
        assert_eq!(hint("spec.minreplicas"), " (did you mean \"minReplicas\"?)");
        assert_eq!(hint("spec.somethingElse"), "");
        assert_eq!(hint("spec.x"), "");
    }
}
