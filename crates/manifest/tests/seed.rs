//! The seed tutorial's manifests in `examples/seed/`: they validate, convert to the Autoscalers
//! the engines take, and run locally through the example model server.

use std::path::PathBuf;

use ebb_core::hpa::spec::{HpaSpec, HpaSpecV1};
use ebb_core::kpa::{KpaConfig, KpaSpec, Metric};
use ebb_manifest::kinds::autoscaler::{Autoscaler, AutoscalerClass};
use ebb_manifest::local::{WorkloadKind, workloads};
use ebb_manifest::{Manifest, Manifests, Mode, Severity, Source, check, read_paths};

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed")
}

fn seed() -> Manifests {
    let sources = read_paths(&[seed_dir()]).expect("examples/seed readable");
    check(&sources, Mode::Local)
}

fn autoscaler(manifests: &Manifests, name: &str) -> Autoscaler {
    manifests
        .autoscalers()
        .into_iter()
        .find(|a| a.metadata.name == name)
        .unwrap_or_else(|| panic!("no autoscaler {name}"))
}

#[test]
fn the_seed_validates_without_errors() {
    let seed = seed();
    let errors: Vec<String> = seed.of(Severity::Error).map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "errors: {errors:#?}");
    assert_eq!(seed.objects.len(), 7);
    // The warnings are real: the Secret is not in the files, the v2 HPA's memory target has no
    // memory request to be relative to, and the two HPAs are alternatives for one Deployment.
    let warnings: Vec<&str> = seed
        .of(Severity::Warning)
        .map(|d| d.path.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(
        warnings,
        [
            "spec.metrics[1]",
            "spec.scaleTargetRef.name",
            "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef",
            "spec.predictor.containers[0].env[0].valueFrom.secretKeyRef",
        ]
    );
}

#[test]
fn the_hpa_example_converts_to_the_spec_the_hpa_engine_runs() {
    let seed = seed();
    let a = autoscaler(&seed, "app-fastapi");
    assert_eq!(a.api_version, "ebb.dev/v1alpha1");
    assert_eq!(a.spec.class, AutoscalerClass::Hpa);
    let v1 = seed
        .objects
        .iter()
        .find_map(|p| match &p.manifest {
            Manifest::HpaV1(h) => Some(h.spec.clone()),
            _ => None,
        })
        .expect("the v1 HPA");
    let expected: HpaSpec = HpaSpecV1::clone(&v1).into();
    assert_eq!(a.spec.hpa_spec(), Some(expected));

    let v2 = autoscaler(&seed, "app-fastapi-advanced");
    let spec = v2.spec.hpa_spec().expect("class hpa");
    assert_eq!(spec.metrics.len(), 2);
    assert!(spec.behavior.is_some());
}

#[test]
fn the_kserve_examples_convert_to_the_settings_the_kpa_engine_resolves() {
    let seed = seed();
    let config = KpaConfig::default();

    let target_one = autoscaler(&seed, "custom-model-autoscaling");
    assert_eq!(target_one.spec.class, AutoscalerClass::Kpa);
    assert_eq!(target_one.spec.scale_target_ref.kind, "InferenceService");
    let settings = target_one.spec.kpa.clone().expect("kpa settings");
    assert_eq!(settings.target, Some(1.0));
    assert_eq!(settings.min_scale, Some(1), "KServe's default minReplicas");
    let resolved = KpaSpec::resolve(&config, &settings);
    assert_eq!(resolved.metric, Metric::Concurrency);
    assert!((resolved.target_value - 0.7).abs() < 1e-9, "1 × 70%");

    let annotated = autoscaler(&seed, "custom-model-annotations");
    let settings = annotated.spec.kpa.clone().expect("kpa settings");
    assert_eq!(
        (settings.min_scale, settings.max_scale),
        (Some(1), Some(10))
    );
    let resolved = KpaSpec::resolve(&config, &settings);
    assert!((resolved.target_value - 7.0).abs() < 1e-9, "10 × 70%");
    assert_eq!(resolved.scale_down_delay.0.as_secs(), 30);

    let to_zero = autoscaler(&seed, "custom-model-scale-to-zero");
    let settings = to_zero.spec.kpa.clone().expect("kpa settings");
    assert_eq!(settings.min_scale, Some(0));
    let resolved = KpaSpec::resolve(&config, &settings);
    assert_eq!(resolved.min_scale, 0);
    assert_eq!(resolved.scale_to_zero_pod_retention_period.0.as_secs(), 300);
}

