//! `ebb gateway --kube` end to end on 127.0.0.1: a real replica (an HTTP server), the real
//! gateway, and a fake API server (see `support`) that lists one class-kpa Autoscaler and its
//! endpoints. A request to a service at zero is held and shows in the statistics the
//! controller reads; once an endpoint is ready it is answered by the replica.

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ebb_kube::gateway::{Options, run};
use ebb_kube::gateway_stats::ServiceCounters;
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use support::FakeApi;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A replica: answers every request with its name.
async fn replica() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"hello from the replica",
                    ))))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn slices(ready_at: Option<std::net::SocketAddr>) -> Value {
    let endpoints: Vec<Value> = ready_at
        .map(|a| vec![json!({"addresses": [a.ip().to_string()], "conditions": {"ready": true}})])
        .unwrap_or_default();
    let port = ready_at.map_or(8080, |a| a.port());
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList", "metadata": {},
           "items": [{"addressType": "IPv4",
                      "metadata": {"name": "sentiment-x", "namespace": "default",
                                   "labels": {"kubernetes.io/service-name": "sentiment"}},
                      "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
                      "endpoints": endpoints}]})
}

/// The fake API server lists one class-kpa Autoscaler, `default/sentiment`, at zero.
fn lists_one_kpa_autoscaler(fake: &FakeApi) {
    fake.always("GET", "/apis/ebb.dev/v1alpha1/autoscalers", |_| {
        (200, json!({"apiVersion": "ebb.dev/v1alpha1", "kind": "AutoscalerList", "metadata": {}, "items": [{
            "apiVersion": "ebb.dev/v1alpha1", "kind": "Autoscaler",
            "metadata": {"name": "sentiment", "namespace": "default", "uid": "u-2"},
            "spec": {"class": "kpa", "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sentiment"},
                     "kpa": {"minScale": 0}}
        }]}))
    });
}

async fn get(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    url: &str,
    host: Option<&str>,
) -> (u16, String) {
    let mut req = hyper::Request::get(url);
    if let Some(h) = host {
        req = req.header(http::header::HOST, h);
    }
    let response = client
        .request(req.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_at_zero_is_held_seen_by_the_controller_and_served_when_a_replica_is_ready() {
    let replica = replica().await;
    let fake = FakeApi::start().await;
    lists_one_kpa_autoscaler(&fake);
    let endpoints = Arc::new(Mutex::new(slices(None)));
    let served = endpoints.clone();
    fake.always(
        "GET",
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
        move |_| (200, served.lock().unwrap().clone()),
    );

    // The gateway binds the proxy port itself (one listener per thread): take a free one.
    let proxy_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let stats = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stats_addr = stats.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let options = Options {
        namespace: None,
        domain: "example.com".into(),
        threads: 2,
        answers: ebb_gateway::Answers::Ebb,
        balancing: ebb_gateway::Balancing::LeastOfTwo,
        limits: ebb_gateway::Limits::default(),
    };
    let gateway = tokio::spawn(run(
        fake.client(),
        options,
        proxy_addr,
        stats,
        shutdown.clone(),
    ));

    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let stats_url = format!("http://{stats_addr}/ebb/v1/stats/default/sentiment");
    // The stats port answers once the gateway runs.
    let mut up = false;
    for _ in 0..100 {
        if tokio::time::timeout(
            Duration::from_secs(2),
            get(&client, &format!("http://{stats_addr}/healthz"), None),
        )
        .await
        .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the gateway did not start");

    // At zero: the request is held.
    let held_request = {
        let client = client.clone();
        let url = format!("http://{proxy_addr}/v1/models/sentiment:predict");
        tokio::spawn(async move { get(&client, &url, Some("sentiment.default.example.com")).await })
    };
    let mut seen_held = None;
    for _ in 0..100 {
        let (status, body) = get(&client, &stats_url, None).await;
        assert_eq!(status, 200, "{body}");
        let c: ServiceCounters = serde_json::from_str(&body).unwrap();
        if c.held >= 1 {
            seen_held = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held = seen_held.expect("the held request never showed in the statistics");
    assert_eq!(held.in_flight, 1);
    assert!(
        !held_request.is_finished(),
        "a request at zero must wait for a replica"
    );

    // A replica becomes ready: the held request is answered by it.
    *endpoints.lock().unwrap() = slices(Some(replica));
    let (status, body) = tokio::time::timeout(Duration::from_secs(20), held_request)
        .await
        .expect("the held request was not released within 20 s")
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "hello from the replica"));

    let mut counted = None;
    for _ in 0..100 {
        let (_, body) = get(&client, &stats_url, None).await;
        let c: ServiceCounters = serde_json::from_str(&body).unwrap();
        if c.requests >= 1 && c.held == 0 && c.in_flight == 0 {
            counted = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let c = counted.expect("the counters never showed the finished request");
    assert!(c.concurrency_seconds > 0.0, "{c:?}");
    let (status, _) = get(
        &client,
        &format!("http://{stats_addr}/ebb/v1/stats/default/unknown"),
        None,
    )
    .await;
    assert_eq!(status, 404);

    support::assert_rbac_allows("ebb-gateway", &fake.seen());
    shutdown.cancel();
    let restart = tokio::time::timeout(Duration::from_secs(40), gateway)
        .await
        .expect("the gateway did not stop")
        .unwrap()
        .unwrap();
    assert!(!restart);
}

#[tokio::test]
async fn a_request_port_in_use_is_an_error_that_names_it() {
    let fake = FakeApi::start().await;
    lists_one_kpa_autoscaler(&fake);
    // Held without SO_REUSEPORT, so the gateway's listeners cannot share the port.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let stats = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = Options {
        namespace: None,
        domain: "example.com".into(),
        threads: 2,
        answers: ebb_gateway::Answers::Ebb,
        balancing: ebb_gateway::Balancing::LeastOfTwo,
        limits: ebb_gateway::Limits::default(),
    };
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        run(
            fake.client(),
            options,
            addr,
            stats,
            CancellationToken::new(),
        ),
    )
    .await
    .expect("run returns at once when it cannot listen");
    match result {
        Err(error @ ebb_kube::Error::Listen { .. }) => {
            assert!(error.to_string().contains(&addr.to_string()), "{error}");
        }
        other => panic!("expected a listen error, got {other:?}"),
    }
}
