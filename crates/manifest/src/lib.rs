//! Manifests in, validated specs out.
//!
//! ebb reads the YAML users already have — a Deployment and an HPA, a KServe InferenceService
//! with Knative annotations, a KEDA ScaledObject, or ebb's own `Autoscaler` — and rejects
//! mistakes with errors a person can act on: every finding names file:line:column, the field
//! path, the bad value and what is allowed, and all findings of a file are reported at once.
//!
//! Reading is two passes per document (see `../shared/design/crates.md` §3): the YAML parser's
//! events give each document's byte range, its `apiVersion`/`kind` and a position index; then
//! serde-saphyr parses the document straight into the kind's Rust type, with unknown fields
//! collected as warnings. Validation follows the upstream API server and webhooks and reports
//! field paths; the index turns each path back into a line and column.
//!
//! - [`check`]: read and validate a set of files; [`Manifests`] holds the objects and findings.
//! - [`kinds`]: the Rust types of every kind ebb reads.
//! - [`convert`]: any autoscaling kind → the normalized [`kinds::autoscaler::Autoscaler`].
//! - [`local`]: how a container runs as a local process.
//! - [`autoscale`]: the HPA `kubectl autoscale` would create.
//! - [`timeouts`]: a revision's request timeouts, for the gateway.

pub mod autoscale;
pub mod convert;
pub mod diagnostic;
pub mod kinds;
mod known;
pub mod local;
mod parse;
mod refs;
mod shell;
pub mod source;
mod suggest;
pub mod timeouts;
pub mod yaml;

pub use diagnostic::{Diagnostic, Severity};
use diagnostic::{Issue, Issues};
use ebb_core::kpa::KpaConfig;
pub use kinds::Manifest;
pub use source::{LoadError, Source, read_paths};
pub use yaml::Pos;

use kinds::defaults::{CONFIG_DEFAULTS, RevisionDefaults};
use kinds::{Header, Recognized};
use yaml::index::{Node, index};

/// Where the manifests will run, which changes a few rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `ebb serve`: every container must be runnable as a local process, and every reference
    /// must resolve within the given files.
    #[default]
    Local,
    /// `ebb controller`: objects may refer to others already in the cluster, and images are
    /// what runs.
    Cluster,
}

/// One object read from the files.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The file it came from.
    pub file: String,
    /// Where its document starts.
    pub pos: Pos,
    /// The object.
    pub manifest: Manifest,
    /// The document's position index, to place later findings.
    root: Node,
}

impl Parsed {
    fn place(&self, issue: Issue) -> Diagnostic {
        issue.place(&self.file, &self.root, Some(self.manifest.reference()))
    }

    /// A finding of the caller's own rules about the field at `path` (e.g. `spec.metrics[0]`),
    /// placed at that field's file:line:column like the manifests' own findings.
    pub fn diagnostic(
        &self,
        severity: Severity,
        path: &str,
        message: impl std::fmt::Display,
    ) -> Diagnostic {
        self.place(match severity {
            Severity::Error => Issue::error(path, message),
            Severity::Warning => Issue::warning(path, message),
        })
    }
}

/// The result of [`check`]: every object that could be read, and every finding.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    /// Objects in file order.
    pub objects: Vec<Parsed>,
    /// Errors and warnings, grouped by file in the order given, by position within a file.
    pub diagnostics: Vec<Diagnostic>,
}

impl Manifests {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// The Knative autoscaler defaults: the `config-autoscaler` ConfigMap of namespace
    /// `knative-serving` when the files hold one (and it is valid), upstream's otherwise.
    pub fn kpa_config(&self) -> KpaConfig {
        kpa_config(&self.objects)
    }

    /// Knative's revision defaults: the `config-defaults` ConfigMap of namespace
    /// `knative-serving` when the files hold one (and it is valid), upstream's otherwise.
    pub fn revision_defaults(&self) -> RevisionDefaults {
        revision_defaults(&self.objects)
    }

    /// Every autoscaling object, normalized (see [`convert::to_autoscaler`]).
    pub fn autoscalers(&self) -> Vec<kinds::autoscaler::Autoscaler> {
        let config = self.kpa_config();
        let defaults = self.revision_defaults();
        self.objects
            .iter()
            .filter_map(|p| convert::to_autoscaler(&p.manifest, &config, &defaults))
            .collect()
    }

    /// The findings of one severity.
    pub fn of(&self, severity: Severity) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(move |d| d.severity == severity)
    }
}

