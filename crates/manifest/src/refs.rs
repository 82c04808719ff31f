//! Rules across objects: an autoscaler's target exists (an error locally, a warning for the
//! controller, which may find it in the cluster), one autoscaler per workload, utilization
//! targets have requests to be relative to, and Services select something.

use std::collections::BTreeMap;

use ebb_core::hpa::spec::{MetricSpec, MetricTargetType};

use crate::diagnostic::Issue;
use crate::kinds::pod::Container;
use crate::kinds::workload::label_selector_matches;
use crate::{Manifest, Mode, Parsed};

/// A workload an autoscaler can point at.
struct Target<'a> {
    kind: &'static str,
    containers: &'a [Container],
    labels: &'a BTreeMap<String, String>,
}

/// A resource whose request a metric is relative to.
struct Needs {
    resource: String,
    container: Option<String>,
    path: String,
}

/// What an autoscaler says about its target.
struct Reference<'a> {
    path: &'static str,
    kind: &'a str,
    name: &'a str,
    /// Resources used as utilization (HPA) or cpu/memory triggers (KEDA): the resource, the
    /// one container it is measured on (if one), and the path of the metric or trigger.
    resources: Vec<Needs>,
    /// KEDA makes missing requests an admission error; the HPA only fails at runtime.
    requests_required: bool,
}

pub(crate) fn check(objects: &[Parsed], mode: Mode) -> Vec<(usize, Issue)> {
    let mut found = Vec::new();
    let mut targets: BTreeMap<(&str, &str, &str), Target<'_>> = BTreeMap::new();
    for p in objects {
        let ns = p.manifest.metadata().namespace_or_default();
        let name = p.manifest.metadata().name.as_str();
        let target = match &p.manifest {
            Manifest::Deployment(d) => Target {
                kind: "Deployment",
                containers: &d.spec.template.spec.containers,
                labels: &d.spec.template.metadata.labels,
            },
            Manifest::InferenceService(i) => Target {
                kind: "InferenceService",
                containers: &i.spec.predictor.containers,
                labels: &i.metadata.labels,
            },
            Manifest::KnativeService(k) => Target {
                kind: "Service",
                containers: &k.spec.template.spec.containers,
                labels: &k.spec.template.metadata.labels,
            },
            _ => continue,
        };
        targets.insert((target.kind, ns, name), target);
    }

    let mut scaled_by: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    for (index, p) in objects.iter().enumerate() {
        let Some(reference) = reference(&p.manifest) else {
            if let Manifest::Service(s) = &p.manifest {
                check_service(s, index, &targets, mode, &mut found);
            }
            continue;
        };
        if reference.name.is_empty() {
            // The object's own validation already says the name is required.
            continue;
        }
        let ns = p.manifest.metadata().namespace_or_default();
        let key = (
            supported_kind(reference.kind).unwrap_or(""),
            ns,
            reference.name,
        );
        let Some(kind) = supported_kind(reference.kind) else {
            let issue = Issue::error(
                format!("{}.kind", reference.path),
                format!(
                    "Unsupported value: {:?}: ebb scales Deployments, InferenceServices and Knative Services",
                    reference.kind
                ),
            );
            found.push((index, severity(issue, mode)));
            continue;
        };
        match targets.get(&key) {
            None => {
                let known: Vec<&str> = targets
                    .keys()
                    .filter(|(k, n, _)| *k == kind && *n == ns)
                    .map(|(_, _, name)| *name)
                    .collect();
                let listing = if known.is_empty() {
                    format!("no {kind} is")
                } else {
                    format!("the {kind}s are: {}", known.join(", "))
                };
                let issue = Issue::error(
                    format!("{}.name", reference.path),
                    format!(
                        "Not found: {kind} {:?} is not in the given files ({listing}); add its manifest to the files, or fix the name",
                        reference.name
                    ),
                );
                found.push((index, severity(issue, mode)));
            }
            Some(target) => {
                check_requests(&reference, target, index, &mut found);
            }
        }
        if let Some(first) = scaled_by.insert(key, index) {
            // Alternatives side by side (as the seed tutorial offers them) are fine to check;
            // run together, upstream's HPA controller stops both (AmbiguousSelector).
            found.push((
                index,
                Issue::warning(
                    format!("{}.name", reference.path),
                    format!(
                        "{kind} {:?} is also scaled by {} ({}:{}): run only one of them; together they fight over its replicas (Kubernetes stops both with AmbiguousSelector)",
                        reference.name,
                        objects[first].manifest.reference(),
                        objects[first].file,
                        objects[first].pos.line
                    ),
                ),
            ));
        }
    }
    found
}

/// A missing target is the user's problem locally; the controller may find it in the cluster.
fn severity(issue: Issue, mode: Mode) -> Issue {
    match mode {
        Mode::Local => issue,
        Mode::Cluster => issue.downgraded(),
    }
}

