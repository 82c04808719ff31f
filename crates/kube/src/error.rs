//! The controller's errors.

/// Why a read or a write against the cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// This replica does not hold the lease: every write is refused.
    #[error(
        "not the leader: this controller replica does not hold the lease, so it writes nothing"
    )]
    NotLeader,
    /// The object changed since it was read (HTTP 409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The API server answered with an error.
    #[error("{0}")]
    Api(String),
    /// An HTTP endpoint outside the API server (Prometheus, a gateway) failed.
    #[error("{0}")]
    Http(String),
    /// A response could not be read.
    #[error("unexpected response from {what}: {error}")]
    Decode {
        /// What was read.
        what: String,
        /// The decoder's complaint.
        error: String,
    },
    /// The target's kind is not served by the cluster.
    #[error("cannot scale {0}")]
    UnknownKind(String),
    /// A port could not be listened on.
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The system's complaint.
        error: std::io::Error,
    },
}

impl Error {
    /// A bounded label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::NotLeader => "not_leader",
            Error::Conflict(_) => "conflict",
            Error::Api(_) => "api",
            Error::Http(_) => "http",
            Error::Decode { .. } => "decode",
            Error::UnknownKind(_) => "unknown_kind",
            Error::Listen { .. } => "listen",
        }
    }
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        match &e {
            kube::Error::Api(status) if status.code == 409 => {
                Error::Conflict(status.message.clone())
            }
            kube::Error::Api(status) => Error::Api(if status.message.is_empty() {
                format!("the server answered {} {}", status.code, status.reason)
            } else {
                status.message.clone()
            }),
            other => Error::Api(other.to_string()),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
