//! A tiny client for the admin API of a running `ebb serve` (`ebb get`, `ebb describe`).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::UserError;

/// Where the admin API is and how to authenticate, shared by the read commands.
#[derive(clap::Args, Clone)]
pub(crate) struct Admin {
    /// Address of `ebb serve`'s admin API.
    #[arg(
        long = "admin",
        default_value = "127.0.0.1:9090",
        env = "EBB_ADMIN",
        global = true
    )]
    pub(crate) addr: SocketAddr,
    /// Bearer token, when `ebb serve` was started with --admin-token.
    #[arg(long = "admin-token", env = "EBB_ADMIN_TOKEN", global = true)]
    pub(crate) token: Option<String>,
}

impl Admin {
    /// GETs `path` and parses the JSON body; a clear error when nothing is listening.
    pub(crate) fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let (status, body) = self.get_raw(path)?;
        if status != 200 {
            return Err(UserError(format!("{}: {}", self.addr, body.trim())).into());
        }
        serde_json::from_str(&body)
            .map_err(|e| anyhow::anyhow!("unexpected answer from {}{path}: {e}", self.addr))
    }

    fn get_raw(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).map_err(|e| {
            UserError(format!(
                "cannot reach ebb serve's admin API at {}: {e} (is `ebb serve` running? pass --admin if it listens elsewhere)",
                self.addr
            ))
        })?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
            self.addr
        )?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let chunked = head.lines().any(|l| {
            l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked")
        });
        Ok((
            status,
            if chunked {
                dechunk(body)
            } else {
                body.to_string()
            },
        ))
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// kubectl's AGE: `45s`, `3m12s`, `25m`, `4h10m`, `2d`.
pub(crate) fn age(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match s {
        0..120 => format!("{s}s"),
        120..600 => format!("{}m{}s", s / 60, s % 60),
        600..10800 => format!("{}m", s / 60),
        10800..28800 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        28800..172800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(age(45.2), "45s");
        assert_eq!(age(192.0), "3m12s");
        assert_eq!(age(1500.0), "25m");
        assert_eq!(age(15000.0), "4h10m");
        assert_eq!(age(200000.0), "2d");
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"), "abcdefg");
    }
}
