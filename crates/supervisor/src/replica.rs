//! One replica's task: start its process, probe it, restart it after crashes, and stop it in
//! order (out of the pool, drain, SIGTERM, SIGKILL) when told to.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::backoff::CrashBackoff;
use crate::check::{self, Target};
use crate::os::{self, ProcessId, Sig};
use crate::probe::{FastIntervals, Probes, Verdict};
use crate::set::SetShared;
use crate::spec::{ProbeKind, ReplicaSpec};
use crate::state::ReplicaRecord;
use crate::status::{EventKind, LastExit, ReplicaEvent, ReplicaPhase};
use crate::supervisor::Shared;

/// After SIGTERM a process always gets at least this long before SIGKILL, even when draining
/// used up the grace period (the kubelet's minimum after a preStop hook).
pub(crate) const MIN_TERM_GRACE: Duration = Duration::from_secs(2);

/// How long to wait for a SIGKILLed process to be reaped before giving up on it.
const REAP_BOUND: Duration = Duration::from_secs(10);

/// What a replica's task is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplicaCommand {
    /// Leave: drain, then stop. (The status is already Terminating.)
    Terminate,
    /// No requests left in flight: stop without waiting for the grace period.
    Drained,
}

/// A running process of the replica.
struct Process {
    child: Child,
    pid: u32,
    leader: ProcessId,
    port: u16,
    started_at: Instant,
}

/// How a process's supervision ended.
enum Ended {
    /// The replica was told to leave and its process is gone.
    Stopped,
    /// The process exited (or was killed after a failed probe); restart it.
    Exited { ran_for: Duration },
}

pub(crate) struct Replica {
    sup: Arc<Shared>,
    set: Arc<SetShared>,
    ordinal: u32,
    name: String,
    commands: mpsc::UnboundedReceiver<ReplicaCommand>,
    terminating: bool,
    drained: bool,
    restarts: u32,
}

