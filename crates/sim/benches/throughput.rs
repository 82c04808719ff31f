//! Simulator speed: simulated requests per second of wall time on one core, policy ticks
//! included, and the hour-long Azure LLM code trace through three policies.
//!
//! Prints numbers; never fails on timing. Run: `bench/sim/run.sh` (or
//! `cargo bench -p ebb-sim --bench throughput`).

use std::path::Path;

use ebb_sim::arrivals::ArrivalSpec;
use ebb_sim::manifest::{Defaults, load_policies};
use ebb_sim::report::{self, Comparison};
use ebb_sim::{PolicyDef, PolicyKind, RunResult, ServiceModel, SimConfig, Workload, run};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn policy(file: &str) -> PolicyDef {
    let path = root().join(file);
    let text = std::fs::read_to_string(&path).expect("example policy");
    load_policies(&text, file, &Defaults::default())
        .expect("valid example")
        .remove(0)
}

/// Wall time of `f`, seconds: the best of `n` runs (the least disturbed by other work).
#[allow(clippy::disallowed_types)] // a benchmark measures the real clock
fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..n {
        let t = std::time::Instant::now();
        let out = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(out);
    }
    (best, last.expect("n > 0"))
}

fn main() {
    println!("ebb sim benchmark (release build, one thread)\n");
    println!(
        "{:<44} {:>10} {:>9} {:>14}",
        "SCENARIO", "REQUESTS", "WALL", "REQUESTS/S"
    );
    // One hour of Poisson traffic at 2,000 req/s (7.2 million requests), 10 ms exponential
    // service, 8 slots per replica: the autoscaled policies keep a few dozen replicas and tick
    // all along (HPA every 15 s with metrics-server scrapes, KPA every second and 2 s).
    let workload = Workload::generated(
        ArrivalSpec::parse("poisson:rate=2000").expect("spec"),
        ServiceModel::parse("exp:mean=10ms").expect("spec"),
        Some(3_600_000_000_000),
        1,
    )
    .expect("workload");
    let config = SimConfig {
        concurrency: 8,
        ..SimConfig::default()
    };
    let cases = [
        (
            "fixed 4 replicas (no policy)",
            PolicyDef {
                name: "fixed-4".into(),
                kind: PolicyKind::Fixed { replicas: 4 },
            },
        ),
        (
            "seed HPA (CPU 50%), 15 s syncs",
            policy("examples/sim/seed-hpa.yaml"),
        ),
        (
            "KPA target 10, 1 s stats + 2 s ticks",
            policy("examples/sim/kpa-target-10.yaml"),
        ),
    ];
    for (label, p) in &cases {
        let (secs, r): (f64, RunResult) = best_of(3, || run(&workload, p, &config, &mut |_| {}));
        let n = r.summary.arrived;
        println!(
            "{label:<44} {n:>10} {:>8.3}s {:>14.0}   (max {} replicas, {} rescales)",
            secs,
            n as f64 / secs,
            r.summary.max_replicas,
            r.summary.scale_ups + r.summary.scale_downs
        );
    }

    // The second target: the Azure code trace, three policies, report included.
    let trace_path = root().join("traces/azure-llm-2023/AzureLLMInferenceTrace_code.csv");
    let policies = [
        policy("examples/sim/seed-hpa.yaml"),
        policy("examples/sim/kpa-defaults.yaml"),
        policy("examples/sim/kpa-target-10.yaml"),
    ];
    let config = SimConfig {
        concurrency: 4,
        slo_ns: Some(2_000_000_000),
        ..SimConfig::default()
    };
    let out = std::env::temp_dir().join("ebb-sim-bench");
    let (secs, n) = best_of(5, || {
        let trace = ebb_trace::read(&trace_path).expect("trace");
        let w = Workload::from_trace(
            trace,
            ServiceModel::parse("tokens:a=20,b=0.05,c=15").expect("spec"),
            None,
            1,
        )
        .expect("workload");
        let runs: Vec<RunResult> = policies
            .iter()
            .map(|p| run(&w, p, &config, &mut |_| {}))
            .collect();
        let c = Comparison {
            runs: &runs,
            sweeps: Vec::new(),
            setup: String::new(),
        };
        report::write(&out, &c, &[]).expect("report");
        runs.iter().map(|r| r.summary.arrived).sum::<u64>()
    });
    println!(
        "\n{:<44} {n:>10} {secs:>8.3}s   (read trace, 3 policies, table, CSV, SVG, HTML)",
        "Azure LLM code trace (57 min), 3 policies"
    );
}
