//! The supervisor: owns the state directory, the spawner thread, the watchdog and the usage
//! sampler, and hands out one [`ReplicaSet`] per service.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backoff::BackoffPolicy;
use crate::os::{self, ProcessId, Sig};
use crate::set::{ReplicaSet, SetShared};
use crate::spawner::Spawner;
use crate::spec::ReplicaSpec;
use crate::state::{Leftover, StateDir};
use crate::usage::{self, GroupSample, ReplicaUsage};
use crate::watchdog::Watchdog;

/// How the supervisor runs replicas. [`SupervisorConfig::new`] gives the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisorConfig {
    /// Logs and replica records ([`StateDir::default_root`] is the usual choice).
    pub state_dir: PathBuf,
    /// Crash restart delays (default: the kubelet's 10 s doubling to 5 min).
    pub backoff: BackoffPolicy,
    /// How often HTTP and TCP startup and readiness probes run until their first success
    /// (default 5 ms: a refused loopback connect costs microseconds, and this interval is most
    /// of the delay between a replica opening its port and ebb knowing it).
    pub fast_probe_interval: Duration,
    /// The same for exec probes, which start a process each time (default 100 ms).
    pub fast_exec_probe_interval: Duration,
    /// How often CPU and memory are sampled; usage is the rate between the last two samples
    /// (default 15 s, metrics-server's resolution).
    pub usage_interval: Duration,
    /// Start the watchdog that kills all replicas if this process dies (default true).
    pub watchdog: bool,
}

impl SupervisorConfig {
    /// Defaults, with logs and records under `state_dir`.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        SupervisorConfig {
            state_dir: state_dir.into(),
            backoff: BackoffPolicy::default(),
            fast_probe_interval: Duration::from_millis(5),
            fast_exec_probe_interval: Duration::from_millis(100),
            usage_interval: Duration::from_secs(15),
            watchdog: true,
        }
    }
}

/// Why the supervisor could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Called outside a tokio runtime.
    #[error("the supervisor must be started inside a tokio runtime")]
    NoRuntime,
    /// The state directory is not usable.
    #[error("cannot use the state directory {path}: {source}")]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// A service name that cannot name files and replicas.
    #[error(
        "invalid service name {0:?}: use 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit, like \"custom-model\""
    )]
    InvalidName(String),
    /// The service is already supervised.
    #[error("service {0:?} is already supervised")]
    DuplicateService(String),
    /// The spec breaks a rule.
    #[error("invalid spec for service {service:?}: {}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidSpec {
        /// The service.
        service: String,
        /// Every broken rule.
        errors: Vec<ebb_core::FieldError>,
    },
    /// A helper process or thread could not be started.
    #[error("cannot start the supervisor's {what}: {source}")]
    Start {
        /// Which helper.
        what: &'static str,
        /// What went wrong.
        source: io::Error,
    },
}

