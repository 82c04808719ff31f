//! The operating-system calls that need care: process groups, the parent-death signal,
//! signals to groups, and telling a process apart from a later one that reused its PID.
//!
//! This is the crate's one module allowed `unsafe`: `pre_exec` runs a closure in the forked
//! child before `exec`, where only async-signal-safe calls are allowed.

#![allow(unsafe_code)]

use std::io;

use rustix::process::{Pid, Signal};

/// Puts the child in a process group of its own (so a signal reaches its whole tree, and the
/// terminal's Ctrl-C reaches only ebb, which then stops replicas in order) and asks the kernel
/// to SIGKILL it if the thread that spawned it dies. That thread is the supervisor's spawner
/// thread, which lives exactly as long as the supervisor (see `spawner`): the
/// `PR_SET_PDEATHSIG` pitfall with short-lived threads does not apply.
pub(crate) fn isolate(cmd: &mut tokio::process::Command) {
    cmd.process_group(0);
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs in the child between fork and exec. It only makes two raw
    // system calls through rustix (prctl and getppid), which do not allocate or take locks,
    // and builds an io::Error from an errno value, which does not allocate either.
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            // The parent may have died between fork and prctl; then no signal would come.
            if rustix::process::getppid() != Some(parent) {
                return Err(rustix::io::Errno::SRCH.into());
            }
            Ok(())
        });
    }
}

/// Which signal to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sig {
    Term,
    Kill,
}

impl Sig {
    fn rustix(self) -> Signal {
        match self {
            Sig::Term => Signal::TERM,
            Sig::Kill => Signal::KILL,
        }
    }
}

/// Signals every process in group `pgid`. `Ok(false)` when the group no longer exists.
pub(crate) fn signal_group(pgid: u32, sig: Sig) -> io::Result<bool> {
    let Some(pid) = pid(pgid) else {
        return Ok(false);
    };
    match rustix::process::kill_process_group(pid, sig.rustix()) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Signals one process. `Ok(false)` when it no longer exists.
pub(crate) fn signal_process(pid_raw: u32, sig: Sig) -> io::Result<bool> {
    let Some(pid) = pid(pid_raw) else {
        return Ok(false);
    };
    match rustix::process::kill_process(pid, sig.rustix()) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::SRCH) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn pid(raw: u32) -> Option<Pid> {
    // Never 0 or negative: kill(0) and kill(-1) would signal far more than one group.
    i32::try_from(raw).ok().and_then(Pid::from_raw)
}

/// A process as it can be told apart from a later one with the same PID: the kernel's start
/// time (clock ticks since boot) never repeats for a PID within one boot.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub(crate) struct ProcessId {
    pub(crate) pid: u32,
    pub(crate) start_ticks: u64,
}

/// What /proc says about one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcInfo {
    pub(crate) id: ProcessId,
    pub(crate) pgrp: u32,
    pub(crate) zombie: bool,
}

impl ProcessId {
    /// The process with this PID now, if any (zombies included).
    pub(crate) fn current(pid: u32) -> Option<ProcessId> {
        proc_info(pid).map(|info| info.id)
    }

    /// This process.
    pub(crate) fn myself() -> Option<ProcessId> {
        ProcessId::current(std::process::id())
    }

    /// True when this very process still exists and has not exited.
    pub(crate) fn is_alive(&self) -> bool {
        proc_info(self.pid).is_some_and(|info| info.id == *self && !info.zombie)
    }
}

/// Reads `/proc/<pid>/stat`.
pub(crate) fn proc_info(pid: u32) -> Option<ProcInfo> {
    let stat = procfs::process::Process::new(i32::try_from(pid).ok()?)
        .ok()?
        .stat()
        .ok()?;
    Some(ProcInfo {
        id: ProcessId {
            pid,
            start_ticks: stat.starttime,
        },
        pgrp: u32::try_from(stat.pgrp).ok()?,
        zombie: stat.state == 'Z',
    })
}

/// Every live (non-zombie) process whose process group is `pgid`.
pub(crate) fn group_members(pgid: u32) -> Vec<ProcInfo> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.filter_map(Result::ok)
        .filter_map(|p| p.stat().ok())
        .filter(|s| u32::try_from(s.pgrp).ok() == Some(pgid) && s.state != 'Z')
        .filter_map(|s| {
            Some(ProcInfo {
                id: ProcessId {
                    pid: u32::try_from(s.pid).ok()?,
                    start_ticks: s.starttime,
                },
                pgrp: pgid,
                zombie: false,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_zero_is_never_signalled() {
        assert!(pid(0).is_none());
        assert!(pid(u32::MAX).is_none());
        assert_eq!(signal_group(0, Sig::Term).ok(), Some(false));
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_not() {
        let me = ProcessId::myself().expect("own /proc entry");
        assert!(me.is_alive());
        let impostor = ProcessId {
            start_ticks: me.start_ticks + 1,
            ..me
        };
        assert!(!impostor.is_alive());
    }
}