impl Replica {
    pub(crate) fn new(
        sup: Arc<Shared>,
        set: Arc<SetShared>,
        ordinal: u32,
        name: String,
        commands: mpsc::UnboundedReceiver<ReplicaCommand>,
    ) -> Self {
        Replica {
            sup,
            set,
            ordinal,
            name,
            commands,
            terminating: false,
            drained: false,
            restarts: 0,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut backoff = CrashBackoff::new(self.sup.config.backoff);
        // A replica created just before a shutdown never starts a process.
        while !self.sup.shutdown.is_cancelled() {
            let ran_for = match self.start().await {
                Some(process) => match self.supervise(process).await {
                    Ended::Stopped => break,
                    Ended::Exited { ran_for } => ran_for,
                },
                None => Duration::ZERO,
            };
            let delay = backoff.after_exit(ran_for);
            if !self.wait_to_restart(delay).await {
                break;
            }
            self.restarts = self.restarts.saturating_add(1);
        }
        let how = self
            .set
            .status
            .borrow()
            .iter()
            .find(|s| s.ordinal == self.ordinal)
            .and_then(|s| s.last_exit.as_ref().map(LastExit::describe))
            .map(|text| format!(" (its process {text})"))
            .unwrap_or_default();
        self.set.remove(self.ordinal, &self.name);
        self.event(
            EventKind::Removed,
            format!("Replica {} is gone{how}", self.name),
        );
    }

    fn spec(&self) -> &ReplicaSpec {
        &self.set.spec
    }

    fn event(&self, kind: EventKind, message: String) {
        self.set.emit(ReplicaEvent {
            at: Instant::now(),
            service: self.set.service.clone(),
            replica: self.name.clone(),
            kind,
            message,
        });
    }

    /// Starts a process; `None` (with status and event published) when it cannot be started.
    async fn start(&mut self) -> Option<Process> {
        let port = match self.sup.allocate_port() {
            Ok(port) => port,
            Err(e) => {
                self.start_failed(format!("no free port: {e}"));
                return None;
            }
        };
        match self.spawn(port).await {
            Ok(process) => Some(process),
            Err(message) => {
                self.sup.release_port(port);
                self.start_failed(message);
                None
            }
        }
    }

    async fn spawn(&mut self, port: u16) -> Result<Process, String> {
        let spec = self.spec().clone();
        if let Some(dir) = &spec.working_dir
            && !dir.is_dir()
        {
            return Err(format!(
                "working directory {} does not exist",
                dir.display()
            ));
        }
        let log_path = self.sup.state.log_file(&self.set.service, self.ordinal);
        let log = open_log(&log_path, self.restarts == 0)
            .map_err(|e| format!("cannot open log file {}: {e}", log_path.display()))?;
        let stderr = log
            .try_clone()
            .map_err(|e| format!("cannot open log file {}: {e}", log_path.display()))?;
        let port_text = port.to_string();
        let mut cmd = tokio::process::Command::new(&spec.program);
        cmd.args(spec.args.iter().map(|a| a.replace("{port}", &port_text)))
            .envs(
                spec.env
                    .iter()
                    .map(|(k, v)| (k, v.replace("{port}", &port_text))),
            )
            .env("PORT", &port_text)
            .env("EBB_SERVICE", &self.set.service)
            .env("EBB_REPLICA", &self.name)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true);
        if let Some(dir) = &spec.working_dir {
            cmd.current_dir(dir);
        }
        os::isolate(&mut cmd);
        // Start-to-ready counts from before the fork: the process may run before we hear back.
        let started_at = Instant::now();
        let child = self
            .sup
            .spawner
            .spawn(cmd)
            .await
            .map_err(|e| describe_spawn_error(&spec.program, &e))?;
        let pid = child
            .id()
            .ok_or_else(|| "the process exited before its PID was read".to_string())?;
        // The process is not reaped until we wait for it, so its /proc entry exists.
        let leader = ProcessId::current(pid).unwrap_or(ProcessId {
            pid,
            start_ticks: 0,
        });
        self.sup.register_group(&self.name, pid);
        let record = ReplicaRecord {
            service: self.set.service.clone(),
            ordinal: self.ordinal,
            owner: self.sup.owner,
            leader,
        };
        if let Err(error) = self.sup.state.write_record(&record) {
            tracing::warn!(replica = %self.name, %error, "Cannot record replica; a killed ebb may leave it behind.");
        }
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let restarts = self.restarts;
        self.set.update(self.ordinal, |s| {
            s.phase = ReplicaPhase::Running;
            s.ready = false;
            s.address = Some(address);
            s.pid = Some(pid);
            s.restarts = restarts;
            s.message = None;
            s.started_at = Some(started_at);
            s.ready_at = None;
            s.restart_at = None;
        });
        self.event(
            EventKind::Started,
            format!("Started replica {} (pid {pid}) on {address}", self.name),
        );
        Ok(Process {
            child,
            pid,
            leader,
            port,
            started_at,
        })
    }

    fn start_failed(&mut self, message: String) {
        let log_path = self.sup.state.log_file(&self.set.service, self.ordinal);
        // Leave the reason where `ebb logs` looks, since the process never wrote anything.
        if let Ok(mut log) = open_log(&log_path, self.restarts == 0) {
            let _ = writeln!(log, "[ebb] cannot start replica {}: {message}", self.name);
        }
        let now = Instant::now();
        let restarts = self.restarts;
        let exit = LastExit {
            reason: "StartError",
            exit_code: 128,
            signal: None,
            message: Some(message.clone()),
            started_at: None,
            finished_at: now,
        };
        self.set.update(self.ordinal, |s| {
            s.ready = false;
            s.address = None;
            s.pid = None;
            s.restarts = restarts;
            s.message = Some(message.clone());
            s.last_exit = Some(exit);
            s.started_at = None;
        });
        self.event(
            EventKind::FailedToStart,
            format!("Cannot start replica {}: {message}", self.name),
        );
    }