/// State shared by the supervisor, its replica sets and their replica tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SupervisorConfig,
    pub(crate) state: StateDir,
    /// This process, as recorded in replica records.
    pub(crate) owner: ProcessId,
    pub(crate) spawner: Spawner,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tasks: TaskTracker,
    watchdog: Option<Watchdog>,
    /// Live process groups by replica name.
    groups: Mutex<BTreeMap<String, u32>>,
    ports: Mutex<BTreeSet<u16>>,
    sets: Mutex<BTreeMap<String, Arc<SetShared>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// A replica's process group started.
    pub(crate) fn register_group(&self, replica: &str, pgid: u32) {
        let mut groups = lock(&self.groups);
        groups.insert(replica.to_string(), pgid);
        self.tell_watchdog(&groups);
    }

    /// A replica's process group is gone.
    pub(crate) fn unregister_group(&self, replica: &str) {
        let mut groups = lock(&self.groups);
        if groups.remove(replica).is_some() {
            self.tell_watchdog(&groups);
        }
    }

    fn tell_watchdog(&self, groups: &BTreeMap<String, u32>) {
        if let Some(dog) = &self.watchdog {
            dog.update(&groups.values().copied().collect::<Vec<_>>());
        }
    }

    /// A free loopback port that no other replica of this supervisor holds.
    pub(crate) fn allocate_port(&self) -> io::Result<u16> {
        let mut ports = lock(&self.ports);
        for _ in 0..32 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
                .local_addr()?
                .port();
            if ports.insert(port) {
                return Ok(port);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "no free loopback port found",
        ))
    }

    pub(crate) fn release_port(&self, port: u16) {
        lock(&self.ports).remove(&port);
    }

    /// SIGKILL to every live replica group: the last resort when the supervisor goes away
    /// without a clean shutdown.
    fn kill_all_groups(&self) {
        for (replica, pgid) in lock(&self.groups).iter() {
            if let Err(error) = os::signal_group(*pgid, Sig::Kill) {
                tracing::warn!(%replica, %error, "Cannot kill replica.");
            }
        }
    }

    fn groups_snapshot(&self) -> BTreeMap<String, u32> {
        lock(&self.groups).clone()
    }

    fn sets_snapshot(&self) -> Vec<Arc<SetShared>> {
        lock(&self.sets).values().cloned().collect()
    }
}

/// Runs replicas as local processes. Dropping it kills every replica at once (SIGKILL);
/// [`Supervisor::shutdown`] stops them gracefully.
#[derive(Debug)]
pub struct Supervisor {
    shared: Arc<Shared>,
    leftovers: Vec<Leftover>,
    shut_down: AtomicBool,
}

impl Supervisor {
    /// Sweeps leftovers of earlier, dead ebb processes from the state directory, then starts
    /// the spawner thread, the watchdog and the usage sampler. Must be called inside a tokio
    /// runtime, which the replicas' tasks then run on.
    pub fn start(config: SupervisorConfig) -> Result<Supervisor, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let state = StateDir::new(&config.state_dir);
        let state_error = |source| Error::StateDir {
            path: config.state_dir.clone(),
            source,
        };
        std::fs::create_dir_all(state.root()).map_err(state_error)?;
        let leftovers = state.sweep().map_err(state_error)?;
        for leftover in &leftovers {
            tracing::warn!(
                replica = %leftover.replica,
                owner_pid = leftover.owner_pid,
                pids = ?leftover.killed_pids,
                "Killed a replica left behind by an earlier ebb."
            );
        }
        let owner = ProcessId::myself().ok_or_else(|| {
            state_error(io::Error::other("cannot read this process's /proc entry"))
        })?;
        let spawner = Spawner::start(runtime).map_err(|source| Error::Start {
            what: "spawner thread",
            source,
        })?;
        let watchdog = if config.watchdog {
            Some(Watchdog::start().map_err(|source| Error::Start {
                what: "watchdog",
                source,
            })?)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            config,
            state,
            owner,
            spawner,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            watchdog,
            groups: Mutex::new(BTreeMap::new()),
            ports: Mutex::new(BTreeSet::new()),
            sets: Mutex::new(BTreeMap::new()),
        });
        shared.tasks.spawn(sample_usage(Arc::clone(&shared)));
        Ok(Supervisor {
            shared,
            leftovers,
            shut_down: AtomicBool::new(false),
        })
    }

    /// Replicas of earlier ebb processes that [`Supervisor::start`] killed.
    pub fn leftovers(&self) -> &[Leftover] {
        &self.leftovers
    }

    /// The state directory.
    pub fn state_dir(&self) -> &StateDir {
        &self.shared.state
    }

    /// Supervises a new service, with no replicas yet ([`ReplicaSet::set_desired`] starts
    /// them). Logs of an earlier run of the same service are removed.
    pub fn add_service(&self, name: &str, spec: ReplicaSpec) -> Result<ReplicaSet, Error> {
        if !valid_name(name) {
            return Err(Error::InvalidName(name.to_string()));
        }
        spec.validate().map_err(|errors| Error::InvalidSpec {
            service: name.to_string(),
            errors,
        })?;
        let mut sets = lock(&self.shared.sets);
        if sets.contains_key(name) {
            return Err(Error::DuplicateService(name.to_string()));
        }
        let log_dir = self.shared.state.log_dir(name);
        match std::fs::remove_dir_all(&log_dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::StateDir {
                    path: log_dir,
                    source,
                });
            }
        }
        std::fs::create_dir_all(&log_dir).map_err(|source| Error::StateDir {
            path: log_dir.clone(),
            source,
        })?;
        let set = Arc::new(SetShared::new(name.to_string(), spec));
        sets.insert(name.to_string(), Arc::clone(&set));
        Ok(ReplicaSet::new(set, Arc::clone(&self.shared)))
    }

    /// The replica set of a service added earlier.
    pub fn service(&self, name: &str) -> Option<ReplicaSet> {
        let set = lock(&self.shared.sets).get(name).cloned()?;
        Some(ReplicaSet::new(set, Arc::clone(&self.shared)))
    }

    /// Stops every replica gracefully (SIGTERM, then SIGKILL after its grace period; drain
    /// through the gateway before calling this) and waits for them to be gone. Afterwards
    /// `set_desired` does nothing.
    pub async fn shutdown(&self) {
        self.shared.shutdown.cancel();
        self.shared.tasks.close();
        let longest_grace = self
            .shared
            .sets_snapshot()
            .iter()
            .map(|set| set.spec.termination_grace_period)
            .max()
            .unwrap_or_default();
        let bound = longest_grace
            .saturating_add(crate::replica::MIN_TERM_GRACE)
            .saturating_add(Duration::from_secs(5));
        if tokio::time::timeout(bound, self.shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("Replicas did not stop in time; killing them.");
            self.shared.kill_all_groups();
        }
        self.finish();
    }

    fn finish(&self) {
        if self.shut_down.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(dog) = &self.shared.watchdog {
            dog.disarm();
        }
        self.shared.state.remove_owner_dir(self.shared.owner);
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if !self.shut_down.load(Ordering::SeqCst) {
            self.shared.shutdown.cancel();
            self.shared.kill_all_groups();
            self.finish();
        }
    }
}

