//! One service's replicas, its wait queue and its counters: the admission state machine.
//!
//! Everything a request does to a service happens under one short lock: admit (pick a replica
//! or join the queue), hand a freed slot to the next waiter, finish. Time is passed in as
//! `now`. The lock is never held across an `.await`; handing a slot to a waiter is a
//! non-blocking channel send.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ebb_core::Instant;
use tokio::sync::oneshot;

use crate::balance::{Balancer, Rule};
use crate::metrics::{ReplicaMetrics, ServiceMetrics};
use crate::observe::{ReplicaObservation, ServiceObservation};
use crate::stats::ConcurrencyWindow;
use crate::upstream::Upstream;
use crate::wake::WakeSender;
use crate::{Answers, Balancing};

/// A replica's identity, unique within one gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplicaId {
    pub(crate) service: usize,
    pub(crate) seq: u64,
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "replica-{}", self.seq)
    }
}

/// Whether a replica takes new requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Added, but not (or no longer) ready: gets no requests.
    NotReady,
    /// Takes requests.
    Ready,
    /// Being removed: gets no new requests, finishes the ones it has.
    Draining,
}

/// The per-service settings the request path reads.
#[derive(Debug, Clone)]
pub(crate) struct ServiceLimits {
    pub(crate) container_concurrency: u32,
    pub(crate) queue_depth: u32,
    pub(crate) queue_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) response_idle_timeout: Option<Duration>,
    pub(crate) max_request_body_bytes: u64,
    /// The gateway's `limits.bodyReadTimeout`, here for the request path.
    pub(crate) body_read_timeout: Duration,
    /// The gateway's `answers`, here for the request path.
    pub(crate) answers: Answers,
}

/// Shared by every request for the service and by the control handle.
pub(crate) struct Service {
    pub(crate) index: usize,
    pub(crate) name: Arc<str>,
    pub(crate) limits: ServiceLimits,
    pub(crate) metrics: ServiceMetrics,
    state: Mutex<State>,
    wake: WakeSender,
    epoch: tokio::time::Instant,
}

struct State {
    replicas: Vec<Replica>,
    /// Waiters in arrival order; entries whose receiver is gone are skipped lazily.
    queue: VecDeque<oneshot::Sender<Slot>>,
    /// Live waiters: joined the queue and neither served nor gone.
    waiting: u32,
    window: ConcurrencyWindow,
    balancer: Balancer,
}

struct Replica {
    id: ReplicaId,
    upstream: Arc<Upstream>,
    state: ReplicaState,
    window: ConcurrencyWindow,
    drained: Vec<oneshot::Sender<()>>,
    metrics: ReplicaMetrics,
}

/// What a new request gets.
pub(crate) enum Admission {
    /// Go to this replica now.
    Assigned(Arc<Upstream>),
    /// Wait for a slot (held at zero, or every ready replica is at its limit).
    Wait(oneshot::Receiver<Slot>),
    /// The queue is full.
    QueueFull,
}

/// A replica slot handed to a waiting request. Dropped unclaimed, it gives the slot back.
pub(crate) struct Slot {
    service: Arc<Service>,
    replica: ReplicaId,
    upstream: Arc<Upstream>,
    armed: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.armed {
            let now = self.service.now();
            let mut state = self.service.lock();
            self.service.unassign(&mut state, self.replica, now);
        }
    }
}

/// One admitted request's claim on its service (and, once assigned, on a replica). Dropping it
/// — at the end of the response body, or when the request is abandoned — releases both.
pub(crate) struct Ticket {
    service: Arc<Service>,
    replica: Option<ReplicaId>,
    waiting: bool,
    started: tokio::time::Instant,
}

impl Ticket {
    pub(crate) fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// When the request arrived: `responseTimeout` runs from here.
    pub(crate) fn started(&self) -> tokio::time::Instant {
        self.started
    }

    /// Take the slot a waiter was handed.
    pub(crate) fn claim(&mut self, mut slot: Slot) -> Arc<Upstream> {
        slot.armed = false;
        self.service
            .metrics
            .wait
            .observe(self.started.elapsed().as_secs_f64());
        let mut state = self.service.lock();
        if self.waiting {
            self.waiting = false;
            state.waiting = state.waiting.saturating_sub(1);
            self.service.metrics.held.set(i64::from(state.waiting));
        }
        self.replica = Some(slot.replica);
        slot.upstream.clone()
    }