/// Reads and validates every document of every source.
pub fn check(sources: &[Source], mode: Mode) -> Manifests {
    let mut out = Manifests::default();
    for source in sources {
        read_source(source, &mut out);
    }
    let config = kpa_config(&out.objects);
    let defaults = revision_defaults(&out.objects);
    for parsed in &mut out.objects {
        fill_container_concurrency(&mut parsed.manifest, &defaults);
    }
    for parsed in &out.objects {
        let mut issues = Issues::default();
        rules(&parsed.manifest, mode, &config, &defaults, &mut issues);
        out.diagnostics
            .extend(issues.0.into_iter().map(|i| parsed.place(i)));
    }
    for (index, issue) in refs::check(&out.objects, mode) {
        let diagnostic = out.objects[index].place(issue);
        out.diagnostics.push(diagnostic);
    }
    if mode == Mode::Local {
        for (index, issue) in local::check(&out.objects) {
            let diagnostic = out.objects[index].place(issue);
            out.diagnostics.push(diagnostic);
        }
    }
    let order: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    let rank = |file: &str| order.iter().position(|f| *f == file).unwrap_or(usize::MAX);
    out.diagnostics
        .sort_by_key(|d| (rank(&d.file), d.pos, d.severity));
    out.diagnostics.dedup();
    out
}

/// A finding about one object, by field path (no file position).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The field path, e.g. `spec.kpa.window`; empty for the whole object.
    pub path: String,
    /// What is wrong and what would be valid; starts with the path when there is one.
    pub message: String,
}

/// The rules of one object on its own — no references to other objects, no positions — for
/// callers that hold an object parsed some other way, such as an `autoscaler:` embedded in an
/// `ebb decide` scenario. `config` and `defaults` are the cluster's `config-autoscaler` and
/// `config-defaults` the object is checked against.
pub fn validate_object(
    manifest: &Manifest,
    mode: Mode,
    config: &KpaConfig,
    defaults: &RevisionDefaults,
) -> Vec<Finding> {
    let mut issues = Issues::default();
    rules(manifest, mode, config, defaults, &mut issues);
    issues.0.into_iter().map(Finding::from).collect()
}

impl From<Issue> for Finding {
    fn from(issue: Issue) -> Finding {
        Finding {
            severity: issue.severity,
            path: issue.path,
            message: issue.message,
        }
    }
}

/// The namespace and name Knative reads its autoscaler defaults from.
const CONFIG_AUTOSCALER: (&str, &str) = ("knative-serving", "config-autoscaler");

fn is_config_autoscaler(c: &kinds::config::ConfigMap) -> bool {
    (c.metadata.namespace_or_default(), c.metadata.name.as_str()) == CONFIG_AUTOSCALER
}

fn is_config_defaults(c: &kinds::config::ConfigMap) -> bool {
    (c.metadata.namespace_or_default(), c.metadata.name.as_str()) == CONFIG_DEFAULTS
}

pub(crate) fn revision_defaults(objects: &[Parsed]) -> RevisionDefaults {
    objects
        .iter()
        .find_map(|p| match &p.manifest {
            Manifest::ConfigMap(c) if is_config_defaults(c) => {
                RevisionDefaults::from_map(&c.data).ok()
            }
            _ => None,
        })
        .unwrap_or_default()
}

/// What Knative's webhook does to a revision that sets no containerConcurrency: it gets the
/// cluster's default, which its autoscaler target then follows. (KServe passes the predictor's
/// on, or none.)
fn fill_container_concurrency(manifest: &mut Manifest, defaults: &RevisionDefaults) {
    let cc = match manifest {
        Manifest::InferenceService(i) if kinds::serverless::is_serverless(i) => {
            &mut i.spec.predictor.container_concurrency
        }
        Manifest::KnativeService(k) => &mut k.spec.template.spec.container_concurrency,
        _ => return,
    };
    if cc.is_none() && defaults.container_concurrency != 0 {
        *cc = Some(defaults.container_concurrency);
    }
}

fn kpa_config(objects: &[Parsed]) -> KpaConfig {
    objects
        .iter()
        .find_map(|p| match &p.manifest {
            Manifest::ConfigMap(c) if is_config_autoscaler(c) => KpaConfig::from_map(&c.data).ok(),
            _ => None,
        })
        .unwrap_or_default()
}

