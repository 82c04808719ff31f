//! The state directory: replica logs, and a record of every running replica so that a later
//! ebb can find and kill what an earlier one left behind.
//!
//! ```text
//! <root>/logs/<service>/<service>-<n>.log          stdout and stderr of replica n
//! <root>/replicas/<owner-pid>-<owner-start>/<service>-<n>.json
//! ```
//!
//! A record names the ebb process that owns the replica and the replica's first process, both
//! by PID *and* start time. [`StateDir::sweep`] kills a replica only when its owner is gone and
//! the process (or, if the first process already died, members of its process group started
//! after it) is still the one recorded, so a PID reused by an unrelated process is never
//! signalled, and replicas of another ebb that is still running are left alone.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::os::{self, ProcessId, Sig};

/// Where ebb keeps logs and replica records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

/// A replica killed by [`StateDir::sweep`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// The service it belonged to.
    pub service: String,
    /// Its replica name (`service-n`).
    pub replica: String,
    /// PID of the ebb that started it.
    pub owner_pid: u32,
    /// PIDs that were killed.
    pub killed_pids: Vec<u32>,
}

/// The record of one running replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReplicaRecord {
    pub(crate) service: String,
    pub(crate) ordinal: u32,
    /// The ebb process that started it.
    pub(crate) owner: ProcessId,
    /// Its first process, which leads its process group (pgid = pid).
    pub(crate) leader: ProcessId,
}

impl StateDir {
    /// A state directory at `root` (created when first written).
    pub fn new(root: impl Into<PathBuf>) -> StateDir {
        StateDir { root: root.into() }
    }

