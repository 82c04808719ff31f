//! Replica proposals per metric (spec §4): pod grouping, requests, and the replica calculator
//! for every source and target type, including the second pass for missing and unready pods.
//!
//! Every function returns the proposal together with notes that say how it was reached; the
//! notes become the `Metric` step of the decision.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::observe::{ApiResult, Pod, PodPhase, PodResourceMetrics, PodsMetricReading};
use crate::decision::ConditionStatus;
use crate::time::Instant;

/// The tolerance band around ratio 1.0 (spec §4: inclusive at both ends).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// How far below 1.0 the ratio may fall without scaling down.
    pub down: f64,
    /// How far above 1.0 the ratio may rise without scaling up.
    pub up: f64,
}

impl Tolerances {
    /// True when `ratio` is inside `[1 - down, 1 + up]`.
    pub fn within(&self, ratio: f64) -> bool {
        (1.0 - self.down) <= ratio && ratio <= (1.0 + self.up)
    }

    fn describe(&self) -> String {
        format!(
            "[{}, {}]",
            trim_float(1.0 - self.down),
            trim_float(1.0 + self.up)
        )
    }
}

/// What the calculator needs besides the metric itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CalcContext<'a> {
    pub(crate) pods: &'a [Pod],
    pub(crate) now: Instant,
    pub(crate) tolerances: Tolerances,
    pub(crate) cpu_initialization_period: Duration,
    pub(crate) initial_readiness_delay: Duration,
    pub(crate) pod_level_resources: bool,
}

/// One pod's sample in milli-units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    pub(crate) value: i64,
    pub(crate) timestamp: Instant,
    pub(crate) window: Duration,
}

/// Samples by pod name. Ordered, so every computation is deterministic.
pub(crate) type Samples = BTreeMap<String, Sample>;

/// The four pod buckets of spec §4.1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Grouping {
    pub(crate) ready: usize,
    pub(crate) unready: BTreeSet<String>,
    pub(crate) missing: BTreeSet<String>,
    pub(crate) ignored: BTreeSet<String>,
}

impl Grouping {
    fn describe(&self) -> String {
        let mut s = format!("{} ready", self.ready);
        for (n, what) in [
            (self.unready.len(), "unready"),
            (self.missing.len(), "without metrics"),
            (self.ignored.len(), "ignored (deleted or failed)"),
        ] {
            if n > 0 {
                s.push_str(&format!(", {n} {what}"));
            }
        }
        format!("pods: {s}")
    }
}

/// Spec §4.1: puts every pod into exactly one bucket. `resource` is the resource name for
/// Resource metrics (the CPU readiness rules apply only to `cpu`), `None` for custom metrics.
pub(crate) fn group_pods(
    ctx: &CalcContext<'_>,
    samples: &Samples,
    resource: Option<&str>,
) -> Grouping {
    let mut g = Grouping::default();
    for pod in ctx.pods {
        if pod.deleting || pod.phase == PodPhase::Failed {
            g.ignored.insert(pod.name.clone());
            continue;
        }
        if pod.phase == PodPhase::Pending {
            g.unready.insert(pod.name.clone());
            continue;
        }
        let Some(sample) = samples.get(&pod.name) else {
            g.missing.insert(pod.name.clone());
            continue;
        };
        if resource == Some("cpu") && cpu_sample_is_unready(ctx, pod, sample) {
            g.unready.insert(pod.name.clone());
            continue;
        }
        g.ready += 1;
    }
    g
}

/// Spec §4.1 rule 4: CPU samples from pods that are initializing or never became ready are
/// not trusted.
fn cpu_sample_is_unready(ctx: &CalcContext<'_>, pod: &Pod, sample: &Sample) -> bool {
    let (Some(cond), Some(start)) = (pod.ready, pod.start_time) else {
        return true;
    };
    if (start + ctx.cpu_initialization_period).is_after(ctx.now) {
        // Still initializing: distrust unless Ready and a full sample window since it became so.
        cond.status == ConditionStatus::False
            || sample
                .timestamp
                .is_before(cond.last_transition_time + sample.window)
    } else {
        // Went unready within the initial readiness delay: it never was ready.
        cond.status == ConditionStatus::False
            && (start + ctx.initial_readiness_delay).is_after(cond.last_transition_time)
    }
}

