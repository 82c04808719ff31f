//! `ebb decide`: one decision of the engine (or a few, over time), with its reasons.
//!
//! A scenario file holds an `autoscaler` (any kind ebb reads: an autoscaling/v1 or v2
//! HorizontalPodAutoscaler, and for the Knative policy a KServe InferenceService, a Knative
//! Service or an ebb Autoscaler) plus what the driver would have observed. This module reads the
//! autoscaler's kind and hands the scenario to the module of that policy. Formats:
//! `docs/decide.md`.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Deserialize;

use super::UserError;

mod hpa;
mod kpa;

/// Explain what the autoscaler would decide for a scenario.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  ebb decide -f examples/decide/seed-v2-five-pods-at-90.yaml --explain
  ebb decide -f examples/decide/kpa-idle-then-burst.yaml --explain
  cat scenario.json | ebb decide -f -
  ebb decide -f scenario.yaml | jq .desiredReplicas")]
pub(crate) struct Args {
    /// Scenario file (YAML or JSON), `-` for standard input.
    #[arg(short = 'f', long = "filename")]
    file: PathBuf,
    /// Print the explanation for a person instead of JSON.
    #[arg(long)]
    explain: bool,
}

/// What a policy module returns: the JSON document and the text for `--explain`.
pub(crate) struct Report {
    pub(crate) json: serde_json::Value,
    pub(crate) text: String,
}

#[derive(Deserialize)]
struct Header {
    autoscaler: Kind,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Kind {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (origin, text) = read_input(&args.file)?;
    let header: Header = serde_saphyr::from_str(&text).map_err(|e| {
        UserError(format!(
            "{origin}: a scenario needs an `autoscaler:` object with apiVersion and kind: {}",
            saphyr_error(&e, &origin)
        ))
    })?;
    let group = header
        .autoscaler
        .api_version
        .split('/')
        .next()
        .unwrap_or_default();
    let report = match (group, header.autoscaler.kind.as_str()) {
        ("autoscaling", "HorizontalPodAutoscaler") => {
            hpa::decide(&text, &origin, &header.autoscaler.api_version)?
        }
        ("serving.kserve.io", "InferenceService") | ("serving.knative.dev", "Service") => {
            kpa::decide(&text, &origin, &header.autoscaler.kind)?
        }
        ("ebb.dev", "Autoscaler") => {
            #[derive(Deserialize)]
            struct ClassOnly {
                autoscaler: Class,
            }
            #[derive(Deserialize)]
            struct Class {
                spec: ClassSpec,
            }
            #[derive(Deserialize)]
            struct ClassSpec {
                class: String,
            }
            let class: ClassOnly = serde_saphyr::from_str(&text).map_err(|e| {
                UserError(format!(
                    "{origin}: an Autoscaler needs spec.class (hpa or kpa): {}",
                    saphyr_error(&e, &origin)
                ))
            })?;
            match class.autoscaler.spec.class.as_str() {
                "hpa" => hpa::decide(&text, &origin, &header.autoscaler.api_version)?,
                "kpa" => kpa::decide(&text, &origin, "Autoscaler")?,
                other => {
                    return Err(UserError(format!("{origin}: autoscaler.spec.class {other:?}: supported values: \"hpa\", \"kpa\"")).into());
                }
            }
        }
        (_, kind) => {
            return Err(UserError(format!(
                "{origin}: autoscaler kind {:?} (apiVersion {:?}) is not supported by decide; use an autoscaling/v1 or autoscaling/v2 HorizontalPodAutoscaler, a serving.kserve.io/v1beta1 InferenceService or a serving.knative.dev/v1 Service",
                kind, header.autoscaler.api_version
            ))
            .into());
        }
    };
    if args.explain {
        super::output(&report.text)?;
    } else {
        super::output(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report.json)?
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn read_input(path: &Path) -> anyhow::Result<(String, String)> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the scenario from stdin")?;
        return Ok(("<stdin>".to_string(), text));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| UserError(format!("cannot read {}: {e}", path.display())))?;
    Ok((path.display().to_string(), text))
}

/// serde-saphyr's message, with its `<input>` placeholder replaced by the file name.
pub(crate) fn saphyr_error(e: &serde_saphyr::Error, origin: &str) -> String {
    let text = e.to_string().replace("<input>", origin);
    text.strip_prefix("error: ")
        .map(str::to_string)
        .unwrap_or(text)
}

/// Parses a scenario, collecting the paths of fields nobody reads (typos) except those under
/// the given prefixes (object metadata users carry along).
pub(crate) fn parse_reporting_unknown<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &str,
    allowed_prefixes: &[&str],
) -> Result<(T, Vec<String>), UserError> {
    let mut unknown = Vec::new();
    let value = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_ignored::deserialize(de, |path| unknown.push(path.to_string()))
    })
    .map_err(|e| UserError(format!("{origin}: {}", saphyr_error(&e, origin))))?;
    unknown.retain(|p| !allowed_prefixes.iter().any(|a| p.starts_with(a)));
    Ok((value, unknown))
}

/// Unknown fields become warnings: on stderr, at the top of the explanation and in the JSON.
pub(crate) fn add_warnings(report: &mut Report, unknown: &[String], origin: &str) {
    if unknown.is_empty() {
        return;
    }
    let warnings: Vec<String> = unknown
        .iter()
        .map(|p| format!("{origin}: unknown field `{p}` is ignored"))
        .collect();
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let mut text: String = warnings.iter().map(|w| format!("warning: {w}\n")).collect();
    text.push_str(&report.text);
    report.text = text;
    if let Some(obj) = report.json.as_object_mut() {
        obj.insert("warnings".into(), serde_json::json!(warnings));
    }
}