    /// The default location: `$EBB_STATE_DIR`, else `$XDG_STATE_HOME/ebb`, else
    /// `~/.local/state/ebb`, else `/tmp/ebb-<uid>`.
    pub fn default_root() -> PathBuf {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = var("EBB_STATE_DIR") {
            PathBuf::from(dir)
        } else if let Some(dir) = var("XDG_STATE_HOME") {
            PathBuf::from(dir).join("ebb")
        } else if let Some(home) = var("HOME") {
            PathBuf::from(home).join(".local/state/ebb")
        } else {
            PathBuf::from(format!("/tmp/ebb-{}", rustix::process::getuid().as_raw()))
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of one service's replica logs.
    pub fn log_dir(&self, service: &str) -> PathBuf {
        self.root.join("logs").join(service)
    }

    /// Log file of replica `ordinal` of `service`.
    pub fn log_file(&self, service: &str, ordinal: u32) -> PathBuf {
        self.log_dir(service)
            .join(format!("{}.log", replica_name(service, ordinal)))
    }

    /// Services that have logs, sorted.
    pub fn services_with_logs(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in read_dir_if_exists(&self.root.join("logs"))? {
            let entry = entry?;
            if entry.file_type()?.is_dir()
                && let Some(name) = entry.file_name().to_str()
            {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    /// The log files of a service's replicas, by ordinal.
    pub fn replica_logs(&self, service: &str) -> io::Result<Vec<(u32, PathBuf)>> {
        let prefix = format!("{service}-");
        let mut logs = Vec::new();
        for entry in read_dir_if_exists(&self.log_dir(service))? {
            let path = entry?.path();
            let ordinal = path
                .file_name()
                .and_then(OsStr::to_str)
                .and_then(|name| name.strip_suffix(".log"))
                .and_then(|stem| stem.strip_prefix(&prefix))
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(ordinal) = ordinal {
                logs.push((ordinal, path));
            }
        }
        logs.sort();
        Ok(logs)
    }

    fn owner_dir(&self, owner: ProcessId) -> PathBuf {
        self.root
            .join("replicas")
            .join(format!("{}-{}", owner.pid, owner.start_ticks))
    }

    fn record_file(&self, owner: ProcessId, service: &str, ordinal: u32) -> PathBuf {
        self.owner_dir(owner)
            .join(format!("{}.json", replica_name(service, ordinal)))
    }

    /// Writes (or replaces) a replica's record, atomically.
    pub(crate) fn write_record(&self, record: &ReplicaRecord) -> io::Result<()> {
        let path = self.record_file(record.owner, &record.service, record.ordinal);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        let json = serde_json::to_vec(record).map_err(io::Error::other)?;
        fs::write(&tmp, json)?;
        fs::rename(&tmp, &path)
    }

    /// Removes a replica's record; a missing record is fine.
    pub(crate) fn remove_record(&self, owner: ProcessId, service: &str, ordinal: u32) {
        let _ = fs::remove_file(self.record_file(owner, service, ordinal));
    }

    /// Removes this owner's record directory, if empty.
    pub(crate) fn remove_owner_dir(&self, owner: ProcessId) {
        let _ = fs::remove_dir(self.owner_dir(owner));
    }

    /// Kills replicas left behind by ebb processes that no longer exist, and forgets their
    /// records. Replicas of a live ebb are left alone.
    pub fn sweep(&self) -> io::Result<Vec<Leftover>> {
        let mut killed = Vec::new();
        for owner_entry in read_dir_if_exists(&self.root.join("replicas"))? {
            let owner_dir = owner_entry?.path();
            let Some(owner) = parse_owner(&owner_dir) else {
                continue;
            };
            if owner.is_alive() {
                continue;
            }
            for entry in read_dir_if_exists(&owner_dir)? {
                let path = entry?.path();
                let record = fs::read(&path)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<ReplicaRecord>(&bytes).ok());
                if let Some(record) = record {
                    let pids = kill_leftover(record.leader);
                    if !pids.is_empty() {
                        killed.push(Leftover {
                            replica: replica_name(&record.service, record.ordinal),
                            service: record.service,
                            owner_pid: owner.pid,
                            killed_pids: pids,
                        });
                    }
                }
                let _ = fs::remove_file(&path);
            }
            let _ = fs::remove_dir(&owner_dir);
        }
        Ok(killed)
    }
}

/// `service-n`.
pub fn replica_name(service: &str, ordinal: u32) -> String {
    format!("{service}-{ordinal}")
}

fn read_dir_if_exists(
    dir: &Path,
) -> io::Result<Box<dyn Iterator<Item = io::Result<fs::DirEntry>>>> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(Box::new(entries)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Box::new(std::iter::empty())),
        Err(e) => Err(e),
    }
}

fn parse_owner(dir: &Path) -> Option<ProcessId> {
    let name = dir.file_name()?.to_str()?;
    let (pid, start) = name.split_once('-')?;
    Some(ProcessId {
        pid: pid.parse().ok()?,
        start_ticks: start.parse().ok()?,
    })
}

/// Kills what is left of a replica whose first process was `leader`; returns the PIDs killed.
fn kill_leftover(leader: ProcessId) -> Vec<u32> {
    let pgid = leader.pid;
    match os::proc_info(pgid) {
        // The group's id now belongs to a process that is not ours: its group is not ours.
        Some(info) if info.id != leader && info.pgrp == pgid => return Vec::new(),
        _ => {}
    }
    // Members of our group started no earlier than its leader; a process that joined a group
    // with this id before our leader existed cannot be ours.
    let members: Vec<ProcessId> = os::group_members(pgid)
        .into_iter()
        .map(|info| info.id)
        .filter(|id| id.start_ticks >= leader.start_ticks)
        .collect();
    members
        .into_iter()
        .filter(|id| id.is_alive() && os::signal_process(id.pid, Sig::Kill).unwrap_or(false))
        .map(|id| id.pid)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt as _;
    use std::process::{Child, Command};
    use std::time::Duration;

    fn group_leader(script: &str) -> Child {
        Command::new("sh")
            .args(["-c", script])
            .process_group(0)
            .spawn()
            .expect("spawn sh")
    }

    fn exited(child: &mut Child) -> bool {
        eventually(|| child.try_wait().expect("try_wait").is_some())
    }

    /// Polls for up to 2 s: signals and forks take effect when the target next runs, which on
    /// a busy machine can be a while after the call that asked for them.
    fn eventually(mut cond: impl FnMut() -> bool) -> bool {
        (0..400).any(|_| {
            let done = cond();
            if !done {
                std::thread::sleep(Duration::from_millis(5));
            }
            done
        })
    }

    fn dead_owner() -> ProcessId {
        let mut gone = Command::new("true").spawn().expect("spawn true");
        let pid = gone.id();
        gone.wait().expect("wait");
        ProcessId {
            pid,
            start_ticks: 1,
        }
    }

    #[test]
    fn sweep_kills_leftovers_of_a_dead_owner_and_forgets_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::new(dir.path());
        let mut leader = group_leader("sleep 30 & sleep 30; wait");
        let record = ReplicaRecord {
            service: "web".into(),
            ordinal: 2,
            owner: dead_owner(),
            leader: ProcessId::current(leader.id()).expect("leader in /proc"),
        };
        state.write_record(&record).expect("write record");
        assert!(
            eventually(|| os::group_members(record.leader.pid).len() == 3),
            "the shell and its two sleeps"
        );
        let swept = state.sweep().expect("sweep");
        assert_eq!(swept.len(), 1);
        assert_eq!(swept[0].replica, "web-2");
        assert!(
            swept[0].killed_pids.len() >= 2,
            "leader and its sleeps: {swept:?}"
        );
        assert!(exited(&mut leader));
        assert!(
            eventually(|| os::group_members(record.leader.pid).is_empty()),
            "left in the group: {:?}",
            os::group_members(record.leader.pid)
        );
        assert!(
            state.sweep().expect("second sweep").is_empty(),
            "records forgotten"
        );
    }

    #[test]
    fn sweep_leaves_replicas_of_a_live_owner_and_reused_pids_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::new(dir.path());
        let mut ours = group_leader("sleep 30");
        let mut stranger = group_leader("sleep 30");
        let live_owner = ProcessId::myself().expect("self");
        state
            .write_record(&ReplicaRecord {
                service: "a".into(),
                ordinal: 1,
                owner: live_owner,
                leader: ProcessId::current(ours.id()).expect("in /proc"),
            })
            .expect("write");
        // A record whose PID now belongs to another process (different start time).
        let mut reused = ProcessId::current(stranger.id()).expect("in /proc");
        reused.start_ticks = reused.start_ticks.saturating_sub(1);
        state
            .write_record(&ReplicaRecord {
                service: "b".into(),
                ordinal: 1,
                owner: dead_owner(),
                leader: reused,
            })
            .expect("write");
        assert_eq!(state.sweep().expect("sweep"), Vec::new());
        assert!(ours.try_wait().expect("try_wait").is_none());
        assert!(stranger.try_wait().expect("try_wait").is_none());
        for child in [&mut ours, &mut stranger] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    #[test]
    fn log_files_are_listed_by_ordinal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::new(dir.path());
        for n in [10, 2, 1] {
            let path = state.log_file("model", n);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(&path, "x").expect("write");
        }
        fs::write(state.log_dir("model").join("notes.txt"), "x").expect("write");
        let ordinals: Vec<u32> = state
            .replica_logs("model")
            .expect("list")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(ordinals, [1, 2, 10]);
        assert_eq!(state.services_with_logs().expect("services"), ["model"]);
        assert!(state.replica_logs("missing").expect("list").is_empty());
    }
}