/// Spec §4.2: each pod's request for `resource` in milli-units.
pub(crate) fn pod_requests(
    ctx: &CalcContext<'_>,
    container: Option<&str>,
    resource: &str,
) -> Result<BTreeMap<String, i64>, String> {
    let mut requests = BTreeMap::new();
    for pod in ctx.pods {
        let sum = match container {
            Some(name) => {
                let c = pod
                    .containers
                    .iter()
                    .chain(pod.init_containers.iter().filter(|c| c.restart_always))
                    .find(|c| c.name == name)
                    .ok_or_else(|| format!("container {name} not found in Pod {}", pod.name))?;
                c.requests
                    .get(resource)
                    .map(|q| q.milli_value())
                    .ok_or_else(|| missing_request(resource, &c.name, &pod.name))?
            }
            None => match pod
                .pod_requests
                .get(resource)
                .filter(|_| ctx.pod_level_resources)
            {
                Some(q) => q.milli_value(),
                None => {
                    let mut sum: i64 = 0;
                    let sidecars = pod.init_containers.iter().filter(|c| c.restart_always);
                    for c in pod.containers.iter().chain(sidecars) {
                        let q = c
                            .requests
                            .get(resource)
                            .ok_or_else(|| missing_request(resource, &c.name, &pod.name))?;
                        sum = sum.saturating_add(q.milli_value());
                    }
                    sum
                }
            },
        };
        requests.insert(pod.name.clone(), sum);
    }
    Ok(requests)
}

fn missing_request(resource: &str, container: &str, pod: &str) -> String {
    format!("missing request for {resource} in container {container} of Pod {pod}")
}

/// Spec §4.3: per-pod samples of `resource` from `metrics.k8s.io`.
pub(crate) fn resource_samples(
    metrics: &ApiResult<Vec<PodResourceMetrics>>,
    resource: &str,
    container: Option<&str>,
) -> Result<Samples, String> {
    let metrics = metrics.as_ref().map_err(Clone::clone)?;
    if metrics.is_empty() {
        return Err("no metrics returned from resource metrics API".to_string());
    }
    let mut samples = Samples::new();
    for m in metrics {
        let value = match container {
            Some(name) => m
                .containers
                .iter()
                .find(|c| c.name == name)
                .and_then(|c| c.usage.get(resource))
                .map(|q| q.milli_value()),
            None if m.containers.is_empty() => None,
            None => m.containers.iter().try_fold(0_i64, |sum, c| {
                c.usage
                    .get(resource)
                    .map(|q| sum.saturating_add(q.milli_value()))
            }),
        };
        if let Some(value) = value {
            samples.insert(
                m.pod.clone(),
                Sample {
                    value,
                    timestamp: m.timestamp,
                    window: m.window,
                },
            );
        }
    }
    Ok(samples)
}

/// Samples of a `Pods` metric from `custom.metrics.k8s.io`.
pub(crate) fn pods_metric_samples(
    reading: Option<&PodsMetricReading>,
    metric: &str,
) -> Result<Samples, String> {
    let values = match reading {
        Some(r) => r
            .values
            .as_ref()
            .map_err(|e| format!("unable to get metric {metric}: {e}"))?,
        None => &Vec::new(),
    };
    if values.is_empty() {
        return Err(format!(
            "unable to get metric {metric}: no metrics returned from custom metrics API"
        ));
    }
    Ok(values
        .iter()
        .map(|v| {
            let sample = Sample {
                value: v.value.milli_value(),
                timestamp: v.timestamp,
                window: v.window,
            };
            (v.pod.clone(), sample)
        })
        .collect())
}

