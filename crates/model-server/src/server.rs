//! The HTTP server: the seed app's API and KServe's V1 and V2 protocols over one model.
//!
//! Start-up emulates a heavier model: after training, the server waits `load_time` (as if
//! loading weights). By default the port opens only after that, as KServe's model server
//! does, so a TCP readiness check is honest. With `listen_before_load` the port opens at once
//! but nothing is answered until the model is loaded (connections wait in the kernel's
//! backlog), as the seed's uvicorn app behaves: a TCP check then passes too early, an HTTP
//! check does not.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::cost::burn_cpu;
use crate::dataset::Dataset;
use crate::model::Classifier;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// Most texts in one request.
pub const MAX_TEXTS: usize = 10_000;

/// How to run the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Where to listen (port 0 picks a free one).
    pub addr: SocketAddr,
    /// The model's name in KServe paths (the seed's is `custom-model`).
    pub name: String,
    /// Extra start-up time before the model is ready, like loading weights.
    pub load_time: Duration,
    /// Open the port before loading (requests wait until the model is loaded).
    pub listen_before_load: bool,
    /// CPU time burnt per text, on top of the model's own work.
    pub cost_per_text: Duration,
    /// Wall-clock time added to every request without using CPU, like a model that waits on
    /// a GPU. Requests wait it out concurrently.
    pub delay: Duration,
    /// Requests computed at once; more wait their turn.
    pub workers: usize,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The port is taken, or the address is not local.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The shipped reviews did not parse (a build problem, not a user one).
    #[error("the training data is broken: {0}")]
    Dataset(#[from] crate::dataset::DatasetError),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Serve(io::Error),
    /// The server task panicked or was cancelled.
    #[error("the server task ended abnormally: {0}")]
    Task(String),
}

/// A server whose port is open.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    task: JoinHandle<Result<(), ServerError>>,
}

impl Running {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the server stops (after the shutdown signal, in-flight requests finish).
    pub async fn wait(self) -> Result<(), ServerError> {
        self.task
            .await
            .map_err(|e| ServerError::Task(e.to_string()))?
    }
}

/// Trains the model and opens the port (before or after the load time, see the module
/// docs); returns once the port is open. The server stops gracefully when `shutdown`
/// completes.
pub async fn start(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, ServerError> {
    let data = Dataset::builtin()?;
    let started = tokio::time::Instant::now();
    let model = Classifier::train(&data.train);
    let accuracy = model.accuracy(&data.heldout);
    tracing::info!(
        model = %config.name,
        reviews = data.train.len(),
        features = model.features(),
        heldout_accuracy = format!("{:.1}%", accuracy * 100.0),
        heldout = data.heldout.len(),
        took_ms = started.elapsed().as_millis() as u64,
        "Trained the sentiment model."
    );
    let app = Arc::new(App {
        name: config.name.clone(),
        model,
        cost_per_text: config.cost_per_text,
        delay: config.delay,
        workers: Semaphore::new(config.workers.max(1)),
    });
    let mut shutdown = Box::pin(shutdown);
    let early = if config.listen_before_load {
        Some(bind(config.addr).await?)
    } else {
        None
    };
    let listener = match early {
        Some(listener) => listener,
        None => {
            load(&config, &mut shutdown).await;
            bind(config.addr).await?
        }
    };
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.addr,
        source,
    })?;
    tracing::info!(%addr, "Listening.");
    let task = tokio::spawn(async move {
        if config.listen_before_load && !load(&config, &mut shutdown).await {
            return Ok(());
        }
        tracing::info!(model = %config.name, %addr, "Model is ready.");
        axum::serve(listener, router(app))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServerError::Serve)
    });
    Ok(Running { addr, task })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Waits out the load time; false when shutdown came first.
async fn load<F: Future<Output = ()>>(
    config: &ServerConfig,
    shutdown: &mut std::pin::Pin<Box<F>>,
) -> bool {
    if config.load_time.is_zero() {
        return true;
    }
    tracing::info!(
        seconds = config.load_time.as_secs_f64(),
        "Loading the model (--load-seconds)."
    );
    tokio::select! {
        () = tokio::time::sleep(config.load_time) => true,
        () = shutdown.as_mut() => false,
    }
}

struct App {
    name: String,
    model: Classifier,
    cost_per_text: Duration,
    delay: Duration,
    workers: Semaphore,
}

