//! What callers see of replicas: a status per replica (published on a watch channel) and
//! events (on a broadcast channel), in the words `kubectl get pods` and `kubectl describe`
//! use.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

/// Where a replica is in its life, as kubectl's STATUS column says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplicaPhase {
    /// Created; its process is being started.
    Pending,
    /// Its process runs (see `ready` for whether it takes requests).
    Running,
    /// Its process exited and it waits out the restart backoff.
    CrashLoopBackOff,
    /// Leaving: out of the pool, draining, then SIGTERM, then SIGKILL.
    Terminating,
}

impl ReplicaPhase {
    /// The kubectl word.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaPhase::Pending => "Pending",
            ReplicaPhase::Running => "Running",
            ReplicaPhase::CrashLoopBackOff => "CrashLoopBackOff",
            ReplicaPhase::Terminating => "Terminating",
        }
    }
}

impl fmt::Display for ReplicaPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a replica's previous process ended (`kubectl describe pod`'s "Last State").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastExit {
    /// `Completed` (exit 0), `Error` (anything else) or `StartError` (could not be started).
    pub reason: &'static str,
    /// The exit code; 128 + signal number for a process killed by a signal, as kubectl shows.
    pub exit_code: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// For start errors and probe kills: what happened.
    pub message: Option<String>,
    /// When the process started (none for start errors).
    pub started_at: Option<Instant>,
    /// When it ended.
    pub finished_at: Instant,
}

impl LastExit {
    /// From a process's exit status (`None` when it could not be waited for).
    pub(crate) fn from_status(
        status: Option<std::process::ExitStatus>,
        message: Option<String>,
        started_at: Instant,
        finished_at: Instant,
    ) -> LastExit {
        use std::os::unix::process::ExitStatusExt as _;
        let code = status.and_then(|s| s.code());
        let signal = status.and_then(|s| s.signal());
        let exit_code = code.or(signal.map(|s| 128 + s)).unwrap_or(-1);
        LastExit {
            reason: if exit_code == 0 { "Completed" } else { "Error" },
            exit_code,
            signal,
            message,
            started_at: Some(started_at),
            finished_at,
        }
    }

    /// `exited with code 3`, `was killed by signal 9`.
    pub fn describe(&self) -> String {
        match self.signal {
            Some(signal) => format!("was killed by signal {signal}"),
            None => format!("exited with code {}", self.exit_code),
        }
    }
}

/// One replica, as a gateway, `ebb get pods` or a test needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaStatus {
    /// `service-n`.
    pub name: String,
    /// `n`.
    pub ordinal: u32,
    /// Where it is in its life.
    pub phase: ReplicaPhase,
    /// Takes requests: its readiness probe passes and it is not terminating.
    pub ready: bool,
    /// Where it listens (127.0.0.1 and its port) while a process runs.
    pub address: Option<SocketAddr>,
    /// PID of its process, which leads its process group.
    pub pid: Option<u32>,
    /// How many times its process was restarted.
    pub restarts: u32,
    /// How the previous process ended.
    pub last_exit: Option<LastExit>,
    /// Why it is not running, when there is something to say (start errors).
    pub message: Option<String>,
    /// When the replica was created (the scale-up order).
    pub created_at: Instant,
    /// When its current process was started.
    pub started_at: Option<Instant>,
    /// When it last became ready.
    pub ready_at: Option<Instant>,
    /// While in CrashLoopBackOff: when it restarts.
    pub restart_at: Option<Instant>,
}

impl ReplicaStatus {
    pub(crate) fn new(name: String, ordinal: u32, now: Instant) -> Self {
        ReplicaStatus {
            name,
            ordinal,
            phase: ReplicaPhase::Pending,
            ready: false,
            address: None,
            pid: None,
            restarts: 0,
            last_exit: None,
            message: None,
            created_at: now,
            started_at: None,
            ready_at: None,
            restart_at: None,
        }
    }

    /// Cold-start time of the current process: from its start to its first readiness.
    pub fn start_to_ready(&self) -> Option<Duration> {
        Some(self.ready_at?.saturating_duration_since(self.started_at?))
    }
}

/// Something that happened to a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A process was started.
    Started,
    /// The process could not be started (no such program, not executable, ...).
    FailedToStart,
    /// The readiness probe passed: the replica takes requests.
    Ready,
    /// A probe failed: readiness (the replica leaves the pool), or startup or liveness (the
    /// process is restarted).
    Unhealthy,
    /// The process exited on its own.
    Exited,
    /// Waiting before restarting a process that exited.
    BackOff,
    /// Stopping the process (scale-down, failed probe, shutdown).
    Killing,
    /// The replica is gone.
    Removed,
}

impl EventKind {
    /// The reason word kubectl shows in its EVENTS table.
    pub fn reason(self) -> &'static str {
        match self {
            EventKind::Started => "Started",
            EventKind::FailedToStart => "Failed",
            EventKind::Ready => "Ready",
            EventKind::Unhealthy => "Unhealthy",
            EventKind::Exited => "Exited",
            EventKind::BackOff => "BackOff",
            EventKind::Killing => "Killing",
            EventKind::Removed => "Removed",
        }
    }

    /// Normal or Warning, as Kubernetes types its events.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            EventKind::FailedToStart
                | EventKind::Unhealthy
                | EventKind::Exited
                | EventKind::BackOff
        )
    }
}

/// An event, with a message for people.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaEvent {
    /// When.
    pub at: Instant,
    /// Which service.
    pub service: String,
    /// Which replica.
    pub replica: String,
    /// What.
    pub kind: EventKind,
    /// Details: `Started replica web-1 (pid 4242) on 127.0.0.1:40123`.
    pub message: String,
}
