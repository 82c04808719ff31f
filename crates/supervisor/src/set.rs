//! One service's replicas: the reconcile entry point and what callers observe.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

use crate::plan::{Candidate, plan};
use crate::replica::{self, ReplicaCommand};
use crate::spec::ReplicaSpec;
use crate::state::replica_name;
use crate::status::{ReplicaEvent, ReplicaPhase, ReplicaStatus};
use crate::supervisor::Shared;
use crate::usage::ReplicaUsage;

const EVENT_BUFFER: usize = 1024;

/// State of one service shared with its replica tasks.
#[derive(Debug)]
pub(crate) struct SetShared {
    pub(crate) service: String,
    pub(crate) spec: ReplicaSpec,
    /// Every replica's status, by ordinal; the one source of truth for callers and the planner.
    pub(crate) status: watch::Sender<Vec<ReplicaStatus>>,
    pub(crate) events: broadcast::Sender<ReplicaEvent>,
    usage: Mutex<BTreeMap<String, ReplicaUsage>>,
    /// Command channels of live replica tasks; held while planning so plans never overlap.
    commands: Mutex<BTreeMap<u32, mpsc::UnboundedSender<ReplicaCommand>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SetShared {
    pub(crate) fn new(service: String, spec: ReplicaSpec) -> Self {
        SetShared {
            service,
            spec,
            status: watch::Sender::new(Vec::new()),
            events: broadcast::Sender::new(EVENT_BUFFER),
            usage: Mutex::new(BTreeMap::new()),
            commands: Mutex::new(BTreeMap::new()),
        }
    }

    /// Changes one replica's status, notifying watchers only if something changed. A replica
    /// marked Terminating stays Terminating and never ready, whatever its task reports.
    pub(crate) fn update(&self, ordinal: u32, change: impl FnOnce(&mut ReplicaStatus)) {
        self.status.send_if_modified(|all| {
            let Some(status) = all.iter_mut().find(|s| s.ordinal == ordinal) else {
                return false;
            };
            let before = status.clone();
            change(status);
            if before.phase == ReplicaPhase::Terminating {
                status.phase = ReplicaPhase::Terminating;
                status.ready = false;
            }
            *status != before
        });
    }

    pub(crate) fn emit(&self, event: ReplicaEvent) {
        if event.kind.is_warning() {
            tracing::warn!(replica = %event.replica, reason = event.kind.reason(), "{}", event.message);
        } else {
            tracing::info!(replica = %event.replica, reason = event.kind.reason(), "{}", event.message);
        }
        // No receiver is fine: nobody is watching events.
        let _ = self.events.send(event);
    }

    /// A replica task is done: forget the replica.
    pub(crate) fn remove(&self, ordinal: u32, name: &str) {
        let mut commands = lock(&self.commands);
        commands.remove(&ordinal);
        self.status.send_if_modified(|all| {
            let before = all.len();
            all.retain(|s| s.ordinal != ordinal);
            all.len() != before
        });
        lock(&self.usage).remove(name);
    }

    pub(crate) fn publish_usage(&self, all: &BTreeMap<String, ReplicaUsage>) {
        let names: Vec<String> = self
            .status
            .borrow()
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let mut usage = lock(&self.usage);
        usage.clear();
        for name in names {
            if let Some(u) = all.get(&name) {
                usage.insert(name, u.clone());
            }
        }
    }
}

/// What [`ReplicaSet::set_desired`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScaleChange {
    /// Replicas created.
    pub started: Vec<String>,
    /// Replicas now Terminating: drain them, then call [`ReplicaSet::drained`].
    pub stopping: Vec<String>,
}

/// The replicas of one service. Cheap to clone; all clones control the same replicas.
#[derive(Debug, Clone)]
pub struct ReplicaSet {
    set: Arc<SetShared>,
    sup: Arc<Shared>,
}

impl ReplicaSet {
    pub(crate) fn new(set: Arc<SetShared>, sup: Arc<Shared>) -> Self {
        ReplicaSet { set, sup }
    }