/// Per-object rules.
fn rules(
    manifest: &Manifest,
    mode: Mode,
    config: &KpaConfig,
    defaults: &RevisionDefaults,
    issues: &mut Issues,
) {
    use kinds::workload::ImageRule;
    let images = match mode {
        Mode::Local => ImageRule::Optional,
        Mode::Cluster => ImageRule::Required,
    };
    match manifest {
        Manifest::Deployment(d) => d.validate(images, issues),
        Manifest::Service(s) => s.validate(issues),
        Manifest::ConfigMap(c) => {
            c.validate(issues);
            if is_config_autoscaler(c)
                && let Err(errors) = KpaConfig::from_map(&c.data)
            {
                issues.fields(errors);
            }
            if is_config_defaults(c)
                && let Err(errors) = RevisionDefaults::from_map(&c.data)
            {
                issues.fields(errors);
            }
        }
        Manifest::Secret(s) => s.validate(issues),
        Manifest::Hpa(h) => {
            if h.api_version == "autoscaling/v2beta2" {
                issues.warning(
                    "apiVersion",
                    "autoscaling/v2beta2 was removed in Kubernetes 1.26; use autoscaling/v2 (the fields are the same)",
                );
            }
            kinds::hpa::validate_v2(h, issues);
        }
        Manifest::HpaV1(h) => kinds::hpa::validate_v1(h, issues),
        Manifest::InferenceService(i) => {
            i.validate(issues);
            kinds::serverless::check_isvc(i, config, defaults, issues);
        }
        Manifest::KnativeService(k) => {
            k.validate(defaults, issues);
            kinds::serverless::check_ksvc(k, config, defaults, issues);
        }
        Manifest::ScaledObject(s) => {
            s.validate(issues);
        }
        Manifest::Autoscaler(a) => a.validate(config, issues),
    }
}

/// First and second pass over one file.
fn read_source(source: &Source, out: &mut Manifests) {
    let indexed = index(&source.text);
    for error in indexed.errors {
        out.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            file: source.name.clone(),
            pos: error.pos,
            object: None,
            path: None,
            message: format!("YAML syntax: {}", error.message),
        });
    }
    for doc in indexed.documents {
        let Some(root) = doc.root else { continue };
        let plain = |issue: Issue, object: Option<String>| issue.place(&source.name, &root, object);
        let Some(header) = Header::read(&root) else {
            out.diagnostics.push(plain(
                Issue::error(
                    "",
                    "a manifest must be a mapping with apiVersion, kind, metadata and spec",
                ),
                None,
            ));
            continue;
        };
        let object = format!("{}/{}", header.kind, header.name);
        if header.api_version.is_empty() || header.kind.is_empty() {
            let field = if header.api_version.is_empty() {
                "apiVersion"
            } else {
                "kind"
            };
            out.diagnostics.push(plain(
                Issue::error(
                    field,
                    "Required value: every manifest needs apiVersion and kind (e.g. apiVersion: apps/v1, kind: Deployment)",
                )
                .at_key(),
                None,
            ));
            continue;
        }
        match kinds::read(&header, &source.text, doc.bytes.clone(), &root) {
            Ok(Some((manifest, unknown))) => {
                for path in unknown {
                    if known::is_accepted(&header.kind, &path) {
                        continue;
                    }
                    let hint = suggest::hint(&path);
                    out.diagnostics.push(plain(
                        Issue::warning(
                            path,
                            format!(
                                "unknown field, ignored: {} {} has no such field{hint}",
                                header.api_version, header.kind
                            ),
                        )
                        .at_key(),
                        Some(object.clone()),
                    ));
                }
                out.objects.push(Parsed {
                    file: source.name.clone(),
                    pos: doc.pos,
                    manifest,
                    root,
                });
            }
            Ok(None) => {
                let issue = match kinds::recognize(&header) {
                    Recognized::WrongVersion(wanted) => Issue::error(
                        "apiVersion",
                        format!(
                            "Unsupported value: {:?}: ebb reads {} {}",
                            header.api_version, header.kind, wanted
                        ),
                    ),
                    Recognized::Known | Recognized::Ignored => Issue::warning(
                        "kind",
                        format!(
                            "{} {} is not used by ebb; ignored",
                            header.api_version, header.kind
                        ),
                    ),
                };
                out.diagnostics.push(plain(issue, Some(object)));
            }
            Err(error) => {
                let mut diagnostic = plain(error.issue, Some(object));
                if let Some(pos) = error.pos {
                    diagnostic.pos = pos;
                }
                out.diagnostics.push(diagnostic);
            }
        }
    }
}