/// A utilization proposal (Resource / ContainerResource with `averageUtilization`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UtilizationProposal {
    pub(crate) replicas: i32,
    /// First-pass utilization, integer percent (what status reports).
    pub(crate) utilization: i32,
    /// First-pass average usage in milli-units (status `averageValue`).
    pub(crate) raw_average: i64,
    pub(crate) ratio: f64,
    pub(crate) notes: Vec<String>,
}

/// Spec §4.4 `util(S)`: integer percent of summed usage over summed requests.
fn utilization_of(
    samples: &Samples,
    requests: &BTreeMap<String, i64>,
    target: i32,
) -> Result<(f64, i32, i64), String> {
    let (mut usage, mut request, mut n) = (0_i128, 0_i128, 0_i128);
    for (pod, sample) in samples {
        // Samples of pods not in the pod list ("superfluous") have no request: skipped here.
        let Some(r) = requests.get(pod) else { continue };
        usage += i128::from(sample.value);
        request += i128::from(*r);
        n += 1;
    }
    if request == 0 {
        return Err("no metrics returned matched known pods".to_string());
    }
    let utilization = clamp_i32((usage * 100) / request);
    let raw_average = clamp_i64(usage / n);
    Ok((
        f64::from(utilization) / f64::from(target),
        utilization,
        raw_average,
    ))
}

/// Spec §4.4: Resource / ContainerResource with a utilization target.
pub(crate) fn utilization_replicas(
    ctx: &CalcContext<'_>,
    current: i32,
    target: i32,
    resource: &str,
    container: Option<&str>,
    metrics: &ApiResult<Vec<PodResourceMetrics>>,
) -> Result<UtilizationProposal, String> {
    let mut samples = resource_samples(metrics, resource, container)
        .map_err(|e| format!("unable to get metrics for resource {resource}: {e}"))?;
    if ctx.pods.is_empty() {
        return Err("no pods returned by selector while calculating replica count".to_string());
    }
    let g = group_pods(ctx, &samples, Some(resource));
    samples.retain(|pod, _| !g.ignored.contains(pod) && !g.unready.contains(pod));
    let requests = pod_requests(ctx, container, resource)?;
    if samples.is_empty() {
        return Err(
            "did not receive metrics for targeted pods (pods might be unready)".to_string(),
        );
    }
    let (ratio, utilization, raw_average) = utilization_of(&samples, &requests, target)?;
    let mut notes = vec![g.describe()];

    let scale_up_with_unready = !g.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && g.missing.is_empty() {
        let replicas = fast_path(ctx.tolerances, ratio, current, g.ready, &mut notes);
        return Ok(UtilizationProposal {
            replicas,
            utilization,
            raw_average,
            ratio,
            notes,
        });
    }

    // Second pass: assume the worst for the direction of change (spec §4.4).
    if !g.missing.is_empty() {
        if ratio < 1.0 {
            let fallback = i64::from(target.max(100));
            for pod in &g.missing {
                let request = requests.get(pod).copied().unwrap_or(0);
                samples.insert(pod.clone(), filled(request.saturating_mul(fallback) / 100));
            }
            notes.push(format!(
                "{} pod(s) without metrics counted at {fallback}% of request (scale-down)",
                g.missing.len()
            ));
        } else if ratio > 1.0 {
            for pod in &g.missing {
                samples.insert(pod.clone(), filled(0));
            }
            notes.push(format!(
                "{} pod(s) without metrics counted at 0 (scale-up)",
                g.missing.len()
            ));
        }
    }
    if scale_up_with_unready {
        count_unready_at_zero(&g, &mut samples, &mut notes);
    }
    let (new_ratio, _, _) = utilization_of(&samples, &requests, target)?;
    let replicas = second_pass(
        ctx.tolerances,
        ratio,
        new_ratio,
        samples.len(),
        current,
        &mut notes,
    );
    Ok(UtilizationProposal {
        replicas,
        utilization,
        raw_average,
        ratio,
        notes,
    })
}