#[test]
fn every_seed_workload_runs_the_example_model_server() {
    let seed = seed();
    let local = workloads(&seed.objects);
    let names: Vec<&str> = local.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "app-fastapi",
            "custom-model-annotations",
            "custom-model-autoscaling",
            "custom-model-scale-to-zero",
        ],
        "files are read in name order"
    );
    let app = local.iter().find(|w| w.name == "app-fastapi").expect("app");
    assert_eq!(app.kind, WorkloadKind::Deployment);
    assert_eq!(app.initial_replicas, 2);
    assert_eq!(app.process.cpu_request_milli, Some(200));
    assert_eq!(app.process.inherited, ["WANDB_API_KEY"]);
    let (argv, env) = app.process.command_for(8123);
    assert_eq!(
        argv,
        [
            "ebb",
            "model-server",
            "--port",
            "8123",
            "--name",
            "app-fastapi"
        ]
    );
    assert_eq!(env[0], ("PORT".to_string(), "8123".to_string()));
    for w in local
        .iter()
        .filter(|w| w.kind == WorkloadKind::InferenceService)
    {
        let (argv, _) = w.process.command_for(9000);
        assert_eq!(argv[..2], ["ebb", "model-server"], "{}", w.name);
        assert!(argv.contains(&"custom-model".to_string()), "{}", w.name);
    }
}

/// An Autoscaler written by `convert` reads back, validates, and converts to itself.
#[test]
fn converted_autoscalers_read_back_unchanged() {
    let dirs = [
        seed_dir(),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid"),
    ];
    let mut checked = 0;
    for dir in dirs {
        let sources = read_paths(&[dir]).expect("readable");
        let original = check(&sources, Mode::Cluster);
        // Knative settings are checked against the cluster's config-autoscaler: keep it.
        let configs: Vec<Source> = original
            .objects
            .iter()
            .filter_map(|p| match &p.manifest {
                Manifest::ConfigMap(c) => Some(c),
                _ => None,
            })
            .map(|c| {
                let value = serde_json::to_value(c).expect("serializes");
                Source::new("config.yaml", ebb_manifest::yaml::to_yaml(&value))
            })
            .collect();
        for autoscaler in original.autoscalers() {
            let value = serde_json::to_value(&autoscaler).expect("serializes");
            let yaml = ebb_manifest::yaml::to_yaml(&value);
            let mut read_back = configs.clone();
            read_back.push(Source::new("converted.yaml", yaml.clone()));
            let again = check(&read_back, Mode::Cluster);
            let errors: Vec<String> = again.of(Severity::Error).map(|d| d.to_string()).collect();
            assert!(errors.is_empty(), "{yaml}\n{errors:#?}");
            let unknown: Vec<String> = again
                .of(Severity::Warning)
                .filter(|d| d.message.contains("unknown field"))
                .map(|d| d.to_string())
                .collect();
            assert!(unknown.is_empty(), "{yaml}\n{unknown:#?}");
            assert_eq!(
                again.autoscalers(),
                std::slice::from_ref(&autoscaler),
                "{yaml}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 9, "only {checked} autoscalers converted");
}

/// How `ebb decide` can take a converted Autoscaler as it is: plain serde into the public
/// type, the object's own rules, then the HPA spec or the KPA settings the engines run.
#[test]
fn a_converted_autoscaler_is_plain_serde_for_embedding_callers() {
    let seed = seed();
    for name in ["app-fastapi", "custom-model-autoscaling"] {
        let converted = autoscaler(&seed, name);
        let yaml = ebb_manifest::yaml::to_yaml(&serde_json::to_value(&converted).expect("json"));
        let scenario = format!(
            "autoscaler:\n{}",
            yaml.lines().map(|l| format!("  {l}\n")).collect::<String>()
        );
        #[derive(serde::Deserialize)]
        struct Scenario {
            autoscaler: Autoscaler,
        }
        let read: Scenario = serde_saphyr::from_str(&scenario).expect("reads as plain serde");
        assert_eq!(read.autoscaler, converted);
        let findings = ebb_manifest::validate_object(
            &Manifest::Autoscaler(read.autoscaler.clone()),
            Mode::Cluster,
            &KpaConfig::default(),
            &Default::default(),
        );
        assert!(findings.is_empty(), "{findings:#?}");
        match read.autoscaler.spec.class {
            AutoscalerClass::Hpa => assert!(read.autoscaler.spec.hpa_spec().is_some()),
            AutoscalerClass::Kpa => assert!(read.autoscaler.spec.kpa.is_some()),
        }
    }
}
