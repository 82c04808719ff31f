//! `ebb sim` end to end: the real binary on the repository's traces and examples.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn ebb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ebb"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sim(args: &[&str]) -> Output {
    ebb()
        .current_dir(root())
        .arg("sim")
        .args(args)
        .output()
        .expect("the ebb binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const AZURE: &str = "traces/azure-llm-2023/AzureLLMInferenceTrace_code.csv";
const THREE: [&str; 6] = [
    "-f",
    "examples/sim/seed-hpa.yaml",
    "-f",
    "examples/sim/kpa-defaults.yaml",
    "-f",
    "examples/sim/kpa-target-10.yaml",
];

#[test]
fn three_policies_on_the_azure_trace_print_a_table_and_write_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let mut args = THREE.to_vec();
    args.extend([
        "--trace",
        AZURE,
        "--service",
        "tokens:a=20,b=0.05,c=15",
        "--concurrency",
        "4",
        "--slo",
        "2s",
        "--out",
        out,
    ]);
    let o = sim(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let table = text(&o.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("POLICY   ") && lines[0].contains("≤2s"),
        "{table}"
    );
    for (line, (name, class)) in lines[1..].iter().zip([
        ("seed-hpa", "hpa"),
        ("kpa-defaults", "kpa"),
        ("kpa-target-10", "kpa"),
    ]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((cells[0], cells[1]), (name, class), "{table}");
    }
    // Every request of the trace is accounted for in every run.
    let summary = std::fs::read_to_string(dir.path().join("summary.csv")).unwrap();
    let rows: Vec<Vec<&str>> = summary
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r[2], "8819", "arrived: {r:?}");
        let done: u64 = r[3].parse::<u64>().unwrap()
            + r[4].parse::<u64>().unwrap()
            + r[5].parse::<u64>().unwrap();
        assert_eq!(done, 8819, "completed + timed out + rejected: {r:?}");
    }
    // Charts: each one an SVG naming every policy; the report holds them inline.
    for chart in ["replicas.svg", "latency.svg"] {
        let svg = std::fs::read_to_string(dir.path().join(chart)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{chart}"
        );
        for name in ["seed-hpa", "kpa-defaults", "kpa-target-10"] {
            assert!(svg.contains(name), "{chart} names {name}");
        }
    }
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 3);
    assert_eq!(html.matches("<tr>").count(), 4);
    let series = std::fs::read_to_string(dir.path().join("timeseries.csv")).unwrap();
    // 57 minutes at 10 s per row, three policies, and a header.
    let n = series.lines().count();
    assert!((3 * 340..=3 * 350 + 1).contains(&n), "{n} rows");
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_same_seed_writes_the_same_files_bit_for_bit() {
    let run = |seed: &str| {
        let dir = tempfile::tempdir().unwrap();
        let mut args = THREE.to_vec();
        args.extend([
            "--arrivals",
            "onoff:rate=15,on=2m,off=3m",
            "--duration",
            "20m",
            "--service",
            "lognormal:mean=150ms,p99=800ms",
            "--seed",
            seed,
            "--slo",
            "500ms",
            "--record-decisions",
            "--out",
            dir.path().to_str().unwrap(),
        ]);
        let o = sim(&args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        (o.stdout, files(dir.path()))
    };
    let (table_a, a) = run("7");
    let (table_b, b) = run("7");
    assert_eq!(table_a, table_b);
    assert_eq!(a.len(), b.len());
    assert!(a.len() > 8, "decisions are recorded too");
    for ((na, fa), (nb, fb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(fa == fb, "{na} differs between two runs with the same seed");
    }
    let (table_c, _) = run("8");
    assert_ne!(table_a, table_c, "another seed gives another run");
}

fn decide(path: &Path) -> Value {
    let o = ebb().arg("decide").arg("-f").arg(path).output().unwrap();
    assert!(
        o.status.success(),
        "{}: {}",
        path.display(),
        text(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Runs `ebb sim --record-decisions` and returns the decisions directory.
fn recorded(policy: &str, extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "-f",
        policy,
        "--record-decisions",
        "--out",
        dir.path().to_str().unwrap(),
    ];
    args.extend(extra);
    let o = sim(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    dir
}

fn scenarios(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = files(&dir.join("decisions"))
        .into_iter()
        .map(|(n, _)| dir.join("decisions").join(n))
        .filter(|p| !p.to_str().unwrap().ends_with(".sim.json"))
        .collect();
    out.sort();
    out
}

#[test]
fn every_hpa_decision_of_a_run_is_the_decision_ebb_decide_makes() {
    let dir = tempfile::tempdir().unwrap();
    // An autoscaling/v2 HPA with behavior, so scale events and rate limits are part of the
    // memory each decision depends on.
    let hpa = dir.path().join("hpa.yaml");
    std::fs::write(
        &hpa,
        "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 12
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 60
      policies: [{type: Pods, value: 1, periodSeconds: 30}]
    scaleUp:
      policies: [{type: Pods, value: 2, periodSeconds: 30}]
",
    )
    .unwrap();
    let out = recorded(
        hpa.to_str().unwrap(),
        &[
            "--arrivals",
            "spike:base=2,peak=30,at=3m,for=4m",
            "--duration",
            "15m",
            "--service",
            "exp:mean=100ms",
            "--cold-start",
            "lognormal:mean=15s,p99=40s",
        ],
    );
    let files = scenarios(out.path());
    // 15 minutes of 15-second syncs, plus the drain.
    assert!(files.len() >= 60, "{} decisions", files.len());
    let mut rescales = 0;
    for scenario in &files {
        let got = decide(scenario);
        let sim_path = scenario.to_str().unwrap().replace(".json", ".sim.json");
        let want: Value =
            serde_json::from_str(&std::fs::read_to_string(&sim_path).unwrap()).unwrap();
        for field in [
            "currentReplicas",
            "desiredReplicas",
            "scaleTo",
            "reason",
            "steps",
            "events",
            "error",
            "conditions",
        ] {
            assert_eq!(got[field], want[field], "{field} of {}", scenario.display());
        }
        if !want["scaleTo"].is_null() {
            rescales += 1;
        }
    }
    assert!(
        rescales >= 4,
        "the run scales up and down: {rescales} rescales"
    );
}

#[test]
fn every_kpa_decision_of_a_run_is_the_decision_ebb_decide_replays() {
    for policy in [
        "examples/sim/kpa-target-10.yaml",
        "examples/sim/kpa-defaults.yaml",
    ] {
        let out = recorded(
            policy,
            &[
                "--arrivals",
                "onoff:rate=20,on=1m,off=3m",
                "--duration",
                "12m",
                "--service",
                "exp:mean=300ms",
                "--cold-start",
                "lognormal:mean=6s,p99=20s",
            ],
        );
        let files = scenarios(out.path());
        assert_eq!(files.len(), 1, "one replay per KPA run");
        let got = decide(&files[0]);
        let sim_path = files[0].to_str().unwrap().replace(".json", ".sim.json");
        let want: Value =
            serde_json::from_str(&std::fs::read_to_string(&sim_path).unwrap()).unwrap();
        let got = got["decisions"].as_array().expect("decide lists decisions");
        let want = want.as_array().unwrap();
        assert!(want.len() > 300, "{policy}: {} decisions", want.len());
        assert_eq!(got.len(), want.len(), "{policy}: as many decisions");
        let mut rescales = 0;
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g["seconds"], w["seconds"], "{policy}");
            assert_eq!(g["trigger"], w["trigger"], "{policy} at {}", w["seconds"]);
            assert_eq!(g["decision"], w["decision"], "{policy} at {}", w["seconds"]);
            if !w["decision"]["scaleTo"].is_null() {
                rescales += 1;
            }
        }
        assert!(
            rescales >= 6,
            "{policy}: scales to zero and back: {rescales} rescales"
        );
    }
}

#[test]
fn sweeps_draw_the_frontier() {
    let dir = tempfile::tempdir().unwrap();
    let o = sim(&[
        "-f",
        "examples/sim/kpa-target-10.yaml",
        "--arrivals",
        "sine:mean=20,amplitude=15,period=30m",
        "--duration",
        "30m",
        "--service",
        "exp:mean=200ms",
        "--sweep",
        "target=2,5,10,40",
        "--slo",
        "1s",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let table = text(&o.stdout);
    for v in ["2", "5", "10", "40"] {
        assert!(
            table.contains(&format!("kpa-target-10 target={v} ")),
            "{table}"
        );
    }
    let svg = std::fs::read_to_string(dir.path().join("frontier.svg")).unwrap();
    assert!(svg.contains("Cost against SLO attainment") && svg.contains("kpa-target-10 (target)"));
    // A higher target packs more requests per replica: cheaper.
    let summary = std::fs::read_to_string(dir.path().join("summary.csv")).unwrap();
    let cost: Vec<f64> = summary
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(7).unwrap().parse().unwrap())
        .collect();
    assert!(
        cost[0] > cost[3],
        "target 2 costs more than target 40: {cost:?}"
    );
}

#[test]
fn bad_input_is_a_clear_user_error() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["-f", "examples/sim/seed-hpa.yaml"],
            "no traffic: give --trace FILE or --arrivals SPEC",
        ),
        (
            &["--fixed", "2", "--arrivals", "poisson:rate=x"],
            "`rate` must be a number",
        ),
        (
            &[
                "--fixed",
                "2",
                "--arrivals",
                "poisson:rate=1",
                "--service",
                "gamma:1s",
            ],
            "unknown distribution `gamma`",
        ),
        (&["--arrivals", "poisson:rate=1"], "no policy to simulate"),
        (
            &["-f", "nope.yaml", "--arrivals", "poisson:rate=1"],
            "cannot read nope.yaml",
        ),
        (
            &[
                "--fixed",
                "1",
                "--arrivals",
                "poisson:rate=1",
                "--service",
                "tokens:a=1",
            ],
            "needs a trace with token columns",
        ),
        (
            &[
                "-f",
                "examples/sim/seed-hpa.yaml",
                "--arrivals",
                "poisson:rate=1",
                "--sweep",
                "window=1m",
            ],
            "target, min or max",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "timestamp,input_tokens\n0.5,10\nlater,3\n").unwrap();
    let bad_trace = ["--fixed", "1", "--trace", bad.to_str().unwrap()];
    let message = format!("{}:3: invalid time \"later\"", bad.display());
    let cases: Vec<(&[&str], &str)> = cases
        .iter()
        .copied()
        .chain([(&bad_trace[..], message.as_str())])
        .collect();
    for (args, message) in cases {
        let o = sim(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
    }
}

/// The worked examples of docs/sim.md: each command's table is the one printed on the page,
/// and the report files it writes are the ones committed under docs/sim/.
#[test]
fn docs_sim_examples_are_what_the_commands_print_and_write() {
    let doc = std::fs::read_to_string(root().join("docs/sim.md")).unwrap();
    let mut checked = 0;
    for block in doc.split("<!-- sim-example: ").skip(1) {
        let (name, rest) = block.split_once(" -->").unwrap();
        let body = rest.split("<!-- /sim-example -->").next().unwrap();
        let command = body
            .split("```sh\n")
            .nth(1)
            .unwrap()
            .split("```")
            .next()
            .unwrap();
        let table = body
            .split("```text\n")
            .nth(1)
            .unwrap()
            .split("```")
            .next()
            .unwrap();
        let words: Vec<String> = command
            .replace("\\\n", " ")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        assert_eq!(&words[..2], ["ebb", "sim"], "{name}");
        let dir = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = words[2..].to_vec();
        let out = args
            .iter()
            .position(|a| a == "--out")
            .expect("the example writes its report");
        let committed = root().join(&args[out + 1]);
        args[out + 1] = dir.path().display().to_string();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = sim(&args);
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        assert_eq!(text(&o.stdout), table, "{name}: the table in docs/sim.md");
        let fresh = files(dir.path());
        let kept = files(&committed);
        let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&fresh),
            names(&kept),
            "{name}: files in {}",
            committed.display()
        );
        for ((n, a), (_, b)) in fresh.iter().zip(&kept) {
            assert!(
                a == b,
                "{name}: {n} differs from the committed one; regenerate docs/sim with the command in docs/sim.md"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 2);
}