    /// The service's name.
    pub fn service(&self) -> &str {
        &self.set.service
    }

    /// The spec replicas run with.
    pub fn spec(&self) -> &ReplicaSpec {
        &self.set.spec
    }

    /// Converges to `desired` replicas: starts new ones at once, or takes the least busy ones
    /// out of the pool (status Terminating, not ready) and stops them after they are drained.
    /// `in_flight` gives each replica's in-flight request count by name (the gateway's
    /// numbers; `|_| 0` when there are none). Replicas already terminating do not count.
    pub fn set_desired(&self, desired: u32, in_flight: impl Fn(&str) -> u64) -> ScaleChange {
        let mut change = ScaleChange::default();
        if self.sup.shutdown.is_cancelled() {
            return change;
        }
        let mut commands = lock(&self.set.commands);
        let now = Instant::now();
        let candidates: Vec<Candidate> = self
            .set
            .status
            .borrow()
            .iter()
            .map(|s| Candidate {
                ordinal: s.ordinal,
                terminating: s.phase == ReplicaPhase::Terminating,
                running: s.pid.is_some(),
                ready: s.ready,
                in_flight: in_flight(&s.name),
                age: s
                    .started_at
                    .map(|t| now.saturating_duration_since(t))
                    .unwrap_or_default(),
            })
            .collect();
        let plan = plan(&candidates, desired);
        for ordinal in plan.stop {
            self.set.update(ordinal, |s| {
                s.phase = ReplicaPhase::Terminating;
                s.ready = false;
                change.stopping.push(s.name.clone());
            });
            if let Some(tx) = commands.get(&ordinal) {
                let _ = tx.send(ReplicaCommand::Terminate);
            }
        }
        for ordinal in plan.start {
            let name = replica_name(&self.set.service, ordinal);
            self.set.status.send_modify(|all| {
                all.push(ReplicaStatus::new(name.clone(), ordinal, now));
                all.sort_by_key(|s| s.ordinal);
            });
            let (tx, rx) = mpsc::unbounded_channel();
            commands.insert(ordinal, tx);
            let task = replica::Replica::new(
                Arc::clone(&self.sup),
                Arc::clone(&self.set),
                ordinal,
                name.clone(),
                rx,
            );
            self.sup.tasks.spawn(task.run());
            change.started.push(name);
        }
        change
    }

    /// The gateway has no more requests in flight on `replica` (Terminating): stop it now
    /// instead of at the end of its grace period. False if there is no such replica.
    pub fn drained(&self, replica: &str) -> bool {
        let ordinal = self
            .set
            .status
            .borrow()
            .iter()
            .find(|s| s.name == replica)
            .map(|s| s.ordinal);
        let commands = lock(&self.set.commands);
        ordinal
            .and_then(|n| commands.get(&n))
            .is_some_and(|tx| tx.send(ReplicaCommand::Drained).is_ok())
    }

    /// Every replica's status now, by ordinal.
    pub fn status(&self) -> Vec<ReplicaStatus> {
        self.set.status.borrow().clone()
    }

    /// Statuses as they change: a gateway adds a replica to its pool when it turns ready and
    /// removes it when it stops being ready.
    pub fn watch(&self) -> watch::Receiver<Vec<ReplicaStatus>> {
        self.set.status.subscribe()
    }

    /// Events from now on (a slow receiver loses the oldest).
    pub fn events(&self) -> broadcast::Receiver<ReplicaEvent> {
        self.set.events.subscribe()
    }

    /// The latest CPU and memory of each replica that has been sampled twice.
    pub fn usage(&self) -> Vec<ReplicaUsage> {
        lock(&self.set.usage).values().cloned().collect()
    }

    /// The log file of replica `ordinal`.
    pub fn log_file(&self, ordinal: u32) -> PathBuf {
        self.sup.state.log_file(&self.set.service, ordinal)
    }
}