    /// Watches a running process: its exit, its probes, and commands.
    async fn supervise(&mut self, mut process: Process) -> Ended {
        let sup = Arc::clone(&self.sup);
        let spec = self.spec().clone();
        let fast = FastIntervals {
            network: sup.config.fast_probe_interval,
            exec: sup.config.fast_exec_probe_interval,
        };
        let mut probes = Probes::new(&spec, fast);
        let target = Target {
            port: process.port,
            env: &spec.env,
            working_dir: spec.working_dir.as_ref(),
            spawner: &sup.spawner,
        };
        loop {
            let next = probes.next().map(|(index, due)| {
                let probe = probes.active[index].probe();
                (index, due, probe.action.clone(), probe.timeout)
            });
            let started_at = process.started_at;
            let probe_run = async {
                let Some((index, due, action, timeout)) = &next else {
                    return std::future::pending().await;
                };
                sleep_until(later(started_at, *due)).await;
                let begin = started_at.elapsed();
                let result = check::run(action, *timeout, &target).await;
                (*index, begin, started_at.elapsed(), result)
            };
            tokio::select! {
                biased;
                () = sup.shutdown.cancelled(), if !self.terminating => {
                    self.terminating = true;
                    self.drained = true;
                    self.mark_terminating();
                    return self.stop(process, "ebb is shutting down").await;
                }
                command = self.commands.recv() => match command {
                    Some(ReplicaCommand::Drained) => self.drained = true,
                    Some(ReplicaCommand::Terminate) | None => {
                        self.terminating = true;
                        return self.stop(process, "scale down").await;
                    }
                },
                status = process.child.wait() => {
                    return self.exited(process, status, None);
                }
                (index, begin, end, result) = probe_run => {
                    let probe = &mut probes.active[index];
                    let kind = probe.kind();
                    match (kind, probe.record(begin, end, result.is_ok())) {
                        (ProbeKind::Readiness, Some(Verdict::Passed)) => self.became_ready(&process),
                        (ProbeKind::Readiness, Some(Verdict::Failed)) => {
                            self.set.update(self.ordinal, |s| s.ready = false);
                            self.event(EventKind::Unhealthy, format!(
                                "Readiness probe failed: {}", result.err().unwrap_or_default()));
                        }
                        (ProbeKind::Startup, Some(Verdict::Passed)) => probes.startup_passed(end),
                        (ProbeKind::Startup | ProbeKind::Liveness, Some(Verdict::Failed)) => {
                            let which = if kind == ProbeKind::Startup { "Startup" } else { "Liveness" };
                            let why = format!(
                                "{which} probe failed: {}",
                                result.err().unwrap_or_default()
                            );
                            self.event(EventKind::Unhealthy, why.clone());
                            return self.kill_for_restart(process, why).await;
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn became_ready(&mut self, process: &Process) {
        let now = Instant::now();
        self.set.update(self.ordinal, |s| {
            s.ready = true;
            s.ready_at = Some(now);
        });
        let after = now.saturating_duration_since(process.started_at);
        self.event(
            EventKind::Ready,
            format!(
                "Replica {} is ready after {:.3}s on 127.0.0.1:{}",
                self.name,
                after.as_secs_f64(),
                process.port
            ),
        );
    }

    fn mark_terminating(&self) {
        self.set.update(self.ordinal, |s| {
            s.phase = ReplicaPhase::Terminating;
            s.ready = false;
        });
    }

    /// The process exited on its own (or after we killed it for a failed probe).
    fn exited(
        &mut self,
        process: Process,
        status: io::Result<ExitStatus>,
        message: Option<String>,
    ) -> Ended {
        let now = Instant::now();
        let ran_for = now.saturating_duration_since(process.started_at);
        self.clean_up(&process);
        let exit = LastExit::from_status(status.ok(), message, process.started_at, now);
        let text = exit.describe();
        self.set.update(self.ordinal, |s| {
            s.ready = false;
            s.address = None;
            s.pid = None;
            s.last_exit = Some(exit);
        });
        if self.terminating {
            return Ended::Stopped;
        }
        self.event(
            EventKind::Exited,
            format!(
                "Replica {} {text} after {:.3}s",
                self.name,
                ran_for.as_secs_f64()
            ),
        );
        Ended::Exited { ran_for }
    }

    /// After a failed startup or liveness probe: stop the process (no drain) and restart it.
    async fn kill_for_restart(&mut self, mut process: Process, why: String) -> Ended {
        self.set.update(self.ordinal, |s| s.ready = false);
        self.event(
            EventKind::Killing,
            format!(
                "Stopping replica {}: {why}; it will be restarted",
                self.name
            ),
        );
        let status = self.terminate_process(&mut process, false).await;
        self.exited(process, status, Some(why))
    }

    /// Scale-down or shutdown: out of the pool already; drain, SIGTERM, SIGKILL.
    async fn stop(&mut self, mut process: Process, why: &str) -> Ended {
        let grace = self.spec().termination_grace_period;
        self.event(
            EventKind::Killing,
            format!(
                "Stopping replica {} ({why}, grace period {:.0}s)",
                self.name,
                grace.as_secs_f64()
            ),
        );
        let status = self.terminate_process(&mut process, true).await;
        self.exited(process, status, None)
    }

    /// Drains (when asked), then SIGTERM to the group, then SIGKILL at the end of the grace
    /// period, and waits for the process to be reaped.
    async fn terminate_process(
        &mut self,
        process: &mut Process,
        drain: bool,
    ) -> io::Result<ExitStatus> {
        let grace = self.spec().termination_grace_period;
        let deadline = later(Instant::now(), grace);
        if drain {
            while !self.drained {
                tokio::select! {
                    biased;
                    status = process.child.wait() => return status,
                    () = self.sup.shutdown.cancelled() => break,
                    () = sleep_until(deadline) => break,
                    command = self.commands.recv() => match command {
                        Some(ReplicaCommand::Drained) | None => self.drained = true,
                        Some(ReplicaCommand::Terminate) => self.terminating = true,
                    },
                }
            }
        }
        if grace.is_zero() {
            signal(process.pid, Sig::Kill);
        } else {
            signal(process.pid, Sig::Term);
            let kill_at = deadline.max(later(Instant::now(), MIN_TERM_GRACE));
            tokio::select! {
                status = process.child.wait() => return status,
                () = sleep_until(kill_at) => signal(process.pid, Sig::Kill),
            }
        }
        match tokio::time::timeout(REAP_BOUND, process.child.wait()).await {
            Ok(status) => status,
            Err(_) => Err(io::Error::other(format!(
                "process {} did not exit {REAP_BOUND:?} after SIGKILL",
                process.pid
            ))),
        }
    }

    /// The process is reaped: kill what is left of its group, forget its record and port.
    fn clean_up(&self, process: &Process) {
        // The leader is reaped, so signal the remaining members one by one, checked by start
        // time, rather than a group id that could, in theory, be reused.
        for member in os::group_members(process.pid) {
            if member.id.start_ticks >= process.leader.start_ticks {
                let _ = os::signal_process(member.id.pid, Sig::Kill);
            }
        }
        self.sup.unregister_group(&self.name);
        self.sup
            .state
            .remove_record(self.sup.owner, &self.set.service, self.ordinal);
        self.sup.release_port(process.port);
    }

    /// Waits out the crash backoff. False when the replica should go away instead.
    async fn wait_to_restart(&mut self, delay: Duration) -> bool {
        if self.terminating || self.sup.shutdown.is_cancelled() {
            return false;
        }
        let restart_at = later(Instant::now(), delay);
        if delay.is_zero() {
            self.set
                .update(self.ordinal, |s| s.phase = ReplicaPhase::Pending);
        } else {
            self.set.update(self.ordinal, |s| {
                s.phase = ReplicaPhase::CrashLoopBackOff;
                s.restart_at = Some(restart_at);
            });
            self.event(
                EventKind::BackOff,
                format!(
                    "Back-off {:.0}s restarting failed replica {}",
                    delay.as_secs_f64(),
                    self.name
                ),
            );
        }
        loop {
            tokio::select! {
                biased;
                () = self.sup.shutdown.cancelled() => return false,
                command = self.commands.recv() => match command {
                    Some(ReplicaCommand::Drained) => self.drained = true,
                    Some(ReplicaCommand::Terminate) | None => {
                        self.terminating = true;
                        return false;
                    }
                },
                () = sleep_until(restart_at) => return true,
            }
        }
    }
}

/// `at + wait`, or about a century from `at` when a configured duration is absurdly long
/// (`Instant + Duration` would panic on overflow).
fn later(at: Instant, wait: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    at.checked_add(wait.min(CENTURY)).unwrap_or(at)
}

fn signal(pgid: u32, sig: Sig) {
    if let Err(error) = os::signal_group(pgid, sig) {
        tracing::warn!(pgid, ?sig, %error, "Cannot signal replica.");
    }
}

fn open_log(path: &std::path::Path, truncate: bool) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if truncate {
        File::create(path)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

fn describe_spawn_error(program: &str, error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::NotFound if program.contains('/') => {
            format!("program {program:?} does not exist")
        }
        io::ErrorKind::NotFound => {
            format!("program {program:?} not found in PATH")
        }
        io::ErrorKind::PermissionDenied => {
            format!("program {program:?} is not executable (permission denied)")
        }
        _ => format!("cannot run {program:?}: {error}"),
    }
}
