//! A tiny helper process that kills every replica group if ebb dies without cleaning up.
//!
//! The parent-death signal reaches only a replica's first process; a model server's workers
//! (uvicorn `--workers 4`, a shell's children) would outlive a SIGKILLed ebb. The watchdog is a
//! POSIX shell loop in a process group of its own, reading from a pipe that only ebb holds
//! open. ebb writes the complete list of live replica groups on every change; when the pipe
//! closes (ebb exited, however it died) the watchdog SIGKILLs the groups of the last list. On a
//! clean shutdown ebb writes an empty list first, so nothing is killed twice.

use std::io::{self, Write as _};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

const SCRIPT: &str = r#"trap '' INT HUP TERM QUIT
groups=
while IFS= read -r line; do groups=$line; done
for g in $groups; do kill -s KILL -- "-$g" 2>/dev/null; done
"#;

#[derive(Debug)]
pub(crate) struct Watchdog {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    stdin: Option<ChildStdin>,
    child: Child,
}

impl Watchdog {
    pub(crate) fn start() -> io::Result<Watchdog> {
        let mut child = Command::new("/bin/sh")
            .args(["-c", SCRIPT, "ebb-watchdog"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(Watchdog {
            inner: Mutex::new(Inner { stdin, child }),
        })
    }

    /// The watchdog's PID (tests check that it exits).
    #[cfg(test)]
    pub(crate) fn pid(&self) -> u32 {
        self.lock().child.id()
    }

    /// Tells the watchdog which process groups are alive now.
    pub(crate) fn update(&self, groups: &[u32]) {
        let mut line = groups
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        line.push('\n');
        let mut inner = self.lock();
        if let Some(stdin) = inner.stdin.as_mut()
            && let Err(error) = stdin.write_all(line.as_bytes())
        {
            tracing::warn!(%error, "Replica watchdog is gone; replicas may outlive a killed ebb.");
            inner.stdin = None;
        }
    }

    /// Clean shutdown: nothing left to kill; let the helper exit and reap it.
    pub(crate) fn disarm(&self) {
        self.update(&[]);
        let mut inner = self.lock();
        inner.stdin = None;
        // The shell exits as soon as it reads end-of-file; bound the wait anyway.
        for _ in 0..200 {
            match inner.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        let _ = inner.child.kill();
        let _ = inner.child.wait();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::{ProcessId, proc_info};

    fn spawn_group_leader() -> Child {
        Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .expect("spawn sleep")
    }

    fn wait_dead(child: &mut Child) -> bool {
        for _ in 0..400 {
            if child.try_wait().expect("try_wait").is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn closing_the_pipe_kills_the_last_listed_groups_only() {
        let mut listed = spawn_group_leader();
        let mut unlisted = spawn_group_leader();
        let dog = Watchdog::start().expect("start watchdog");
        dog.update(&[unlisted.id()]);
        dog.update(&[listed.id()]);
        // Dropping the stdin is what ebb's death does to the pipe.
        dog.lock().stdin = None;
        assert!(wait_dead(&mut listed), "the listed group was killed");
        assert!(unlisted.try_wait().expect("try_wait").is_none());
        assert!(ProcessId::current(unlisted.id()).is_some());
        let _ = unlisted.kill();
        let _ = unlisted.wait();
    }

    #[test]
    fn disarm_kills_nothing_and_reaps_the_helper() {
        let mut child = spawn_group_leader();
        let dog = Watchdog::start().expect("start watchdog");
        let helper = dog.pid();
        dog.update(&[child.id()]);
        dog.disarm();
        assert!(proc_info(helper).is_none(), "helper exited and was reaped");
        assert!(child.try_wait().expect("try_wait").is_none());
        let _ = child.kill();
        let _ = child.wait();
    }
}
