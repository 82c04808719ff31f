//! A revision's request timeouts: Knative's `timeoutSeconds`, `responseStartTimeoutSeconds`
//! and `idleTimeoutSeconds`, KServe's predictor `timeout`. They configure the gateway, not the
//! autoscaler: `ebb serve` reads them from the manifest, and a converted Autoscaler carries
//! them to `ebb gateway --kube` as annotations.

use std::collections::BTreeMap;
use std::time::Duration;

use ebb_core::FieldError;

use crate::Manifest;
use crate::kinds::defaults::RevisionDefaults;
use crate::kinds::serverless::is_serverless;

/// Knative's request timeout when neither the revision nor `config-defaults` sets one.
const DEFAULT_REQUEST: Duration = Duration::from_secs(300);

/// Annotation for `timeoutSeconds` on an Autoscaler.
pub const TIMEOUT_ANNOTATION: &str = "ebb.dev/timeout-seconds";
/// Annotation for `responseStartTimeoutSeconds` on an Autoscaler.
pub const RESPONSE_START_TIMEOUT_ANNOTATION: &str = "ebb.dev/response-start-timeout-seconds";
/// Annotation for `idleTimeoutSeconds` on an Autoscaler.
pub const IDLE_TIMEOUT_ANNOTATION: &str = "ebb.dev/idle-timeout-seconds";

/// The timeouts a revision sets; `None` where it sets none (or 0, which Knative defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestTimeouts {
    /// `timeoutSeconds` (KServe `timeout`): how long, from its arrival, a request may wait
    /// for a replica and for its response to start. `None`: Knative's default, 300 s.
    pub request: Option<Duration>,
    /// `responseStartTimeoutSeconds`: how long, from its arrival, a request's response may
    /// take to start. `None`: `request` (KServe sets both from its `timeout`); for a revision
    /// that leaves it unset, the cluster default where that is shorter.
    pub response_start: Option<Duration>,
    /// `idleTimeoutSeconds`: how long a replica may send nothing, counted from the request's
    /// arrival and then from each piece of its response. `None`: no limit.
    pub idle: Option<Duration>,
}

impl RequestTimeouts {
    /// The timeouts of an InferenceService or Knative Service, where it leaves one unset the
    /// cluster's `defaults` (as Knative's webhook fills them in); none for other kinds.
    pub fn of(manifest: &Manifest, defaults: &RevisionDefaults) -> RequestTimeouts {
        let (request, response_start, idle) = match manifest {
            // Without Knative (KServe's RawDeployment mode) no cluster default reaches it.
            Manifest::InferenceService(i) if !is_serverless(i) => {
                return RequestTimeouts {
                    request: seconds(i.spec.predictor.timeout),
                    ..RequestTimeouts::default()
                };
            }
            Manifest::InferenceService(i) => match seconds(i.spec.predictor.timeout) {
                // KServe sets the response-start timeout to `timeout` too: `None` says so.
                Some(timeout) => {
                    return RequestTimeouts {
                        request: Some(timeout),
                        response_start: None,
                        idle: defaults.idle().filter(|idle| *idle < timeout),
                    };
                }
                None => (None, None, None),
            },
            Manifest::KnativeService(k) => {
                let spec = &k.spec.template.spec;
                (
                    seconds(spec.timeout_seconds),
                    spec.response_start_timeout_seconds,
                    spec.idle_timeout_seconds,
                )
            }
            _ => return RequestTimeouts::default(),
        };
        let request = request.or(defaults.timeout());
        // As Knative's webhook: a field left unset gets the cluster's default when that is
        // shorter than the request timeout (the response start's default is not
        // `timeoutSeconds`); one set to 0 has no limit of its own.
        let effective = request.unwrap_or(DEFAULT_REQUEST);
        let or_default = |set: Option<i64>, default: Option<Duration>| match set {
            Some(value) => seconds(Some(value)),
            None => default.filter(|d| *d < effective),
        };
        RequestTimeouts {
            request,
            response_start: or_default(response_start, defaults.response_start()),
            idle: or_default(idle, defaults.idle()),
        }
    }

