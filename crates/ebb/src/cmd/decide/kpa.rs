//! KPA scenarios for `ebb decide`: a KServe InferenceService or a Knative Service with its
//! autoscaling annotations, optional `config-autoscaler` keys, and load over time. The engine is
//! replayed from the revision's creation; the report shows every decision (or the ones asked
//! for). Format and examples: docs/decide.md.

use ebb_core::kpa::KpaSpec;
use ebb_core::kpa::replay::replay;
use ebb_core::time::Instant;
use ebb_core::units::KubeDuration;
use ebb_manifest::Manifest;
use serde_json::json;

use super::Report;
use crate::cmd::UserError;

mod render;
mod scenario;

/// Decides a KPA scenario whose autoscaler is of `kind` (`InferenceService`, `Service` or
/// `Autoscaler`).
pub(crate) fn decide(text: &str, origin: &str, kind: &str) -> anyhow::Result<Report> {
    let file = scenario::parse(text, kind)
        .map_err(|e| UserError(format!("{origin}: not a valid KPA scenario: {e}")))?;
    let resolved = file.resolve().map_err(|errors| {
        let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        UserError(format!(
            "{origin}: the scenario has {} problem(s):\n{}",
            errors.len(),
            list.join("\n")
        ))
    })?;
    let spec = KpaSpec::resolve(&resolved.config, &resolved.settings);
    let rows = replay(spec.clone(), &resolved.replay);

    let instant = |d: KubeDuration| Instant::EPOCH + d.0;
    let from = file.decide.from.map_or(Instant::EPOCH, instant);
    let at: Vec<Instant> = file.decide.at.iter().map(|d| instant(*d)).collect();
    let shown = render::select(&rows, from, &at);
    let story = render::Story::new(&rows, resolved.replay.until);

    let meta = file.autoscaler.metadata();
    let bare = if meta.name.is_empty() {
        "(unnamed)"
    } else {
        meta.name.as_str()
    };
    let name = match &meta.namespace {
        Some(ns) => format!("{ns}/{bare}"),
        None => bare.to_string(),
    };
    let mut text = render::header(&name, &resolved, &spec);
    text.push('\n');
    text.push_str(&render::table(&shown, &spec));
    text.push('\n');
    text.push_str(&story.text(&spec));

    let json = json!({
        "autoscaler": {
            "apiVersion": api_version(&file.autoscaler),
            "kind": file.autoscaler.kind(),
            "name": name,
        },
        "settings": resolved.settings,
        "spec": spec,
        "notes": resolved.notes,
        "until": render::since_start(resolved.replay.until).to_string(),
        "decisions": shown.iter().map(|r| render::row_json(r)).collect::<Vec<_>>(),
        "summary": story.json(),
    });
    Ok(Report { json, text })
}

/// The apiVersion as written.
fn api_version(autoscaler: &Manifest) -> &str {
    match autoscaler {
        Manifest::InferenceService(o) => &o.api_version,
        Manifest::KnativeService(o) => &o.api_version,
        Manifest::Autoscaler(o) => &o.api_version,
        _ => "",
    }
}
