//! The ebb gateway as the benchmark runs it: one service, its replicas, counting and balancing
//! on, observations taken every second as the autoscaler would.
//!
//! `cargo run --release -p ebb-gateway --example bench-gateway -- --port 9100 --backend 127.0.0.1:9101`

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use ebb_gateway::{Gateway, GatewayConfig, ServiceConfig};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

#[derive(Parser)]
struct Args {
    /// Port to listen on (127.0.0.1).
    #[arg(long)]
    port: u16,
    /// A replica's address; repeat for more.
    #[arg(long, required = true)]
    backend: Vec<SocketAddr>,
    /// Runtime worker threads; 0 runs the gateway on a current-thread runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Instead of one runtime: this many threads, each with a current-thread runtime and its
    /// own SO_REUSEPORT listener on the same port (`Gateway::serve_on_threads`).
    #[arg(long, default_value_t = 0)]
    per_thread: usize,
    /// Most open client connections.
    #[arg(long, default_value_t = 20_000)]
    max_connections: usize,
    /// Header read timeout (also the idle keep-alive timeout), seconds [default: the
    /// gateway's, as `ebb serve` runs it].
    #[arg(long)]
    header_read_timeout: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.per_thread > 0 {
        let gateway = build(&args)?;
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
        let workers = gateway.serve_on_threads(addr, args.per_thread, stopped)?;
        println!("gateway listening on {addr} ({} threads)", args.per_thread);
        let observer = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        observer.block_on(observe_every_second(gateway));
        workers.join()?;
        return Ok(());
    }
    let runtime = if args.threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        let gateway = build(&args)?;
        tokio::spawn(observe_every_second(gateway.clone()));
        let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
        println!("gateway listening on {}", listener.local_addr()?);
        gateway.serve(listener, std::future::pending()).await?;
        Ok(())
    })
}

/// The gateway with one service, `bench`, and the backends as its ready replicas.
fn build(args: &Args) -> anyhow::Result<Gateway> {
    let mut config = GatewayConfig::new(vec![ServiceConfig::new("bench")]);
    config.limits.max_connections = args.max_connections;
    if let Some(secs) = args.header_read_timeout {
        config.limits.header_read_timeout = Duration::from_secs(secs);
    }
    let mut registry = Registry::default();
    let (gateway, _wakeups) = Gateway::new(config, &mut registry)?;
    for addr in &args.backend {
        let replica = gateway.add_replica("bench", *addr)?;
        gateway.set_ready(replica, true)?;
    }
    Ok(gateway)
}

/// What the autoscaler does: take the observations once per second.
async fn observe_every_second(gateway: Gateway) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if let Some(s) = gateway.observe().services.first() {
            tracing_line(s);
        }
    }
}

/// One line per second on stderr when `EBB_BENCH_VERBOSE` is set; silent otherwise.
fn tracing_line(s: &ebb_gateway::ServiceObservation) {
    if std::env::var_os("EBB_BENCH_VERBOSE").is_some() {
        eprintln!(
            "{}: avg concurrency {:.2}, {:.0} req/s, in flight {}, held {}",
            s.service, s.average_concurrency, s.requests_per_second, s.in_flight, s.held
        );
    }
}
