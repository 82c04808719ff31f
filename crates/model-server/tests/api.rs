//! The model server on a real socket: the seed app's API, KServe V1 and V2, bad requests,
//! start-up timing and the emulated compute cost. Timing checks are lower bounds only.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ebb_model_server::{Running, ServerConfig, start};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::time::Instant;

fn config() -> ServerConfig {
    ServerConfig {
        addr: "127.0.0.1:0".parse().expect("addr"),
        name: "custom-model".into(),
        load_time: Duration::ZERO,
        listen_before_load: false,
        cost_per_text: Duration::ZERO,
        delay: Duration::ZERO,
        workers: 2,
    }
}

async fn serve(config: ServerConfig) -> (Running, oneshot::Sender<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let running = start(config, async move {
        let _ = stopped.await;
    })
    .await
    .expect("server starts");
    (running, stop)
}

/// One HTTP/1.1 request on its own connection, the way curl sends `-d` (form content type).
fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn call(
    addr: SocketAddr,
    method: &'static str,
    path: &'static str,
    body: String,
) -> (u16, Value) {
    let (status, text) = tokio::task::spawn_blocking(move || request(addr, method, path, &body))
        .await
        .expect("request task");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON body ({e}): {text:?}"));
    (status, value)
}

fn pairs(value: &Value) -> Vec<[f64; 2]> {
    value
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| {
            let p = p.as_array().expect("a pair");
            assert_eq!(p.len(), 2);
            [
                p[0].as_f64().expect("number"),
                p[1].as_f64().expect("number"),
            ]
        })
        .collect()
}

