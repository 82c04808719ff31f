//! A minimal model server for the gateway benchmark: answers every request with a small JSON
//! body over HTTP/1.1 keep-alive, on one or more ports, from one runtime.
//!
//! `cargo run --release -p ebb-gateway --example bench-backend -- --port 9101 --port 9102`

use std::convert::Infallible;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1); repeat for more.
    #[arg(long, required = true)]
    port: Vec<u16>,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

const BODY: &[u8] = br#"{"predictions":[1]}"#;

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the request body like a model server would.
    let _ = req.into_body().collect().await;
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(BODY)))
        .unwrap_or_default())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for port in args.port {
            let listener = TcpListener::bind(("127.0.0.1", port)).await?;
            println!("backend listening on {}", listener.local_addr()?);
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(
                                TokioIo::new(stream),
                                hyper::service::service_fn(answer),
                            )
                            .await;
                    });
                }
            });
        }
        // Serve until killed.
        std::future::pending::<anyhow::Result<()>>().await
    })
}
