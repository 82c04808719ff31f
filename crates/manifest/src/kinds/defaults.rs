//! Knative's `config-defaults` ConfigMap (namespace `knative-serving`): what its webhook fills
//! into a revision that leaves it unset, and the bounds it checks a revision against. When the
//! files hold one, ebb reads it as a cluster would; otherwise upstream's defaults apply.
//!
//! Read: the request timeouts and containerConcurrency keys. Not read: container name
//! templates, `enable-service-links` and the default resource requests and limits.

use std::collections::BTreeMap;
use std::time::Duration;

use ebb_core::FieldError;
use ebb_core::kpa::config::Reader;

use crate::timeouts::seconds;

/// The namespace and name Knative reads its revision defaults from.
pub(crate) const CONFIG_DEFAULTS: (&str, &str) = ("knative-serving", "config-defaults");

/// The revision defaults and bounds of one cluster; [`Default`] is upstream's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevisionDefaults {
    /// `revision-timeout-seconds`: `timeoutSeconds` when unset (300).
    pub timeout_seconds: i64,
    /// `max-revision-timeout-seconds`: the largest timeout a revision may set (600).
    pub max_timeout_seconds: i64,
    /// `revision-response-start-timeout-seconds`: `responseStartTimeoutSeconds` when unset
    /// (300; when the ConfigMap sets a `revision-timeout-seconds` but not this, that value).
    pub response_start_timeout_seconds: i64,
    /// `revision-idle-timeout-seconds`: `idleTimeoutSeconds` when unset (0: no limit).
    pub idle_timeout_seconds: i64,
    /// `container-concurrency`: `containerConcurrency` when unset (0: unlimited).
    pub container_concurrency: i64,
    /// `container-concurrency-max-limit`: the largest `containerConcurrency` (1000).
    pub container_concurrency_max_limit: i64,
    /// `allow-container-concurrency-zero`: whether `containerConcurrency: 0` is allowed.
    pub allow_container_concurrency_zero: bool,
}

impl Default for RevisionDefaults {
    fn default() -> Self {
        RevisionDefaults {
            timeout_seconds: 300,
            max_timeout_seconds: 600,
            response_start_timeout_seconds: 300,
            idle_timeout_seconds: 0,
            container_concurrency: 0,
            container_concurrency_max_limit: 1000,
            allow_container_concurrency_zero: true,
        }
    }
}

impl RevisionDefaults {
    /// Reads a `config-defaults` ConfigMap's `data`, with Knative's checks; errors are at
    /// `data[key]`.
    pub fn from_map(data: &BTreeMap<String, String>) -> Result<RevisionDefaults, Vec<FieldError>> {
        let mut d = RevisionDefaults::default();
        let mut r = Reader::new(data, "data");
        r.int64("revision-timeout-seconds", &mut d.timeout_seconds);
        r.int64("max-revision-timeout-seconds", &mut d.max_timeout_seconds);
        // As upstream: unset, the response-start default follows the request timeout.
        d.response_start_timeout_seconds = d.timeout_seconds;
        r.int64(
            "revision-response-start-timeout-seconds",
            &mut d.response_start_timeout_seconds,
        );
        r.int64("revision-idle-timeout-seconds", &mut d.idle_timeout_seconds);
        r.int64("container-concurrency", &mut d.container_concurrency);
        r.int64(
            "container-concurrency-max-limit",
            &mut d.container_concurrency_max_limit,
        );
        r.boolean(
            "allow-container-concurrency-zero",
            &mut d.allow_container_concurrency_zero,
        );
        let mut errors = r.finish();
        if !errors.is_empty() {
            return Err(errors);
        }
        let path = |key: &str| format!("data[{key}]");
        let mut bad = |key: &str, value: i64, message: String| {
            errors.push(FieldError::invalid(path(key), value, message));
        };
        for (key, value) in [
            ("revision-timeout-seconds", d.timeout_seconds),
            ("max-revision-timeout-seconds", d.max_timeout_seconds),
            (
                "revision-response-start-timeout-seconds",
                d.response_start_timeout_seconds,
            ),
            ("revision-idle-timeout-seconds", d.idle_timeout_seconds),
        ] {
            if value < 0 {
                bad(key, value, "must be 0 or more seconds".to_string());
            }
        }
        if d.timeout_seconds > d.max_timeout_seconds {
            bad(
                "revision-timeout-seconds",
                d.timeout_seconds,
                format!(
                    "cannot be greater than max-revision-timeout-seconds ({})",
                    d.max_timeout_seconds
                ),
            );
        }
        for (key, value) in [
            (
                "revision-response-start-timeout-seconds",
                d.response_start_timeout_seconds,
            ),
            ("revision-idle-timeout-seconds", d.idle_timeout_seconds),
        ] {
            if value > d.timeout_seconds {
                bad(
                    key,
                    value,
                    format!(
                        "cannot be greater than revision-timeout-seconds ({})",
                        d.timeout_seconds
                    ),
                );
            }
        }
        if d.container_concurrency_max_limit < 1 {
            bad(
                "container-concurrency-max-limit",
                d.container_concurrency_max_limit,
                format!(
                    "expected 1 <= {} <= {}",
                    d.container_concurrency_max_limit,
                    i32::MAX
                ),
            );
        } else if !(0..=d.container_concurrency_max_limit).contains(&d.container_concurrency) {
            bad(
                "container-concurrency",
                d.container_concurrency,
                format!(
                    "expected 0 <= {} <= {}",
                    d.container_concurrency, d.container_concurrency_max_limit
                ),
            );
        }
        if errors.is_empty() {
            Ok(d)
        } else {
            Err(errors)
        }
    }

