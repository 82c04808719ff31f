//! Knative's `config-autoscaler`, followed from a fake API server (see `support`): a valid one
//! is put in force, an unchanged one is not logged again, a bad one or an unreadable one keeps
//! the defaults in force, and a deleted one brings back upstream's.

mod support;

use ebb_core::kpa::KpaConfig;
use ebb_core::units::KubeDuration;
use ebb_kube::api::Cluster;
use ebb_kube::knative_config::{Source, refresh};
use ebb_kube::leader::Fence;
use ebb_kube::sync::Context;
use serde_json::{Value, json};
use support::{Exchange, FakeApi, status_error};

const PATH: &str = "/api/v1/namespaces/knative-serving/configmaps/config-autoscaler";

fn config_map(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "config-autoscaler", "namespace": "knative-serving"},
           "data": data})
}

#[tokio::test]
async fn the_config_map_is_followed_and_a_bad_one_keeps_the_defaults_in_force() {
    let fake = FakeApi::start().await;
    let two_minutes = config_map(json!({"stable-window": "2m"}));
    let not_found = status_error(404, "NotFound", "not found");
    fake.expect([
        Exchange::get(PATH).reply(200, two_minutes.clone()),
        Exchange::get(PATH).reply(200, two_minutes),
        Exchange::get(PATH).reply(200, config_map(json!({"stable-window": "3m"}))),
        Exchange::get(PATH).reply(200, config_map(json!({"stable-window": "2s"}))),
        Exchange::get(PATH).reply(
            403,
            status_error(403, "Forbidden", "configmaps is forbidden"),
        ),
        Exchange::get(PATH).reply(404, not_found.clone()),
        Exchange::get(PATH).reply(404, not_found),
    ]);
    let (_lease, fence) = Fence::manual(true);
    let ctx = Context::new(Cluster::new(fake.client()), fence, "ebb-controller-0");
    let source = Source::default();
    let mut last = None;
    let minutes = |m: u64| KubeDuration(std::time::Duration::from_secs(60 * m));

    let line = refresh(&ctx, &source, &mut last).await.expect("logged");
    assert!(
        line.contains("from ConfigMap knative-serving/config-autoscaler"),
        "{line}"
    );
    assert_eq!(ctx.kpa_config().stable_window, minutes(2));

    assert_eq!(
        refresh(&ctx, &source, &mut last).await,
        None,
        "unchanged: no new line"
    );

    let line = refresh(&ctx, &source, &mut last)
        .await
        .expect("a change is logged");
    assert!(line.contains("from ConfigMap"), "{line}");
    assert_eq!(ctx.kpa_config().stable_window, minutes(3));

    let line = refresh(&ctx, &source, &mut last).await.expect("logged");
    assert!(
        line.contains("data[stable-window]") && line.contains("the defaults in force stay"),
        "{line}"
    );
    assert_eq!(ctx.kpa_config().stable_window, minutes(3));

    let line = refresh(&ctx, &source, &mut last).await.expect("logged");
    assert!(line.contains("Cannot read ConfigMap"), "{line}");
    assert_eq!(ctx.kpa_config().stable_window, minutes(3));

    let line = refresh(&ctx, &source, &mut last).await.expect("logged");
    assert!(line.contains("No ConfigMap"), "{line}");
    assert_eq!(ctx.kpa_config(), KpaConfig::default());
    assert_eq!(
        refresh(&ctx, &source, &mut last).await,
        None,
        "still none: no new line"
    );

    fake.finish();
    support::assert_rbac_allows("ebb-controller", &fake.seen());
}