type Shared = Arc<App>;

/// The routes, for tests and embedding.
fn router(app: Shared) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { axum::Json(json!({"status": "alive"})) }),
        )
        .route("/health_check", get(|| async { axum::Json("ok") }))
        .route("/predict", axum::routing::post(predict))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{model}", get(v1_model).post(v1_predict))
        .route(
            "/v2/health/live",
            get(|| async { axum::Json(json!({"live": true})) }),
        )
        .route(
            "/v2/health/ready",
            get(|| async { axum::Json(json!({"ready": true})) }),
        )
        .route("/v2/models/{model}", get(v2_metadata))
        .route("/v2/models/{model}/ready", get(v2_ready))
        .route("/v2/models/{model}/infer", axum::routing::post(v2_infer))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

/// A 4xx (or 5xx) answer with a JSON error that says what is wrong.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({"error": self.message}))).into_response()
    }
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!(
            "no route for {method} {}; try POST /predict, POST /v1/models/<name>:predict or POST /v2/models/<name>/infer",
            uri.path()
        ),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("{} does not accept {method}", uri.path()),
    }
}

/// Reads and parses a JSON body, whatever its content type (curl -d sends form encoding).
async fn json_body(body: Body, expected: &str) -> Result<Value, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("request body is larger than {} MiB", MAX_BODY_BYTES >> 20),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "request body is not valid JSON ({e}); expected {expected}"
        ))
    })
}

/// The strings of a JSON array field; objects with a "text" string are accepted too.
fn texts(value: &Value, field: &str, expected: &str) -> Result<Vec<String>, ApiError> {
    let Some(items) = value.get(field) else {
        return Err(ApiError::bad_request(format!(
            "missing field \"{field}\"; expected {expected}"
        )));
    };
    let Some(items) = items.as_array() else {
        return Err(ApiError::bad_request(format!(
            "\"{field}\" must be a list of strings; expected {expected}"
        )));
    };
    check_count(items.len())?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(text) => Ok(text.clone()),
            Value::Object(map) => match map.get("text") {
                Some(Value::String(text)) => Ok(text.clone()),
                _ => Err(ApiError::bad_request(format!(
                    "{field}[{i}] must be a string (or an object with a \"text\" string)"
                ))),
            },
            other => Err(ApiError::bad_request(format!(
                "{field}[{i}] must be a string, got {other}"
            ))),
        })
        .collect()
}

fn check_count(n: usize) -> Result<(), ApiError> {
    if n > MAX_TEXTS {
        return Err(ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("{n} texts in one request; at most {MAX_TEXTS} are accepted"),
        });
    }
    Ok(())
}

fn check_model(app: &App, name: &str) -> Result<(), ApiError> {
    if name == app.name {
        Ok(())
    } else {
        Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!(
                "model {name:?} is not served here; this server serves {:?}",
                app.name
            ),
        })
    }
}

/// Runs the model (and the emulated compute cost) on a worker thread, `workers` at a time.
async fn infer(app: &Shared, texts: Vec<String>) -> Result<Vec<[f64; 2]>, ApiError> {
    let internal = |what: &str| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: format!("inference failed: {what}"),
    };
    if !app.delay.is_zero() {
        tokio::time::sleep(app.delay).await;
    }
    let _permit = app
        .workers
        .acquire()
        .await
        .map_err(|_| internal("the server is shutting down"))?;
    let app = Arc::clone(app);
    tokio::task::spawn_blocking(move || {
        texts
            .iter()
            .map(|text| {
                burn_cpu(app.cost_per_text);
                app.model.predict(text)
            })
            .collect()
    })
    .await
    .map_err(|e| internal(&e.to_string()))
}

const PREDICT_SHAPE: &str = r#"{"text": ["a review", ...]}"#;
const V1_SHAPE: &str = r#"{"instances": ["a review", ...]}"#;
const V2_SHAPE: &str = r#"{"inputs": [{"name": "text", "shape": [N], "datatype": "BYTES", "data": ["a review", ...]}]}"#;

async fn predict(State(app): State<Shared>, body: Body) -> Result<axum::Json<Value>, ApiError> {
    let value = json_body(body, PREDICT_SHAPE).await?;
    let texts = texts(&value, "text", PREDICT_SHAPE)?;
    let probs = infer(&app, texts).await?;
    Ok(axum::Json(json!({ "probs": probs })))
}

