//! Validation of the simulator itself: queueing theory, Little's law, determinism.

use ebb_sim::arrivals::ArrivalSpec;
use ebb_sim::dist::Dist;
use ebb_sim::manifest::{Defaults, load_policies};
use ebb_sim::{PolicyDef, PolicyKind, RunResult, ServiceModel, SimConfig, Workload, run};

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

const KPA_TO_ZERO: &str = "apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: kpa-to-zero
  annotations:
    autoscaling.knative.dev/target: \"10\"
spec:
  predictor:
    minReplicas: 0
    containers: [{name: kserve-container, image: x}]
";

fn kpa_to_zero() -> PolicyDef {
    load_policies(KPA_TO_ZERO, "kpa.yaml", &Defaults::default())
        .unwrap()
        .remove(0)
}

fn seed_hpa() -> PolicyDef {
    load_policies(SEED_HPA, "seed-hpa.yaml", &Defaults::default())
        .unwrap()
        .remove(0)
}

/// Erlang C: the probability that an arrival waits in an M/M/c queue with offered load `a`.
fn erlang_c(c: u32, a: f64) -> f64 {
    let rho = a / f64::from(c);
    // Σ_{k<c} a^k/k! and a^c/c!, accumulated term by term.
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / f64::from(k + 1);
    }
    let last = term / (1.0 - rho);
    last / (sum + last)
}

/// Mean wait in queue of M/M/c.
fn mmc_wait(c: u32, lambda: f64, mu: f64) -> f64 {
    erlang_c(c, lambda / mu) / (f64::from(c) * mu - lambda)
}

fn fixed(replicas: u32) -> PolicyDef {
    PolicyDef {
        name: format!("fixed-{replicas}"),
        kind: PolicyKind::Fixed { replicas },
    }
}

fn mmc_run(
    replicas: u32,
    slots: u32,
    lambda: f64,
    mean_service_ms: u64,
    hours: f64,
    seed: u64,
) -> RunResult {
    let workload = Workload::generated(
        ArrivalSpec::Poisson { rate: lambda },
        ServiceModel::Dist(Dist::Exp {
            mean_ns: mean_service_ms as f64 * 1e6,
        }),
        Some((hours * 3600e9) as i64),
        seed,
    )
    .unwrap();
    let config = SimConfig {
        concurrency: slots,
        queue_limit: usize::MAX,
        timeout_ns: i64::MAX / 4,
        interval_ns: 60_000_000_000,
        ..SimConfig::default()
    };
    run(&workload, &fixed(replicas), &config, &mut |_| {})
}

#[test]
fn erlang_c_formula_known_values() {
    // M/M/1: P(wait) = ρ.
    assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
    // Textbook value: c = 2, a = 1 → 1/3.
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
}

#[test]
#[ignore = "survey of the error across seeds; run with --release -- --ignored --nocapture"]
fn survey_mmc_error() {
    for (replicas, slots, lambda, ms, hours) in [
        (4, 1, 32.0, 100, 10.0),
        (2, 2, 32.0, 100, 10.0),
        (1, 1, 7.0, 100, 10.0),
        (8, 1, 60.0, 100, 10.0),
    ] {
        let c = replicas * slots;
        let expect = mmc_wait(c, lambda, 1000.0 / ms as f64);
        for seed in 0..8 {
            let r = mmc_run(replicas, slots, lambda, ms, hours, seed);
            let got = r.summary.wait_mean_s;
            println!(
                "c={c} λ={lambda} seed={seed}: wait {got:.5} vs {expect:.5}: {:+.2}% n={}",
                100.0 * (got / expect - 1.0),
                r.summary.arrived
            );
        }
    }
}

#[test]
fn mmc_mean_wait_matches_erlang_c_within_3_percent() {
    // Ten simulated hours, about 1.15 million requests, of M/M/4 at 80% load. Four servers as
    // two replicas with two slots each: per-replica concurrency is part of what is checked.
    // (Across seeds 0..8 the error stays within ±2%; see `survey_mmc_error`.)
    let (lambda, ms) = (32.0, 100);
    let r = mmc_run(2, 2, lambda, ms, 10.0, 1);
    let expect = mmc_wait(4, lambda, 1000.0 / ms as f64);
    let got = r.summary.wait_mean_s;
    assert!(
        (got / expect - 1.0).abs() < 0.03,
        "M/M/4: simulated mean wait {got:.5}s, Erlang C {expect:.5}s"
    );
    assert_eq!(r.summary.timed_out + r.summary.rejected, 0);
    assert_eq!(r.summary.completed, r.summary.arrived);
}