/// A proposal from an average value (Resource `averageValue`, Pods metrics).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlainProposal {
    pub(crate) replicas: i32,
    /// First-pass average in milli-units.
    pub(crate) usage: i64,
    pub(crate) ratio: f64,
    pub(crate) notes: Vec<String>,
}

/// Spec §4.5 `usage(S)`: the integer mean over all samples (superfluous ones included).
fn usage_ratio(samples: &Samples, target: i64) -> (f64, i64) {
    let total: i128 = samples.values().map(|s| i128::from(s.value)).sum();
    let usage = clamp_i64(total / samples.len().max(1) as i128);
    (usage as f64 / target as f64, usage)
}

/// Spec §4.5: the "plain" metric calculation for averages.
pub(crate) fn plain_replicas(
    ctx: &CalcContext<'_>,
    mut samples: Samples,
    current: i32,
    target: i64,
    resource: Option<&str>,
) -> Result<PlainProposal, String> {
    if ctx.pods.is_empty() {
        return Err("no pods returned by selector while calculating replica count".to_string());
    }
    let g = group_pods(ctx, &samples, resource);
    samples.retain(|pod, _| !g.ignored.contains(pod) && !g.unready.contains(pod));
    if samples.is_empty() {
        return Err(
            "did not receive metrics for targeted pods (pods might be unready)".to_string(),
        );
    }
    let (ratio, usage) = usage_ratio(&samples, target);
    let mut notes = vec![g.describe()];

    let scale_up_with_unready = !g.unready.is_empty() && ratio > 1.0;
    if !scale_up_with_unready && g.missing.is_empty() {
        let replicas = fast_path(ctx.tolerances, ratio, current, g.ready, &mut notes);
        return Ok(PlainProposal {
            replicas,
            usage,
            ratio,
            notes,
        });
    }
    if !g.missing.is_empty() {
        // Upstream fills the target on a scale-down and 0 otherwise (ratio == 1 included).
        let (value, what) = if ratio < 1.0 {
            (target, "the target (scale-down)")
        } else {
            (0, "0 (scale-up)")
        };
        for pod in &g.missing {
            samples.insert(pod.clone(), filled(value));
        }
        notes.push(format!(
            "{} pod(s) without metrics counted at {what}",
            g.missing.len()
        ));
    }
    if scale_up_with_unready {
        count_unready_at_zero(&g, &mut samples, &mut notes);
    }
    let (new_ratio, _) = usage_ratio(&samples, target);
    let replicas = second_pass(
        ctx.tolerances,
        ratio,
        new_ratio,
        samples.len(),
        current,
        &mut notes,
    );
    Ok(PlainProposal {
        replicas,
        usage,
        ratio,
        notes,
    })
}

/// The second pass on a scale-up: unready pods count as using nothing.
fn count_unready_at_zero(g: &Grouping, samples: &mut Samples, notes: &mut Vec<String>) {
    for pod in &g.unready {
        samples.insert(pod.clone(), filled(0));
    }
    notes.push(format!(
        "{} unready pod(s) counted at 0 (scale-up)",
        g.unready.len()
    ));
}

fn filled(value: i64) -> Sample {
    Sample {
        value,
        timestamp: Instant::EPOCH,
        window: Duration::ZERO,
    }
}

fn fast_path(
    t: Tolerances,
    ratio: f64,
    current: i32,
    ready: usize,
    notes: &mut Vec<String>,
) -> i32 {
    if t.within(ratio) {
        notes.push(format!(
            "ratio within tolerance {}: stay at {current}",
            t.describe()
        ));
        return current;
    }
    let replicas = ceil_i32(ratio * ready as f64);
    notes.push(format!(
        "ceil({} × {ready} ready pods) = {replicas}",
        trim_float(ratio)
    ));
    replicas
}

