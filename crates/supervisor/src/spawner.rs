//! One long-lived thread that forks every replica.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked a child exits, not the process. Tokio
//! may run a task on a thread that later goes away (`spawn_blocking` pool threads, a worker
//! handed over by `block_in_place`), which would kill healthy replicas at random. Spawning from
//! this dedicated thread makes the rule simple: replicas die when the supervisor's spawner
//! thread does, which is when the supervisor is gone or the process dies, SIGKILL included.

use std::io;
use std::sync::mpsc;
use std::thread;

use tokio::process::{Child, Command};
use tokio::sync::oneshot;

type Job = (Command, oneshot::Sender<io::Result<Child>>);

/// Handle to the spawner thread; the thread ends when the last handle is dropped.
#[derive(Debug)]
pub(crate) struct Spawner {
    jobs: mpsc::Sender<Job>,
}

impl Spawner {
    /// Starts the thread; children are registered with the runtime of `runtime`.
    pub(crate) fn start(runtime: tokio::runtime::Handle) -> io::Result<Spawner> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("ebb-spawner".into())
            .spawn(move || {
                let _context = runtime.enter();
                for (mut command, reply) in inbox {
                    // If the requester has gone, the child is dropped and killed (kill_on_drop).
                    let _ = reply.send(command.spawn());
                }
            })?;
        Ok(Spawner { jobs })
    }

    /// Spawns `command` on the spawner thread.
    pub(crate) async fn spawn(&self, command: Command) -> io::Result<Child> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((command, reply))
            .map_err(|_| io::Error::other("the supervisor's spawner thread has stopped"))?;
        answer
            .await
            .map_err(|_| io::Error::other("the supervisor's spawner thread has stopped"))?
    }
}