#[test]
fn mm1_mean_wait_matches_the_formula() {
    // M/M/1 at 50% load: Wq = ρ/(μ − λ) = 0.1 s.
    let r = mmc_run(1, 1, 5.0, 100, 20.0, 3);
    let expect = mmc_wait(1, 5.0, 10.0);
    assert!((expect - 0.1).abs() < 1e-12);
    let got = r.summary.wait_mean_s;
    assert!(
        (got / expect - 1.0).abs() < 0.03,
        "M/M/1: {got:.5}s vs {expect:.5}s"
    );
}

/// Runs exercising every path: autoscaling, cold starts, held requests, timeouts, rejections.
fn varied_runs() -> Vec<RunResult> {
    let mut out = Vec::new();
    let step = ArrivalSpec::parse("step:from=2,to=40,at=5m").unwrap();
    let spike = ArrivalSpec::parse("spike:base=1,peak=80,at=3m,for=1m").unwrap();
    let onoff = ArrivalSpec::parse("onoff:rate=30,on=1m,off=4m").unwrap();
    let lognormal = ServiceModel::parse("lognormal:mean=150ms,p99=900ms").unwrap();
    for (i, spec) in [step, spike, onoff].into_iter().enumerate() {
        let w = Workload::generated(spec, lognormal, Some(20 * 60_000_000_000), i as u64).unwrap();
        let tight = SimConfig {
            concurrency: 2,
            cold_start: Dist::parse("cold start", "lognormal:mean=20s,p99=60s").unwrap(),
            timeout_ns: 15_000_000_000,
            queue_limit: 200,
            slo_ns: Some(500_000_000),
            ..SimConfig::default()
        };
        out.push(run(&w, &seed_hpa(), &tight, &mut |_| {}));
        out.push(run(&w, &kpa_to_zero(), &tight, &mut |_| {}));
        out.push(run(&w, &fixed(1), &tight, &mut |_| {}));
        out.push(run(&w, &fixed(6), &SimConfig::default(), &mut |_| {}));
    }
    out
}

#[test]
fn littles_law_holds_on_every_run() {
    let runs = varied_runs();
    let mut saw = (0, 0, 0, 0);
    for r in &runs {
        let s = &r.summary;
        let err = s.little.relative_error();
        assert!(
            err < 1e-9,
            "{}: L {} vs λW {} (Lq {} vs λWq {})",
            s.policy,
            s.little.l,
            s.little.lambda_w,
            s.little.lq,
            s.little.lambda_wq
        );
        assert_eq!(
            s.arrived,
            s.completed + s.timed_out + s.rejected,
            "{}: every request is accounted for",
            s.policy
        );
        saw.0 += s.timed_out;
        saw.1 += s.rejected;
        saw.2 += s.cold_starts;
        saw.3 += s.held;
    }
    assert!(
        saw.0 > 0 && saw.1 > 0 && saw.2 > 0,
        "the runs exercise timeouts, rejections and cold starts: {saw:?}"
    );
}

#[test]
fn the_same_seed_gives_the_same_output_bit_for_bit() {
    let render = |runs: &[RunResult]| -> String {
        runs.iter()
            .map(|r| {
                format!(
                    "{}\n{}\n{}\n",
                    serde_json::to_string(&r.summary).unwrap(),
                    serde_json::to_string(&r.rows).unwrap(),
                    serde_json::to_string(&r.scale_events).unwrap()
                )
            })
            .collect()
    };
    let a = render(&varied_runs());
    let b = render(&varied_runs());
    assert_eq!(a, b);
    // And the seed matters: a different one gives a different run.
    let w = |seed| {
        Workload::generated(
            ArrivalSpec::Poisson { rate: 20.0 },
            ServiceModel::Dist(Dist::Exp { mean_ns: 1e8 }),
            Some(600_000_000_000),
            seed,
        )
        .unwrap()
    };
    let one = run(&w(1), &seed_hpa(), &SimConfig::default(), &mut |_| {});
    let other = run(&w(2), &seed_hpa(), &SimConfig::default(), &mut |_| {});
    assert_ne!(
        serde_json::to_string(&one.rows).unwrap(),
        serde_json::to_string(&other.rows).unwrap()
    );
}