async fn list_models(State(app): State<Shared>) -> axum::Json<Value> {
    axum::Json(json!({ "models": [app.name] }))
}

async fn v1_model(
    State(app): State<Shared>,
    Path(model): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    check_model(&app, &model)?;
    Ok(axum::Json(json!({ "name": app.name, "ready": true })))
}

async fn v1_predict(
    State(app): State<Shared>,
    Path(model): Path<String>,
    body: Body,
) -> Result<axum::Json<Value>, ApiError> {
    let Some(name) = model.strip_suffix(":predict") else {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!(
                "no route for POST /v1/models/{model}; predictions are at POST /v1/models/{}:predict",
                app.name
            ),
        });
    };
    check_model(&app, name)?;
    let value = json_body(body, V1_SHAPE).await?;
    let texts = texts(&value, "instances", V1_SHAPE)?;
    let predictions = infer(&app, texts).await?;
    Ok(axum::Json(json!({ "predictions": predictions })))
}

async fn v2_metadata(
    State(app): State<Shared>,
    Path(model): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    check_model(&app, &model)?;
    Ok(axum::Json(json!({
        "name": app.name,
        "versions": [],
        "platform": "ebb-naive-bayes",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [-1]}],
        "outputs": [{"name": "probs", "datatype": "FP32", "shape": [-1, 2]}],
    })))
}

async fn v2_ready(
    State(app): State<Shared>,
    Path(model): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    check_model(&app, &model)?;
    Ok(axum::Json(json!({ "name": app.name, "ready": true })))
}

async fn v2_infer(
    State(app): State<Shared>,
    Path(model): Path<String>,
    body: Body,
) -> Result<axum::Json<Value>, ApiError> {
    check_model(&app, &model)?;
    let value = json_body(body, V2_SHAPE).await?;
    let (texts, id) = v2_texts(&value)?;
    let probs = infer(&app, texts).await?;
    let flat: Vec<f64> = probs.iter().flatten().copied().collect();
    let mut response = json!({
        "model_name": app.name,
        "outputs": [{"name": "probs", "shape": [probs.len(), 2], "datatype": "FP32", "data": flat}],
    });
    if let Some(id) = id {
        response["id"] = id;
    }
    Ok(axum::Json(response))
}

/// The texts of a V2 request (its one input, or the one named "text") and its id.
fn v2_texts(value: &Value) -> Result<(Vec<String>, Option<Value>), ApiError> {
    let bad = |m: String| ApiError::bad_request(format!("{m}; expected {V2_SHAPE}"));
    let inputs = value
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("missing list \"inputs\"".into()))?;
    let index = match inputs.len() {
        0 => return Err(bad("\"inputs\" is empty".into())),
        1 => 0,
        _ => inputs
            .iter()
            .position(|i| i.get("name").and_then(Value::as_str) == Some("text"))
            .ok_or_else(|| bad(format!("{} inputs and none named \"text\"", inputs.len())))?,
    };
    let input = &inputs[index];
    let datatype = input.get("datatype").and_then(Value::as_str).unwrap_or("");
    if datatype != "BYTES" {
        return Err(bad(format!(
            "inputs[{index}].datatype is {datatype:?}, must be \"BYTES\""
        )));
    }
    let data = input
        .get("data")
        .ok_or_else(|| bad(format!("inputs[{index}].data is missing")))?;
    let mut texts = Vec::new();
    flatten_strings(data, &mut texts).map_err(|m| bad(format!("inputs[{index}].data: {m}")))?;
    check_count(texts.len())?;
    if let Some(shape) = input.get("shape").and_then(Value::as_array) {
        let dims: Option<Vec<u64>> = shape.iter().map(Value::as_u64).collect();
        let elements = dims.and_then(|d| d.iter().try_fold(1u64, |n, &dim| n.checked_mul(dim)));
        if elements != Some(texts.len() as u64) {
            return Err(bad(format!(
                "inputs[{index}].shape {} does not match the {} strings in data",
                Value::Array(shape.clone()),
                texts.len()
            )));
        }
    }
    Ok((texts, value.get("id").cloned()))
}

fn flatten_strings(value: &Value, out: &mut Vec<String>) -> Result<(), String> {
    match value {
        Value::String(s) => {
            out.push(s.clone());
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|item| flatten_strings(item, out)),
        other => Err(format!("expected strings, got {other}")),
    }
}
