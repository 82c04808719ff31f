//! Opens many client connections to a server and keeps them idle, for measuring the server's
//! memory per idle connection. With `--request`, each connection first makes one request (a
//! served keep-alive client, the common case); without, it stays silent after connecting.
//!
//! Prints `ready N` on stdout once all are open, then holds them until stdin closes, and
//! reports how many the server closed in the meantime.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    /// The server to connect to.
    #[arg(long)]
    addr: SocketAddr,
    /// How many connections.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Make one request on each connection first.
    #[arg(long)]
    request: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Open them in parallel batches: one by one, the first would sit idle for as long as
        // it takes to open the rest.
        let mut streams = Vec::with_capacity(args.connections);
        let mut opening = tokio::task::JoinSet::new();
        let mut next = 0;
        while streams.len() < args.connections {
            while next < args.connections && opening.len() < PARALLEL {
                opening.spawn(open(args.addr, args.request, next));
                next += 1;
            }
            match opening.join_next().await {
                Some(opened) => streams.push(opened??),
                None => break,
            }
        }
        println!("ready {}", streams.len());
        // Hold until told to stop (stdin closes or a line arrives).
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)
        })
        .await;
        let mut closed = 0;
        for stream in &mut streams {
            let mut byte = [0u8; 1];
            if let Ok(Ok(0)) =
                tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte)).await
            {
                closed += 1;
            }
        }
        println!("closed by server while idle: {closed}");
        Ok(())
    })
}

/// Connections being opened at once.
const PARALLEL: usize = 128;

/// Connection `i`, after one request if `request`.
async fn open(addr: SocketAddr, request: bool, i: usize) -> anyhow::Result<TcpStream> {
    let mut stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow::anyhow!("connection {i}: connect timed out"))??;
    if request {
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: bench.localhost\r\n\r\n")
            .await?;
        read_response(&mut stream).await?;
    }
    Ok(stream)
}

/// Read one response with a content-length body.
async fn read_response(stream: &mut TcpStream) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await??;
        anyhow::ensure!(n > 0, "server closed the connection before answering");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            anyhow::ensure!(
                head.starts_with("http/1.1 200"),
                "unexpected response: {head}"
            );
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Ok(());
            }
        }
    }
}