/// Kubernetes object names as DNS labels: they also name files and replicas.
fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Samples every live replica group each `usage_interval` and publishes the rates.
async fn sample_usage(shared: Arc<Shared>) {
    let interval = shared.config.usage_interval.max(Duration::from_millis(10));
    let ticks_per_second = usage::ticks_per_second();
    let mut previous: BTreeMap<String, (u32, tokio::time::Instant, GroupSample)> = BTreeMap::new();
    loop {
        tokio::select! {
            () = shared.shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        let groups = shared.groups_snapshot();
        let pgids: Vec<u32> = groups.values().copied().collect();
        let Ok(mut samples) =
            tokio::task::spawn_blocking(move || usage::sample_groups(&pgids)).await
        else {
            continue;
        };
        let now = tokio::time::Instant::now();
        let mut current = BTreeMap::new();
        let mut results: BTreeMap<String, ReplicaUsage> = BTreeMap::new();
        for (replica, pgid) in groups {
            let Some(sample) = samples.remove(&pgid) else {
                continue;
            };
            if let Some((prev_pgid, prev_at, prev)) = previous.get(&replica)
                && *prev_pgid == pgid
            {
                let window = now.saturating_duration_since(*prev_at);
                results.insert(
                    replica.clone(),
                    ReplicaUsage {
                        replica: replica.clone(),
                        at: now,
                        window,
                        cpu_cores: usage::cores(
                            usage::ticks_between(prev, &sample),
                            ticks_per_second,
                            window,
                        ),
                        memory_bytes: sample.rss_bytes,
                    },
                );
            }
            current.insert(replica, (pgid, now, sample));
        }
        previous = current;
        for set in shared.sets_snapshot() {
            set.publish_usage(&results);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_dns_labels() {
        for good in ["custom-model", "app-fastapi", "a", "m2"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "a/b", "a.b", "a_b", &"x".repeat(64)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
