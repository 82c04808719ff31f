//! Time from a request being held at zero to the autoscaler's notification.
//!
//! In one process, as in `ebb serve`: a gateway whose service has no replica, an
//! "autoscaler" task waiting on the wakeup channel, and a client on a real TCP connection.
//! Each iteration connects, takes the time, writes a request, and waits for the wakeup; the
//! client then leaves so the next request is again the first one held.

use std::time::Duration;

use clap::Parser;
use ebb_gateway::{Gateway, GatewayConfig, ServiceConfig};
use prometheus_client::registry::Registry;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser)]
struct Args {
    /// How many wakeups to time.
    #[arg(long, default_value_t = 1000)]
    iterations: usize,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (gateway, mut wakeups) = Gateway::new(
            GatewayConfig::new(vec![ServiceConfig::new("cold")]),
            &mut Registry::default(),
        )?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = gateway.clone();
        tokio::spawn(async move { server.serve(listener, std::future::pending()).await });

        let mut micros = Vec::with_capacity(args.iterations);
        let mut held_micros = Vec::with_capacity(args.iterations);
        for i in 0..args.iterations {
            let mut client = TcpStream::connect(addr).await?;
            client.set_nodelay(true)?;
            let sent = tokio::time::Instant::now();
            client
                .write_all(b"GET /v2/models/cold/infer HTTP/1.1\r\nhost: cold.localhost\r\n\r\n")
                .await?;
            let wakeup = tokio::time::timeout(Duration::from_secs(5), wakeups.recv())
                .await
                .map_err(|_| anyhow::anyhow!("iteration {i}: no wakeup within 5 s"))?
                .ok_or_else(|| anyhow::anyhow!("wakeup channel closed"))?;
            let received = tokio::time::Instant::now();
            micros.push(received.duration_since(sent).as_secs_f64() * 1e6);
            held_micros.push(received.duration_since(wakeup.at).as_secs_f64() * 1e6);
            drop(client);
            // Wait (bounded) until the gateway has let the abandoned request go.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while gateway.observe().services[0].held > 0 {
                anyhow::ensure!(
                    tokio::time::Instant::now() < deadline,
                    "held request not released"
                );
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        }
        report("client write -> autoscaler notified", &mut micros);
        report("request held -> autoscaler notified", &mut held_micros);
        Ok(())
    })
}

fn report(what: &str, values: &mut [f64]) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: n={} p50={:.1}us p90={:.1}us p99={:.1}us max={:.1}us",
        values.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}