#[test]
fn the_seed_hpa_scales_up_under_load_and_back_down_after_it() {
    let w = Workload::generated(
        ArrivalSpec::parse("spike:base=1,peak=20,at=2m,for=5m").unwrap(),
        ServiceModel::parse("exp:mean=100ms").unwrap(),
        Some(30 * 60_000_000_000),
        5,
    )
    .unwrap();
    let config = SimConfig {
        cold_start: Dist::Const { ns: 10_000_000_000 },
        ..SimConfig::default()
    };
    let r = run(&w, &seed_hpa(), &config, &mut |_| {});
    let ups: Vec<_> = r.scale_events.iter().filter(|e| e.to > e.from).collect();
    let downs: Vec<_> = r.scale_events.iter().filter(|e| e.to < e.from).collect();
    for e in &r.scale_events {
        eprintln!("{:>7.1}s {} -> {}: {}", e.time_s, e.from, e.to, e.reason);
    }
    assert!(!ups.is_empty() && !downs.is_empty());
    // The first scale-up comes after the load rises (2m) plus at least one metrics sample.
    assert!(
        ups[0].time_s > 120.0 && ups[0].time_s < 180.0,
        "{}",
        ups[0].time_s
    );
    // Scale-down waits for the 5-minute stabilization window after the spike ends (7m).
    assert!(
        downs[0].time_s > 420.0 + 300.0 - 30.0,
        "{}",
        downs[0].time_s
    );
    assert!(r.summary.max_replicas > 2 && r.summary.max_replicas <= 10);
    assert_eq!(r.rows.last().map(|row| row.desired), Some(1));
}

#[test]
fn kpa_scales_to_zero_between_bursts_and_holds_requests_while_it_wakes() {
    let w = Workload::generated(
        ArrivalSpec::parse("onoff:rate=20,on=1m,off=5m").unwrap(),
        ServiceModel::parse("exp:mean=200ms").unwrap(),
        Some(30 * 60_000_000_000),
        9,
    )
    .unwrap();
    let config = SimConfig {
        cold_start: Dist::Const { ns: 8_000_000_000 },
        slo_ns: Some(1_000_000_000),
        ..SimConfig::default()
    };
    let r = run(&w, &kpa_to_zero(), &config, &mut |_| {});
    for e in &r.scale_events {
        eprintln!("{:>7.1}s {} -> {}: {}", e.time_s, e.from, e.to, e.reason);
    }
    let s = &r.summary;
    let to_zero = r.scale_events.iter().filter(|e| e.to == 0).count();
    let from_zero = r.scale_events.iter().filter(|e| e.from == 0).count();
    // Five quiet periods of five minutes: it goes to zero in each and wakes for each burst.
    assert!(to_zero >= 4, "{to_zero} scale-downs to zero");
    assert!(from_zero >= 4, "{from_zero} wake-ups");
    assert!(s.held > 0, "requests were held during cold starts");
    // A held request waits for at least the cold start (8 s) minus the poke delay, never more
    // than the cold start plus the second until the poke and a tick.
    assert!(
        s.held_wait_max_s >= 7.0 && s.held_wait_max_s < 8.0 + 3.5,
        "{}",
        s.held_wait_max_s
    );
    assert_eq!(s.timed_out + s.rejected, 0);
}

#[test]
fn a_policy_asking_for_millions_of_replicas_gets_the_cap() {
    // Target 0.01 requests in flight per replica and no max-scale: the KPA wants thousands of
    // replicas per request queued during the first cold start.
    let kpa = load_policies(
        "apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: greedy}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/target: \"0.01\", autoscaling.knative.dev/min-scale: \"1\"}
    spec:
      containers: [{image: x}]
",
        "greedy.yaml",
        &Defaults::default(),
    )
    .unwrap()
    .remove(0);
    let w = Workload::generated(
        ArrivalSpec::parse("poisson:rate=200").unwrap(),
        ServiceModel::parse("exp:mean=100ms").unwrap(),
        Some(60_000_000_000),
        1,
    )
    .unwrap();
    let r = run(&w, &kpa, &SimConfig::default(), &mut |_| {});
    assert_eq!(r.summary.max_replicas, ebb_sim::engine::MAX_REPLICAS);
    assert!(r.summary.little.relative_error() < 1e-9);
}
