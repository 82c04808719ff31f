//! ebb's example model server: a real, small sentiment model, so the quickstart needs nothing
//! but cargo.
//!
//! - [`model`]: multinomial naive Bayes over hashed words, trained at start-up;
//! - [`dataset`]: the labelled movie reviews it learns from, shipped in the binary;
//! - [`server`]: the seed app's API (`POST /predict`, `GET /health_check`) and KServe's V1
//!   (`/v1/models/{name}:predict`) and V2 (`/v2/models/{name}/infer`) protocols;
//! - [`cost`]: emulated compute cost per text (real CPU work), for CPU-based autoscaling.
//!
//! The user documentation is `docs/model-server.md`.

pub mod cost;
pub mod dataset;
pub mod model;
pub mod server;

pub use server::{Running, ServerConfig, ServerError, start};
