//! Any input → `ebb_manifest::check` in both modes → placed findings rendered with their
//! source line → every autoscaler converted, written as YAML and read back next to the input
//! (whose config-autoscaler ConfigMap it may depend on). Nothing may panic, and what `convert`
//! writes must read back without errors.
#![no_main]

use ebb_manifest::{Mode, Source, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let sources = [Source::new("fuzz.yaml", text.as_ref())];
    for mode in [Mode::Local, Mode::Cluster] {
        let checked = check(&sources, mode);
        for d in &checked.diagnostics {
            let _ = d.render(&text);
        }
        let _ = ebb_manifest::local::workloads(&checked.objects);
        if checked.has_errors() {
            continue;
        }
        for autoscaler in checked.autoscalers() {
            let value = serde_json::to_value(&autoscaler).expect("an Autoscaler serializes");
            let yaml = ebb_manifest::yaml::to_yaml(&value);
            let again = check(
                &[
                    sources[0].clone(),
                    Source::new("converted.yaml", yaml.as_str()),
                ],
                Mode::Cluster,
            );
            assert!(
                !again.has_errors(),
                "converted output does not read back:\n{yaml}\n{:#?}",
                again.diagnostics
            );
        }
    }
});