fn supported_kind(kind: &str) -> Option<&'static str> {
    match kind {
        "Deployment" => Some("Deployment"),
        "InferenceService" => Some("InferenceService"),
        "Service" => Some("Service"),
        _ => None,
    }
}

fn reference(manifest: &Manifest) -> Option<Reference<'_>> {
    let utilization = |metrics: &[MetricSpec]| -> Vec<Needs> {
        metrics
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                let path = format!("spec.metrics[{i}]");
                if let Some(r) = &m.resource
                    && r.target.kind == MetricTargetType::Utilization
                {
                    return Some(Needs {
                        resource: r.name.clone(),
                        container: None,
                        path,
                    });
                }
                let c = m.container_resource.as_ref()?;
                (c.target.kind == MetricTargetType::Utilization).then(|| Needs {
                    resource: c.name.clone(),
                    container: Some(c.container.clone()),
                    path,
                })
            })
            .collect()
    };
    match manifest {
        Manifest::Hpa(h) => Some(Reference {
            path: "spec.scaleTargetRef",
            kind: &h.spec.scale_target_ref.kind,
            name: &h.spec.scale_target_ref.name,
            resources: utilization(&h.spec.metrics_or_default()),
            requests_required: false,
        }),
        Manifest::HpaV1(h) => Some(Reference {
            path: "spec.scaleTargetRef",
            kind: &h.spec.scale_target_ref.kind,
            name: &h.spec.scale_target_ref.name,
            resources: vec![Needs {
                resource: "cpu".to_string(),
                container: None,
                path: if h.spec.target_cpu_utilization_percentage.is_some() {
                    "spec.targetCPUUtilizationPercentage".to_string()
                } else {
                    "spec".to_string()
                },
            }],
            requests_required: false,
        }),
        Manifest::ScaledObject(s) => Some(Reference {
            path: "spec.scaleTargetRef",
            kind: s
                .spec
                .scale_target_ref
                .kind
                .as_deref()
                .unwrap_or("Deployment"),
            name: &s.spec.scale_target_ref.name,
            resources: s
                .spec
                .triggers
                .iter()
                .enumerate()
                .filter(|(_, t)| matches!(t.trigger_type.as_str(), "cpu" | "memory"))
                .map(|(i, t)| Needs {
                    resource: t.trigger_type.clone(),
                    container: t.metadata.get("containerName").cloned(),
                    path: format!("spec.triggers[{i}]"),
                })
                .collect(),
            requests_required: true,
        }),
        Manifest::Autoscaler(a) => Some(Reference {
            path: "spec.scaleTargetRef",
            kind: &a.spec.scale_target_ref.kind,
            name: &a.spec.scale_target_ref.name,
            resources: a
                .spec
                .hpa_spec()
                .map(|h| utilization(&h.metrics_or_default()))
                .unwrap_or_default(),
            requests_required: false,
        }),
        _ => None,
    }
}

fn check_requests(
    reference: &Reference<'_>,
    target: &Target<'_>,
    index: usize,
    found: &mut Vec<(usize, Issue)>,
) {
    for Needs {
        resource,
        container: only,
        path,
    } in &reference.resources
    {
        let lacking = target.containers.iter().find(|c| {
            only.as_ref().is_none_or(|n| *n == c.name)
                && c.resources.effective_request(resource).is_none()
        });
        let Some(container) = lacking else { continue };
        let issue = if reference.requests_required {
            Issue::error(
                path.clone(),
                format!(
                    "the scaledobject has a {resource} trigger but the container {} doesn't have the {resource} request defined; add resources.requests.{resource} to {} {}",
                    container.name, target.kind, reference.name
                ),
            )
        } else {
            Issue::warning(
                path.clone(),
                format!(
                    "a {resource} utilization target needs a {resource} request on every container, and container {:?} of {} {:?} has none: the HPA reports FailedGetResourceMetric and does not scale; add resources.requests.{resource}",
                    container.name, target.kind, reference.name
                ),
            )
        };
        found.push((index, issue.at_key()));
    }
}

fn check_service(
    service: &crate::kinds::workload::Service,
    index: usize,
    targets: &BTreeMap<(&str, &str, &str), Target<'_>>,
    mode: Mode,
    found: &mut Vec<(usize, Issue)>,
) {
    if service.spec.selector.is_empty() || mode == Mode::Cluster {
        return;
    }
    let ns = service.metadata.namespace_or_default();
    let selector = ebb_core::hpa::spec::LabelSelector {
        match_labels: service.spec.selector.clone(),
        match_expressions: Vec::new(),
    };
    let selected = targets
        .iter()
        .any(|((_, n, _), t)| *n == ns && label_selector_matches(&selector, t.labels));
    if !selected {
        found.push((
            index,
            Issue::warning(
                "spec.selector",
                "selects no pods of a workload in the given files: locally this Service has no replicas behind it",
            ),
        ));
    }
}