    fn fields(&self) -> [(&'static str, Option<Duration>); 3] {
        [
            (TIMEOUT_ANNOTATION, self.request),
            (RESPONSE_START_TIMEOUT_ANNOTATION, self.response_start),
            (IDLE_TIMEOUT_ANNOTATION, self.idle),
        ]
    }

    /// The annotations for the timeouts that are set.
    pub fn annotations(&self) -> impl Iterator<Item = (String, String)> {
        self.fields()
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| (name.to_string(), v.as_secs().to_string())))
    }

    /// Read back from an Autoscaler's annotations; the error names the annotation and says
    /// what is allowed.
    pub fn from_annotations(
        annotations: &BTreeMap<String, String>,
    ) -> Result<RequestTimeouts, String> {
        let read = |name: &str| match annotations.get(name) {
            None => Ok(None),
            Some(text) => match text.trim().parse::<u64>() {
                Ok(0) => Ok(None),
                Ok(secs) => Ok(Some(Duration::from_secs(secs))),
                Err(_) => Err(format!("annotation {name}: {text:?} {NOT_SECONDS}")),
            },
        };
        Ok(RequestTimeouts {
            request: read(TIMEOUT_ANNOTATION)?,
            response_start: read(RESPONSE_START_TIMEOUT_ANNOTATION)?,
            idle: read(IDLE_TIMEOUT_ANNOTATION)?,
        })
    }
}

const NOT_SECONDS: &str = "is not a whole number of seconds (0 = the default)";

/// Each timeout annotation that [`RequestTimeouts::from_annotations`] cannot read, placed at
/// its key.
pub(crate) fn check_annotations(annotations: &BTreeMap<String, String>) -> Vec<FieldError> {
    let names = [
        TIMEOUT_ANNOTATION,
        RESPONSE_START_TIMEOUT_ANNOTATION,
        IDLE_TIMEOUT_ANNOTATION,
    ];
    names
        .into_iter()
        .filter_map(|name| {
            let text = annotations.get(name)?;
            text.trim().parse::<u64>().is_err().then(|| {
                FieldError::invalid(
                    format!("metadata.annotations[{name}]"),
                    format!("{text:?}"),
                    NOT_SECONDS,
                )
            })
        })
        .collect()
}

/// A timeout in seconds as Knative defaults it: absent or 0 means the default.
pub(crate) fn seconds(seconds: Option<i64>) -> Option<Duration> {
    seconds
        .and_then(|s| u64::try_from(s).ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_read_back_to_the_same_timeouts() {
        let timeouts = RequestTimeouts {
            request: Some(Duration::from_secs(600)),
            response_start: None,
            idle: Some(Duration::from_secs(20)),
        };
        let annotations: BTreeMap<String, String> = timeouts.annotations().collect();
        assert_eq!(
            annotations.keys().collect::<Vec<_>>(),
            [IDLE_TIMEOUT_ANNOTATION, TIMEOUT_ANNOTATION]
        );
        assert_eq!(
            RequestTimeouts::from_annotations(&annotations),
            Ok(timeouts)
        );
    }

    #[test]
    fn ebb_validate_places_an_unreadable_timeout_annotation() {
        let text = "apiVersion: ebb.dev/v1alpha1
kind: Autoscaler
metadata:
  name: llm
  annotations:
    ebb.dev/timeout-seconds: \"600\"
    ebb.dev/idle-timeout-seconds: 20s
spec:
  class: kpa
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llm}
";
        let checked = crate::check(&[crate::Source::new("a.yaml", text)], crate::Mode::Cluster);
        let found: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == crate::Severity::Error)
            .map(|d| d.to_string())
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("a.yaml:7:35:")
                && found[0].contains("metadata.annotations[ebb.dev/idle-timeout-seconds]")
                && found[0].contains("not a whole number of seconds"),
            "{found:?}"
        );
    }

    #[test]
    fn a_bad_annotation_is_named_and_zero_is_the_default() {
        let mut annotations = BTreeMap::new();
        annotations.insert(TIMEOUT_ANNOTATION.to_string(), "0".to_string());
        assert_eq!(
            RequestTimeouts::from_annotations(&annotations),
            Ok(RequestTimeouts::default())
        );
        annotations.insert(IDLE_TIMEOUT_ANNOTATION.to_string(), "5m".to_string());
        let error = RequestTimeouts::from_annotations(&annotations).unwrap_err();
        assert!(
            error.contains("ebb.dev/idle-timeout-seconds") && error.contains("\"5m\""),
            "{error}"
        );
    }
}