    /// The request timeout a revision that sets none gets, when it is not upstream's.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        let upstream = RevisionDefaults::default().timeout_seconds;
        (self.timeout_seconds != upstream).then(|| seconds(Some(self.timeout_seconds)))?
    }

    /// The response-start timeout a revision that sets none gets when its request timeout is
    /// longer; `None`: none (0).
    pub(crate) fn response_start(&self) -> Option<Duration> {
        seconds(Some(self.response_start_timeout_seconds))
    }

    /// The idle timeout a revision that sets none gets when its request timeout is longer;
    /// `None`: no limit (0).
    pub(crate) fn idle(&self) -> Option<Duration> {
        seconds(Some(self.idle_timeout_seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_empty_map_is_upstreams_defaults() {
        assert_eq!(
            RevisionDefaults::from_map(&map(&[])),
            Ok(RevisionDefaults::default())
        );
        assert_eq!(RevisionDefaults::default().timeout(), None);
    }

    #[test]
    fn the_response_start_default_follows_the_request_timeout_unless_set() {
        let longer = map(&[
            ("revision-timeout-seconds", "900"),
            ("max-revision-timeout-seconds", "3600"),
        ]);
        let d = RevisionDefaults::from_map(&longer).unwrap();
        assert_eq!(
            (d.timeout(), d.response_start()),
            (
                Some(Duration::from_secs(900)),
                Some(Duration::from_secs(900))
            )
        );
        let mut shorter_start = longer.clone();
        shorter_start.insert(
            "revision-response-start-timeout-seconds".into(),
            "60".into(),
        );
        let d = RevisionDefaults::from_map(&shorter_start).unwrap();
        assert_eq!(d.response_start(), Some(Duration::from_secs(60)));
        let mut none = longer;
        none.insert("revision-response-start-timeout-seconds".into(), "0".into());
        let d = RevisionDefaults::from_map(&none).unwrap();
        assert_eq!(d.response_start(), None, "0: no response-start timeout");
    }

    #[test]
    fn knatives_checks_name_the_key_and_the_bound() {
        let errors = RevisionDefaults::from_map(&map(&[
            ("revision-timeout-seconds", "900"),
            ("revision-idle-timeout-seconds", "1000"),
            ("container-concurrency", "2000"),
        ]))
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(
            text[0].contains("data[revision-timeout-seconds]"),
            "{text:?}"
        );
        assert!(
            text[0].contains("max-revision-timeout-seconds (600)"),
            "{text:?}"
        );
        assert!(
            text[1].contains("data[revision-idle-timeout-seconds]"),
            "{text:?}"
        );
        assert!(text[2].contains("expected 0 <= 2000 <= 1000"), "{text:?}");

        let errors = RevisionDefaults::from_map(&map(&[
            ("container-concurrency", "ten"),
            ("allow-container-concurrency-zero", "maybe"),
        ]))
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].to_string().contains("must be a whole number"));
        assert!(
            errors[1]
                .to_string()
                .contains(r#"must be "true" or "false""#)
        );

        let errors = RevisionDefaults::from_map(&map(&[("revision-idle-timeout-seconds", "-5")]))
            .unwrap_err();
        assert!(
            errors[0].to_string().contains("must be 0 or more"),
            "{errors:?}"
        );
    }
}