fn second_pass(
    t: Tolerances,
    ratio: f64,
    new_ratio: f64,
    n: usize,
    current: i32,
    notes: &mut Vec<String>,
) -> i32 {
    let flips = (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0);
    if t.within(new_ratio) || flips {
        let why = if flips {
            "would reverse the direction"
        } else {
            "is within tolerance"
        };
        notes.push(format!(
            "second-pass ratio {} {why}: stay at {current}",
            trim_float(new_ratio)
        ));
        return current;
    }
    let replicas = ceil_i32(new_ratio * n as f64);
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        notes.push(format!(
            "second pass ceil({} × {n} pods) = {replicas} moves against the ratio: stay at {current}",
            trim_float(new_ratio)
        ));
        return current;
    }
    notes.push(format!(
        "second pass: ceil({} × {n} pods) = {replicas}",
        trim_float(new_ratio)
    ));
    replicas
}

/// A proposal from a single value (Object / External).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValueProposal {
    pub(crate) replicas: i32,
    /// The value reported in status (the usage, or the per-replica average).
    pub(crate) usage: i64,
    pub(crate) ratio: f64,
    pub(crate) notes: Vec<String>,
}

/// Spec §4.6 (and §4.8 `value`): a total value against a total target.
pub(crate) fn value_replicas(
    ctx: &CalcContext<'_>,
    current: i32,
    usage: i64,
    target: i64,
) -> Result<ValueProposal, String> {
    let ratio = usage as f64 / target as f64;
    let mut notes = Vec::new();
    let replicas = if current == 0 {
        let r = ceil_i32(ratio);
        notes.push(format!(
            "scaling from zero: ceil({}) = {r} (no tolerance, no pod count)",
            trim_float(ratio)
        ));
        r
    } else if ctx.tolerances.within(ratio) {
        notes.push(format!(
            "ratio within tolerance {}: stay at {current}",
            ctx.tolerances.describe()
        ));
        current
    } else {
        if ctx.pods.is_empty() {
            return Err("unable to calculate ready pods: no pods returned by selector while calculating replica count".to_string());
        }
        let ready = ctx
            .pods
            .iter()
            .filter(|p| {
                p.phase == PodPhase::Running
                    && p.ready.is_some_and(|c| c.status == ConditionStatus::True)
            })
            .count();
        let r = ceil_i32(ratio * ready as f64);
        notes.push(format!(
            "ceil({} × {ready} running and ready pods) = {r}",
            trim_float(ratio)
        ));
        r
    };
    Ok(ValueProposal {
        replicas,
        usage,
        ratio,
        notes,
    })
}

/// Spec §4.7 (and §4.8 `averageValue`): a total value against a per-replica target, using
/// `scale.status.replicas` and no pod data.
pub(crate) fn average_value_replicas(
    t: Tolerances,
    status_replicas: i32,
    usage: i64,
    target: i64,
) -> ValueProposal {
    let ratio = usage as f64 / (target as f64 * f64::from(status_replicas));
    let mut notes = Vec::new();
    let replicas = if t.within(ratio) {
        notes.push(format!(
            "ratio within tolerance {}: stay at {status_replicas} (status replicas)",
            t.describe()
        ));
        status_replicas
    } else {
        let r = ceil_i32(usage as f64 / target as f64);
        notes.push(format!("ceil(value / per-replica target) = {r}"));
        r
    };
    // Upstream divides by status replicas unguarded; with none we report the total.
    let average = if status_replicas > 0 {
        if usage == i64::MAX {
            i64::MAX
        } else {
            clamp_f64_to_i64((usage as f64 / f64::from(status_replicas)).ceil())
        }
    } else {
        usage
    };
    ValueProposal {
        replicas,
        usage: average,
        ratio,
        notes,
    }
}

/// Go's `int32(math.Ceil(x))` with the cap upstream applies (saturating, NaN → 0).
pub(crate) fn ceil_i32(x: f64) -> i32 {
    x.ceil() as i32
}

fn clamp_i32(v: i128) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

fn clamp_f64_to_i64(v: f64) -> i64 {
    v as i64
}

/// `1.72`, `0.9`, `2` — short and exact enough for explanations.
pub(crate) fn trim_float(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}
