//! Fields that are valid Kubernetes but that ebb does not use: accepted without a warning, so
//! that only real typos (`maxReplica:`) are reported as unknown. Paths are normalized with
//! `[]` for list indices.

/// Server-filled and bookkeeping fields of `metadata`.
const META: &[&str] = &[
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "managedFields",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];

/// PodSpec fields that matter to a cluster scheduler or kubelet, not to a local process.
const POD: &[&str] = &[
    "activeDeadlineSeconds",
    "affinity",
    "automountServiceAccountToken",
    "dnsConfig",
    "dnsPolicy",
    "enableServiceLinks",
    "ephemeralContainers",
    "hostAliases",
    "hostIPC",
    "hostNetwork",
    "hostPID",
    "hostUsers",
    "hostname",
    "hostnameOverride",
    "imagePullSecrets",
    "initContainers",
    "nodeName",
    "nodeSelector",
    "os",
    "overhead",
    "preemptionPolicy",
    "priority",
    "priorityClassName",
    "readinessGates",
    "resourceClaims",
    "resources",
    "restartPolicy",
    "runtimeClassName",
    "schedulerName",
    "schedulingGates",
    "securityContext",
    "serviceAccount",
    "serviceAccountName",
    "setHostnameAsFQDN",
    "shareProcessNamespace",
    "subdomain",
    "tolerations",
    "topologySpreadConstraints",
    "volumes",
];

/// Container fields for images, terminals and mounts.
const CONTAINER: &[&str] = &[
    "imagePullPolicy",
    "lifecycle",
    "resizePolicy",
    "restartPolicy",
    "restartPolicyRules",
    "securityContext",
    "stdin",
    "stdinOnce",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "tty",
    "volumeDevices",
    "volumeMounts",
];

const DEPLOYMENT_SPEC: &[&str] = &[
    "minReadySeconds",
    "paused",
    "progressDeadlineSeconds",
    "revisionHistoryLimit",
    "strategy",
];

const SERVICE_SPEC: &[&str] = &[
    "allocateLoadBalancerNodePorts",
    "clusterIP",
    "clusterIPs",
    "externalIPs",
    "externalName",
    "externalTrafficPolicy",
    "healthCheckNodePort",
    "internalTrafficPolicy",
    "ipFamilies",
    "ipFamilyPolicy",
    "loadBalancerClass",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "publishNotReadyAddresses",
    "sessionAffinity",
    "sessionAffinityConfig",
    "trafficDistribution",
];

/// KServe component extension and framework fields ebb reads no further.
const PREDICTOR: &[&str] = &[
    "autoScaling",
    "batcher",
    "canaryTrafficPercent",
    "deploymentStrategy",
    "labels",
    "logger",
    "storageUris",
    "workerSpec",
];

/// Whether an unknown-to-serde field at `path` (in a document of `kind`) is a valid field ebb
/// deliberately ignores.
pub(crate) fn is_accepted(kind: &str, path: &str) -> bool {
    let normalized = normalize(path);
    let (parent, field) = match normalized.rsplit_once('.') {
        Some((parent, field)) => (parent, field),
        None => ("", normalized.as_str()),
    };
    let in_list = |list: &[&str]| list.contains(&field);
    if parent.is_empty() {
        return field == "status";
    }
    if parent == "metadata" || parent.ends_with(".metadata") {
        return in_list(META);
    }
    if parent.ends_with("containers[]") {
        return in_list(CONTAINER);
    }
    if parent.ends_with("ports[]") {
        return matches!(field, "hostPort" | "hostIP" | "appProtocol");
    }
    if parent.ends_with("resources") {
        return field == "claims";
    }
    match (kind, parent) {
        ("Deployment", "spec") => in_list(DEPLOYMENT_SPEC),
        ("Deployment", "spec.template.spec") => in_list(POD),
        ("Service", "spec") => in_list(SERVICE_SPEC) || field == "traffic",
        ("Service", "spec.template.spec") => in_list(POD),
        ("InferenceService", "spec") => matches!(field, "transformer" | "explainer"),
        ("InferenceService", "spec.predictor") => in_list(POD) || in_list(PREDICTOR),
        _ => false,
    }
}

/// `a.b[3].c` → `a.b[].c`.
fn normalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_kubernetes_fields_are_accepted_and_typos_are_not() {
        assert!(is_accepted("Deployment", "metadata.creationTimestamp"));
        assert!(is_accepted("Deployment", "spec.template.spec.volumes"));
        assert!(is_accepted(
            "Deployment",
            "spec.template.spec.containers[2].imagePullPolicy"
        ));
        assert!(is_accepted(
            "InferenceService",
            "spec.predictor.nodeSelector"
        ));
        assert!(is_accepted("HorizontalPodAutoscaler", "status"));
        assert!(!is_accepted("HorizontalPodAutoscaler", "spec.maxReplica"));
        assert!(!is_accepted(
            "Deployment",
            "spec.template.spec.containers[0].comand"
        ));
        assert!(!is_accepted("Deployment", "spec.volumes"));
    }
}
