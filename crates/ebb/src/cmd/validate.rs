//! `ebb validate`: check manifests the way the API server and the KServe, Knative and KEDA
//! webhooks would, plus what running them locally needs, with every finding at
//! file:line:column. Exit status 1 when there is an error.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use ebb_manifest::{Diagnostic, Manifests, Mode, Severity, Source};

use super::UserError;

/// Check manifests: errors and warnings at file:line:column.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  ebb validate -f examples/seed/
  ebb validate -f app-fastapi-resources.yaml -f app-fastapi-hpa.yaml
  ebb validate -f k8s/ --cluster
  cat hpa.yaml | ebb validate -f -")]
pub(crate) struct Args {
    /// Manifest files or directories (their .yaml, .yml and .json files); `-` for stdin.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<PathBuf>,
    /// Check for `ebb controller` instead of `ebb serve`: references to objects that are not
    /// in the files are warnings (they may exist in the cluster), and containers need images
    /// rather than local commands.
    #[arg(long)]
    cluster: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Show errors only.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    /// Compiler-style lines with the source line and a caret.
    Text,
    /// A JSON array of findings.
    Json,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sources = read_sources(&args.files)?;
    let mode = if args.cluster {
        Mode::Cluster
    } else {
        Mode::Local
    };
    let checked = ebb_manifest::check(&sources, mode);
    let shown: Vec<&Diagnostic> = checked
        .diagnostics
        .iter()
        .filter(|d| !args.quiet || d.severity == Severity::Error)
        .collect();
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&shown)?),
        Output::Text => {
            for d in &shown {
                println!("{}\n", render(d, &sources));
            }
            println!("{}", summary(&checked, sources.len()));
        }
    }
    Ok(if checked.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `-f` arguments → sources; `-` reads standard input.
pub(crate) fn read_sources(files: &[PathBuf]) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::new();
    for file in files {
        if file.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading manifests from stdin")?;
            sources.push(Source::new("<stdin>", text));
        } else {
            let read = ebb_manifest::read_paths(std::slice::from_ref(file))
                .map_err(|e| UserError(e.to_string()))?;
            sources.extend(read);
        }
    }
    Ok(sources)
}

/// One finding with its source line, as a compiler prints it.
pub(crate) fn render(d: &Diagnostic, sources: &[Source]) -> String {
    match sources.iter().find(|s| s.name == d.file) {
        Some(source) => d.render(&source.text),
        None => d.to_string(),
    }
}

fn summary(checked: &Manifests, files: usize) -> String {
    let count = |s| checked.of(s).count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{} in {}: {}, {}",
        plural(checked.objects.len(), "object"),
        plural(files, "file"),
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning"),
    )
}