#[tokio::test]
async fn the_seed_api_classifies_reviews() {
    let (server, _stop) = serve(config()).await;
    let addr = server.addr();
    let (status, body) = call(addr, "GET", "/health_check", String::new()).await;
    assert_eq!((status, body), (200, json!("ok")));
    let reviews = json!({"text": [
        "A wonderful, moving film with a superb cast.",
        "Boring, predictable and far too long.",
        "good",
    ]});
    let (status, body) = call(addr, "POST", "/predict", reviews.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let probs = pairs(&body["probs"]);
    assert_eq!(probs.len(), 3);
    for [p0, p1] in &probs {
        assert!((p0 + p1 - 1.0).abs() < 1e-9);
    }
    assert!(probs[0][1] > 0.9, "positive review: {:?}", probs[0]);
    assert!(probs[1][0] > 0.9, "negative review: {:?}", probs[1]);
    let (status, body) = call(addr, "POST", "/predict", r#"{"text": []}"#.into()).await;
    assert_eq!((status, body), (200, json!({"probs": []})));
}

#[tokio::test]
async fn kserve_v1_serves_the_seed_payload() {
    let (server, _stop) = serve(config()).await;
    let addr = server.addr();
    let (status, body) = call(addr, "GET", "/v1/models/custom-model", String::new()).await;
    assert_eq!(
        (status, body),
        (200, json!({"name": "custom-model", "ready": true}))
    );
    let (status, body) = call(addr, "GET", "/v1/models", String::new()).await;
    assert_eq!((status, body), (200, json!({"models": ["custom-model"]})));
    // The seed's data-samples/kserve-input.json.
    let payload = json!({"instances": ["good", "bad123"]}).to_string();
    let (status, body) = call(
        addr,
        "POST",
        "/v1/models/custom-model:predict",
        payload.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let predictions = pairs(&body["predictions"]);
    assert_eq!(predictions.len(), 2);
    assert_eq!(
        predictions[1],
        [0.5, 0.5],
        "an unknown word gets the priors"
    );
    let (status, body) = call(addr, "POST", "/v1/models/other:predict", payload).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["error"],
        "model \"other\" is not served here; this server serves \"custom-model\""
    );
}

#[tokio::test]
async fn kserve_v2_infers_byte_tensors() {
    let (server, _stop) = serve(config()).await;
    let addr = server.addr();
    let (status, _) = call(addr, "GET", "/v2/models/custom-model/ready", String::new()).await;
    assert_eq!(status, 200);
    let (status, meta) = call(addr, "GET", "/v2/models/custom-model", String::new()).await;
    assert_eq!(
        (status, &meta["inputs"][0]["datatype"]),
        (200, &json!("BYTES"))
    );
    let request = json!({"id": "r-7", "inputs": [{
        "name": "text", "shape": [2, 1], "datatype": "BYTES",
        "data": [["A wonderful, moving film."], ["A dull, boring mess."]],
    }]});
    let (status, body) = call(
        addr,
        "POST",
        "/v2/models/custom-model/infer",
        request.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "r-7");
    assert_eq!(body["model_name"], "custom-model");
    let output = &body["outputs"][0];
    assert_eq!(
        (&output["name"], &output["datatype"]),
        (&json!("probs"), &json!("FP32"))
    );
    assert_eq!(output["shape"], json!([2, 2]));
    let data: Vec<f64> = output["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    assert_eq!(data.len(), 4);
    assert!(data[1] > 0.5 && data[2] > 0.5, "{data:?}");
}

#[tokio::test]
async fn bad_requests_get_4xx_with_a_json_error_naming_the_problem() {
    let (server, _stop) = serve(config()).await;
    let addr = server.addr();
    let cases: Vec<(&'static str, &'static str, String, u16, &str)> = vec![
        (
            "POST",
            "/predict",
            "{not json".into(),
            400,
            "request body is not valid JSON",
        ),
        (
            "POST",
            "/predict",
            r#"{"texts": ["a"]}"#.into(),
            400,
            "missing field \"text\"; expected {\"text\": [\"a review\", ...]}",
        ),
        (
            "POST",
            "/predict",
            r#"{"text": "one"}"#.into(),
            400,
            "\"text\" must be a list of strings",
        ),
        (
            "POST",
            "/predict",
            r#"{"text": ["a", 42]}"#.into(),
            400,
            "text[1] must be a string, got 42",
        ),
        (
            "POST",
            "/v1/models/custom-model:predict",
            r#"{"text": ["a"]}"#.into(),
            400,
            "missing field \"instances\"",
        ),
        (
            "POST",
            "/v1/models/custom-model",
            r#"{"instances": ["a"]}"#.into(),
            404,
            "predictions are at POST /v1/models/custom-model:predict",
        ),
        (
            "POST",
            "/v2/models/custom-model/infer",
            r#"{"inputs": [{"name": "t", "shape": [1], "datatype": "FP32", "data": [1.0]}]}"#
                .into(),
            400,
            "inputs[0].datatype is \"FP32\", must be \"BYTES\"",
        ),
        (
            "POST",
            "/v2/models/custom-model/infer",
            r#"{"inputs": [{"name": "t", "shape": [3], "datatype": "BYTES", "data": ["a"]}]}"#
                .into(),
            400,
            "inputs[0].shape [3] does not match the 1 strings in data",
        ),
        ("POST", "/v2/models/custom-model/infer", r#"{"inputs": [{"name": "t", "shape": [4294967296, 4294967296, 16], "datatype": "BYTES", "data": ["a"]}]}"#.into(), 400, "does not match the 1 strings in data"),
        ("GET", "/nope", String::new(), 404, "no route for GET /nope"),
        (
            "GET",
            "/predict",
            String::new(),
            405,
            "/predict does not accept GET",
        ),
        (
            "POST",
            "/predict",
            format!(r#"{{"text": ["{}"]}}"#, "x".repeat(5 << 20)),
            413,
            "request body is larger than 4 MiB",
        ),
    ];
    for (method, path, body, want_status, want_error) in cases {
        let (status, value) = call(addr, method, path, body).await;
        let error = value["error"].as_str().unwrap_or_default().to_string();
        assert_eq!(status, want_status, "{method} {path}: {error}");
        assert!(
            error.contains(want_error),
            "{method} {path}: {error:?} lacks {want_error:?}"
        );
    }
}

#[tokio::test]
async fn the_port_opens_after_the_load_time_by_default() {
    let mut config = config();
    config.load_time = Duration::from_millis(800);
    let begin = Instant::now();
    let (server, _stop) = serve(config).await;
    assert!(begin.elapsed() >= Duration::from_millis(800));
    let (status, _) = call(
        server.addr(),
        "GET",
        "/v1/models/custom-model",
        String::new(),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn listening_before_load_holds_requests_until_the_model_is_loaded() {
    let mut config = config();
    config.load_time = Duration::from_millis(800);
    config.listen_before_load = true;
    let begin = Instant::now();
    let (server, _stop) = serve(config).await;
    assert!(
        begin.elapsed() < Duration::from_millis(800),
        "port open at once"
    );
    // A TCP connect succeeds now; the request is answered only once the model is loaded.
    let (status, _) = call(server.addr(), "GET", "/health_check", String::new()).await;
    assert_eq!(status, 200);
    assert!(begin.elapsed() >= Duration::from_millis(800));
}

#[tokio::test]
async fn each_text_costs_real_cpu_time_and_workers_bound_concurrency() {
    let mut config = config();
    config.cost_per_text = Duration::from_millis(20);
    config.workers = 1;
    let (server, _stop) = serve(config).await;
    let addr = server.addr();
    let body = json!({"text": ["a", "b", "c", "d", "e"]}).to_string();
    let begin = Instant::now();
    let (first, second) = tokio::join!(
        call(addr, "POST", "/predict", body.clone()),
        call(addr, "POST", "/predict", body),
    );
    assert_eq!((first.0, second.0), (200, 200));
    // Two requests of 5 × 20 ms, one worker: at least 200 ms.
    assert!(
        begin.elapsed() >= Duration::from_millis(200),
        "{:?}",
        begin.elapsed()
    );
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish() {
    let mut config = config();
    // The request must reach the handler before the stop signal; no probe can tell when it
    // has, so the margin is wide (0.4 s to arrive, 1 s of waiting) for a loaded CI machine.
    config.delay = Duration::from_secs(1);
    let (server, stop) = serve(config).await;
    let addr = server.addr();
    let in_flight = tokio::spawn(call(
        addr,
        "POST",
        "/predict",
        json!({"text": ["slow"]}).to_string(),
    ));
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.send(()).expect("signal");
    server.wait().await.expect("clean exit");
    let (status, _) = in_flight.await.expect("request task");
    assert_eq!(status, 200);
    assert!(TcpStream::connect(addr).is_err(), "no longer listening");
}

#[test]
fn the_docs_report_the_measured_held_out_accuracy() {
    let data = ebb_model_server::dataset::Dataset::builtin().expect("data");
    let model = ebb_model_server::model::Classifier::train(&data.train);
    let correct = (model.accuracy(&data.heldout) * data.heldout.len() as f64).round();
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/model-server.md"
    ))
    .expect("docs/model-server.md");
    let claim = format!("{correct} of {} held-out reviews", data.heldout.len());
    assert!(
        docs.contains(&claim),
        "docs/model-server.md must say {claim:?}"
    );
}

#[tokio::test]
async fn a_delay_holds_each_request_without_holding_the_workers() {
    let config = ServerConfig {
        delay: Duration::from_millis(300),
        workers: 1,
        ..config()
    };
    let (server, _stop) = serve(config).await;
    let addr = server.addr();
    let started = tokio::time::Instant::now();
    let body = || json!({"text": ["good"]}).to_string();
    let (a, b) = tokio::join!(
        call(addr, "POST", "/predict", body()),
        call(addr, "POST", "/predict", body())
    );
    assert_eq!((a.0, b.0), (200, 200));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "the delay was not applied: {took:?}"
    );
    // One worker, yet both waited at the same time: well under two delays back to back.
    assert!(
        took < Duration::from_millis(590),
        "requests waited one after the other: {took:?}"
    );
}
