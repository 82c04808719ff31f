//! Routing by Host, by model name in KServe paths, the single-service fallback, and 404.

use ebb_gateway::{GatewayConfig, ServiceConfig};

use crate::support::*;

async fn two_services() -> (TestGateway, RunningModel, RunningModel) {
    let iris = ServiceConfig::new("iris");
    let mut llm = ServiceConfig::new("llm");
    llm.namespace = "models".into();
    llm.hosts = vec!["api.llm.test".into()];
    llm.models = vec!["llama-3".into()];
    let gw = TestGateway::start(GatewayConfig::new(vec![iris, llm])).await;
    let (a, b) = (
        FakeModel::new("iris").run().await,
        FakeModel::new("llm").run().await,
    );
    gw.ready_replica("iris", a.addr);
    gw.ready_replica("llm", b.addr);
    (gw, a, b)
}

#[tokio::test]
async fn routes_by_host() {
    let (gw, iris, llm) = two_services().await;
    for (host, model) in [
        ("iris.default.example.com", "iris"),
        ("iris.localhost", "iris"),
        ("llm.models.example.com", "llm"),
        ("LLM.localhost:8080", "llm"),
        ("api.llm.test", "llm"),
    ] {
        let reply = get(gw.addr, host, "/predict").await;
        assert_eq!(
            (reply.status.as_u16(), reply.body.as_str()),
            (200, model),
            "{host}"
        );
    }
    // The replica sees the client's Host and path unchanged.
    let seen = llm.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        (seen[2].host.as_str(), seen[2].path.as_str()),
        ("api.llm.test", "/predict")
    );
    assert_eq!(iris.arrivals(), 2);
}

#[tokio::test]
async fn routes_by_model_name_in_kserve_paths() {
    let (gw, _iris, llm) = two_services().await;
    let host = gw.addr.to_string();
    for (path, model) in [
        ("/v1/models/iris:predict", "iris"),
        ("/v1/models/llm", "llm"),
        ("/v2/models/llm/infer", "llm"),
        ("/v2/models/llama-3/ready", "llm"),
        ("/v2/models/iris/infer", "iris"),
    ] {
        let reply = get(gw.addr, &host, path).await;
        assert_eq!(
            (reply.status.as_u16(), reply.body.as_str()),
            (200, model),
            "{path}"
        );
    }
    assert_eq!(llm.arrivals(), 3);
}

#[tokio::test]
async fn unknown_service_is_404_listing_what_exists() {
    let (gw, iris, llm) = two_services().await;
    let reply = get(gw.addr, "nope.test", "/v2/models/nope/infer").await;
    assert_eq!(reply.status.as_u16(), 404);
    assert_eq!(reply.header(ebb_gateway::REASON_HEADER), "unknown-service");
    assert!(
        reply
            .body
            .contains("iris: hosts iris.default.example.com, iris.localhost"),
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains(
            "llm: hosts llm.models.example.com, llm.localhost, api.llm.test; models llm, llama-3"
        ),
        "{}",
        reply.body
    );
    assert_eq!(iris.arrivals() + llm.arrivals(), 0);
    assert_eq!(gw.sample("ebb_gateway_unrouted_total"), Some(1.0));
}

#[tokio::test]
async fn a_single_service_takes_any_host() {
    let gw = TestGateway::start(GatewayConfig::new(vec![ServiceConfig::new("only")])).await;
    let model = FakeModel::new("only").run().await;
    gw.ready_replica("only", model.addr);
    let reply = get(gw.addr, "whatever.test", "/generate").await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "only"));
}
