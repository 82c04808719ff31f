//! Running one probe against a replica: a TCP connect, an HTTP GET, or a command.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use http_body_util::Empty;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::os::{self, Sig};
use crate::spawner::Spawner;
use crate::spec::{HttpGet, ProbeAction};

/// What the probe runs against.
pub(crate) struct Target<'a> {
    pub(crate) port: u16,
    pub(crate) env: &'a [(String, String)],
    pub(crate) working_dir: Option<&'a PathBuf>,
    pub(crate) spawner: &'a Spawner,
}

/// Runs `action` once; `Err` says why it failed (for events and logs).
pub(crate) async fn run(
    action: &ProbeAction,
    timeout: Duration,
    target: &Target<'_>,
) -> Result<(), String> {
    match action {
        ProbeAction::TcpSocket { port } => {
            let addr = loopback(port.unwrap_or(target.port));
            match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                Ok(Ok(_stream)) => Ok(()),
                Ok(Err(e)) => Err(format!("dial tcp {addr}: {e}")),
                Err(_) => Err(format!("dial tcp {addr}: timed out after {timeout:?}")),
            }
        }
        ProbeAction::HttpGet(get) => {
            let addr = loopback(get.port.unwrap_or(target.port));
            match tokio::time::timeout(timeout, http_get(addr, get)).await {
                Ok(result) => result,
                Err(_) => Err(format!(
                    "Get \"http://{addr}{}\": timed out after {timeout:?}",
                    get.path
                )),
            }
        }
        ProbeAction::Exec { command } => exec(command, timeout, target).await,
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

async fn http_get(addr: SocketAddr, get: &HttpGet) -> Result<(), String> {
    let url = format!("http://{addr}{}", get.path);
    let fail = |e: &dyn std::fmt::Display| format!("Get \"{url}\": {e}");
    let stream = TcpStream::connect(addr).await.map_err(|e| fail(&e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| fail(&e))?;
    let connection = tokio::spawn(connection);
    let mut request = Request::get(get.path.as_str())
        .header(hyper::header::HOST, addr.to_string())
        .header(
            hyper::header::USER_AGENT,
            concat!("ebb-probe/", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::ACCEPT, "*/*")
        .header(hyper::header::CONNECTION, "close");
    for (name, value) in &get.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| fail(&e))?;
    let result = sender.send_request(request).await;
    connection.abort();
    let response = result.map_err(|e| fail(&e))?;
    let status = response.status();
    if (200..400).contains(&status.as_u16()) {
        Ok(())
    } else {
        Err(format!(
            "HTTP probe failed with statuscode: {}",
            status.as_u16()
        ))
    }
}

async fn exec(command: &[String], timeout: Duration, target: &Target<'_>) -> Result<(), String> {
    let Some((program, args)) = command.split_first() else {
        return Err("exec probe has no command".into());
    };
    let port = target.port.to_string();
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args.iter().map(|a| a.replace("{port}", &port)))
        .envs(
            target
                .env
                .iter()
                .map(|(k, v)| (k, v.replace("{port}", &port))),
        )
        .env("PORT", &port)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(dir) = target.working_dir {
        cmd.current_dir(dir);
    }
    os::isolate(&mut cmd);
    let mut child = target
        .spawner
        .spawn(cmd)
        .await
        .map_err(|e| format!("exec {program:?}: {e}"))?;
    let pgid = child.id();
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("command {program:?} exited with {status}")),
        Ok(Err(e)) => Err(format!("exec {program:?}: {e}")),
        Err(_) => {
            if let Some(pgid) = pgid {
                let _ = os::signal_group(pgid, Sig::Kill);
            }
            let _ = child.wait().await;
            Err(format!("command {program:?} timed out after {timeout:?}"))
        }
    }
}