    /// The replica refused or reset before anything was sent: move to another ready replica
    /// with a free slot, if there is one.
    pub(crate) fn reassign(&mut self) -> Option<Arc<Upstream>> {
        let now = self.service.now();
        let mut state = self.service.lock();
        let failed = self.replica.take()?;
        self.service.unassign(&mut state, failed, now);
        let index = self.service.pick(&mut state, Some(failed))?;
        let replica = &mut state.replicas[index];
        self.replica = Some(replica.id);
        replica.window.arrive(now);
        replica
            .metrics
            .in_flight
            .set(i64::from(replica.window.concurrency()));
        Some(replica.upstream.clone())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let now = self.service.now();
        let mut state = self.service.lock();
        state.window.complete(now);
        self.service
            .metrics
            .in_flight
            .set(i64::from(state.window.concurrency()));
        if self.waiting {
            // It waited and never got a replica: timed out, refused or left.
            state.waiting = state.waiting.saturating_sub(1);
            self.service.metrics.held.set(i64::from(state.waiting));
            self.service
                .metrics
                .wait
                .observe(self.started.elapsed().as_secs_f64());
        }
        if let Some(id) = self.replica
            && let Some(index) = state.position(id)
        {
            let replica = &mut state.replicas[index];
            replica.window.complete(now);
            replica
                .metrics
                .in_flight
                .set(i64::from(replica.window.concurrency()));
            replica.metrics.completed.inc();
            self.service.after_release(&mut state, index, now);
        }
        self.service
            .metrics
            .duration
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// Resolves when a draining replica has no request in flight (or has been removed).
#[derive(Debug)]
pub struct Drained(oneshot::Receiver<()>);

impl std::future::Future for Drained {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

impl Service {
    /// A service whose replicas are chosen by `balancing`'s rule for its
    /// `containerConcurrency`.
    pub(crate) fn new(
        index: usize,
        name: Arc<str>,
        limits: ServiceLimits,
        balancing: Balancing,
        metrics: ServiceMetrics,
        wake: WakeSender,
    ) -> Self {
        let epoch = tokio::time::Instant::now();
        let now = Instant::EPOCH;
        let seed =
            (index as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ std::process::id() as u64;
        let rule = Rule::new(balancing, limits.container_concurrency);
        Service {
            index,
            name,
            limits,
            metrics,
            state: Mutex::new(State {
                replicas: Vec::new(),
                queue: VecDeque::new(),
                waiting: 0,
                window: ConcurrencyWindow::new(now),
                balancer: Balancer::new(rule, seed),
            }),
            wake,
            epoch,
        }
    }

    /// Admit a request: a replica now, a place in the queue, or a refusal.
    pub(crate) fn admit(self: &Arc<Self>) -> (Ticket, Admission) {
        let now = self.now();
        let started = tokio::time::Instant::now();
        let mut state = self.lock();
        state.window.arrive(now);
        self.metrics
            .in_flight
            .set(i64::from(state.window.concurrency()));
        let mut ticket = Ticket {
            service: self.clone(),
            replica: None,
            waiting: false,
            started,
        };
        if let Some(index) = self.pick(&mut state, None) {
            let replica = &mut state.replicas[index];
            replica.window.arrive(now);
            replica
                .metrics
                .in_flight
                .set(i64::from(replica.window.concurrency()));
            ticket.replica = Some(replica.id);
            return (ticket, Admission::Assigned(replica.upstream.clone()));
        }
        if state.waiting >= self.limits.queue_depth {
            return (ticket, Admission::QueueFull);
        }
        let at_zero = !state
            .replicas
            .iter()
            .any(|r| r.state == ReplicaState::Ready);
        if at_zero && state.waiting == 0 && self.wake.wake(self.index) {
            self.metrics.wakeups.inc();
        }
        let (tx, rx) = oneshot::channel();
        // Receivers that left (timeout, disconnect) stay queued until skipped; purge them
        // before they outnumber the live waiters so the queue stays bounded.
        if state.queue.len() >= 2 * self.limits.queue_depth as usize {
            state.queue.retain(|w| !w.is_closed());
        }
        state.queue.push_back(tx);
        state.waiting += 1;
        self.metrics.held.set(i64::from(state.waiting));
        ticket.waiting = true;
        (ticket, Admission::Wait(rx))
    }

    /// Whether some replica is ready (for telling "held at zero" from "all busy").
    pub(crate) fn has_ready_replica(&self) -> bool {
        self.lock()
            .replicas
            .iter()
            .any(|r| r.state == ReplicaState::Ready)
    }

    pub(crate) fn add_replica(
        &self,
        id: ReplicaId,
        upstream: Arc<Upstream>,
        metrics: ReplicaMetrics,
    ) {
        let now = self.now();
        let mut state = self.lock();
        state.replicas.push(Replica {
            id,
            upstream,
            state: ReplicaState::NotReady,
            window: ConcurrencyWindow::new(now),
            drained: Vec::new(),
            metrics,
        });
    }

    pub(crate) fn set_ready(
        self: &Arc<Self>,
        id: ReplicaId,
        ready: bool,
    ) -> Result<(), ReplicaError> {
        let now = self.now();
        let mut state = self.lock();
        let index = state.position(id).ok_or(ReplicaError::Unknown)?;
        let replica = &mut state.replicas[index];
        if replica.state == ReplicaState::Draining {
            return Err(ReplicaError::Draining);
        }
        replica.state = if ready {
            ReplicaState::Ready
        } else {
            ReplicaState::NotReady
        };
        self.dispatch(&mut state, now);
        Ok(())
    }

    pub(crate) fn drain(&self, id: ReplicaId) -> Result<Drained, ReplicaError> {
        let mut state = self.lock();
        let index = state.position(id).ok_or(ReplicaError::Unknown)?;
        let replica = &mut state.replicas[index];
        replica.state = ReplicaState::Draining;
        let (tx, rx) = oneshot::channel();
        if replica.window.concurrency() == 0 {
            let _ = tx.send(());
        } else {
            replica.drained.push(tx);
        }
        Ok(Drained(rx))
    }

    /// Forget the replica; its requests still in flight finish, its drain waiters resolve.
    pub(crate) fn remove(&self, id: ReplicaId) -> Result<ReplicaMetrics, ReplicaError> {
        let mut state = self.lock();
        let index = state.position(id).ok_or(ReplicaError::Unknown)?;
        let replica = state.replicas.remove(index);
        Ok(replica.metrics)
    }

    /// Requests admitted and not finished right now (waiting ones included), without closing
    /// the observation window.
    pub(crate) fn in_flight(&self) -> u32 {
        self.lock().window.concurrency()
    }

    /// Close the current window of every counter and describe the service.
    pub(crate) fn observe(&self) -> ServiceObservation {
        let now = self.now();
        let mut state = self.lock();
        let report = state.window.report(now);
        self.metrics
            .average_concurrency
            .set(report.average_concurrency);
        let replicas = state
            .replicas
            .iter_mut()
            .map(|r| {
                let report = r.window.report(now);
                ReplicaObservation {
                    id: r.id,
                    addr: r.upstream.addr,
                    state: r.state,
                    average_concurrency: report.average_concurrency,
                    requests_per_second: report.per_second(report.completions),
                    arrivals_per_second: report.per_second(report.arrivals),
                    in_flight: report.concurrency,
                }
            })
            .collect::<Vec<_>>();
        ServiceObservation {
            service: self.name.to_string(),
            period: report.elapsed,
            average_concurrency: report.average_concurrency,
            requests_per_second: report.per_second(report.completions),
            arrivals_per_second: report.per_second(report.arrivals),
            in_flight: report.concurrency,
            held: state.waiting,
            ready_replicas: replicas
                .iter()
                .filter(|r| r.state == ReplicaState::Ready)
                .count() as u32,
            replicas,
        }
    }

    /// The current state of a replica, if it is known.
    pub(crate) fn replica_state(&self, id: ReplicaId) -> Option<ReplicaState> {
        let state = self.lock();
        state.position(id).map(|i| state.replicas[i].state)
    }

    fn pick(&self, state: &mut State, exclude: Option<ReplicaId>) -> Option<usize> {
        let cc = self.limits.container_concurrency;
        let State {
            replicas, balancer, ..
        } = state;
        balancer.pick(replicas.len(), |i| {
            let r = &replicas[i];
            let in_flight = r.window.concurrency();
            (r.state == ReplicaState::Ready && (cc == 0 || in_flight < cc) && Some(r.id) != exclude)
                .then_some(in_flight)
        })
    }

    /// A request left replica `id` without completing there (retry, unclaimed slot).
    fn unassign(self: &Arc<Self>, state: &mut State, id: ReplicaId, now: Instant) {
        if let Some(index) = state.position(id) {
            let replica = &mut state.replicas[index];
            replica.window.cancel(now);
            replica
                .metrics
                .in_flight
                .set(i64::from(replica.window.concurrency()));
            self.after_release(state, index, now);
        }
    }

    /// A slot on replica `index` was freed: report a finished drain, or serve a waiter.
    fn after_release(self: &Arc<Self>, state: &mut State, index: usize, now: Instant) {
        let replica = &mut state.replicas[index];
        if replica.state == ReplicaState::Draining && replica.window.concurrency() == 0 {
            for tx in replica.drained.drain(..) {
                let _ = tx.send(());
            }
        }
        if !state.queue.is_empty() {
            self.dispatch(state, now);
        }
    }

    /// Hand free slots to waiters, oldest first.
    fn dispatch(self: &Arc<Self>, state: &mut State, now: Instant) {
        while let Some(waiter) = state.queue.front() {
            if waiter.is_closed() {
                state.queue.pop_front();
                continue;
            }
            let Some(index) = self.pick(state, None) else {
                return;
            };
            let Some(waiter) = state.queue.pop_front() else {
                return;
            };
            let replica = &mut state.replicas[index];
            let slot = Slot {
                service: self.clone(),
                replica: replica.id,
                upstream: replica.upstream.clone(),
                armed: true,
            };
            match waiter.send(slot) {
                Ok(()) => {
                    replica.window.arrive(now);
                    replica
                        .metrics
                        .in_flight
                        .set(i64::from(replica.window.concurrency()));
                }
                // The waiter left between the check and the send; the slot was never taken.
                Err(mut slot) => slot.armed = false,
            }
        }
    }

    /// The engine's notion of now: nanoseconds since this service was built, on tokio's clock.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_nanos(i64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(i64::MAX))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the request path down with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn position(&self, id: ReplicaId) -> Option<usize> {
        self.replicas.iter().position(|r| r.id == id)
    }
}

/// Why a replica operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplicaError {
    Unknown,
    Draining,
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
