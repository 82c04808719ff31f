//! The generator: workers that send, one collector that counts, reports and writes the
//! timeline.
//!
//! Every worker owns one connection. Open-loop workers share a ticket counter: an idle worker
//! takes the next request number, sleeps until that request's intended time and sends it. When
//! every worker is busy, the next ticket is picked up late and sent at once, its latency still
//! counted from the intended time (no coordinated omission), and the lateness is reported.
//! Closed-loop workers (users, concurrency) send, wait for the answer, think, and repeat.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use rand::SeedableRng as _;
use rand::rngs::Xoshiro256PlusPlus;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::client::Connection;
use crate::config::{Config, ConfigError, Mode, RequestTemplate};
use crate::progress::{Extent, Progress, ProgressMode};
use crate::schedule::Schedule;
use crate::stats::{ErrorKind, Outcome, Stats};
use crate::summary::{OpenLoopFacts, RunFacts, Summary};
use crate::timeline::{Intended, Timeline};
use crate::wait::WaitTime;

/// A request picked up more than this long after its intended time counts as late.
const LATE_AFTER: Duration = Duration::from_millis(1);
/// tokio's timer has millisecond resolution and rounds up; waking this much early centres the
/// send on the intended time (latency is measured from the send itself when it is early).
const WAKE_EARLY: Duration = Duration::from_micros(500);
/// After a failed connect, a worker with no think time pauses this long instead of spinning.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);
/// Rows close this long after their second ends, so in-transit events still land in them.
const ROW_GRACE: Duration = Duration::from_millis(50);

/// A run that could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// `host:port`.
        host: String,
        /// The resolver's answer.
        reason: String,
    },
    /// The timeline file could not be written.
    #[error("writing the timeline: {0}")]
    Timeline(#[source] std::io::Error),
    /// A worker task panicked (a bug).
    #[error("a load worker failed: {0}")]
    Worker(String),
}

/// Where a run reports while it goes.
pub struct RunOptions {
    /// How progress is shown.
    pub progress: ProgressMode,
    /// Per-second CSV rows go here, if set.
    pub timeline: Option<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("progress", &self.progress)
            .field("timeline", &self.timeline.is_some())
            .finish()
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            progress: ProgressMode::Quiet,
            timeline: None,
        }
    }
}

/// Slots in the ring of per-second send counters; the collector drains a slot within a second
/// or two of its second ending, far sooner than the ring wraps.
const SEND_SLOTS: usize = 64;

/// Send counters the workers bump and the collector drains: sends are counted where they
/// happen, so the timeline's `sent` column is right even when responses take many seconds.
struct Sends {
    per_second: [AtomicU64; SEND_SLOTS],
    late: AtomicU64,
    max_lag_us: AtomicU64,
}

impl Sends {
    fn new() -> Sends {
        Sends {
            per_second: std::array::from_fn(|_| AtomicU64::new(0)),
            late: AtomicU64::new(0),
            max_lag_us: AtomicU64::new(0),
        }
    }

    fn count(&self, at: Duration, late_by: Option<Duration>) {
        let slot = (at.as_secs() % SEND_SLOTS as u64) as usize;
        self.per_second[slot].fetch_add(1, Ordering::Relaxed);
        if let Some(lag) = late_by {
            self.late.fetch_add(1, Ordering::Relaxed);
            let us = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
            self.max_lag_us.fetch_max(us, Ordering::Relaxed);
        }
    }

    /// Moves the counts of every second up to `now` into `stats`.
    fn drain_into(&self, stats: &mut Stats, now: Duration) {
        for second in stats.next_row()..=now.as_secs() {
            let slot = (second % SEND_SLOTS as u64) as usize;
            stats.record_sends(second, self.per_second[slot].swap(0, Ordering::Relaxed));
        }
        stats.record_late(
            self.late.load(Ordering::Relaxed),
            Duration::from_micros(self.max_lag_us.load(Ordering::Relaxed)),
        );
    }
}

/// What every worker reads.
struct Shared {
    start: Instant,
    deadline: Option<Duration>,
    max_requests: Option<u64>,
    tickets: AtomicU64,
    request: RequestTemplate,
    timeout: Duration,
    addrs: Arc<[SocketAddr]>,
    sends: Sends,
}

impl Shared {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The next request number, unless the count limit is reached.
    fn ticket(&self) -> Option<u64> {
        let i = self.tickets.fetch_add(1, Ordering::Relaxed);
        self.max_requests.is_none_or(|max| i < max).then_some(i)
    }

    fn past_deadline(&self, at: Duration) -> bool {
        self.deadline.is_some_and(|d| at >= d)
    }
}

/// A worker's own connection, request buffer and random numbers.
struct Worker {
    shared: Arc<Shared>,
    connection: Connection,
    request: Vec<u8>,
    rng: Xoshiro256PlusPlus,
    tx: mpsc::UnboundedSender<Outcome>,
}

impl Worker {
    fn new(shared: Arc<Shared>, seed: u64, tx: mpsc::UnboundedSender<Outcome>) -> Worker {
        Worker {
            connection: Connection::new(shared.addrs.clone()),
            shared,
            request: Vec::with_capacity(1024),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            tx,
        }
    }

    /// Sends one request and reports it.
    async fn exchange(
        &mut self,
        intended: Option<Duration>,
        late_by: Option<Duration>,
    ) -> Result<u16, ErrorKind> {
        let shared = &*self.shared;
        shared.request.encode(&mut self.rng, &mut self.request);
        let sent = shared.now();
        shared.sends.count(sent, late_by);
        let send = self
            .connection
            .send(&self.request, shared.request.is_head());
        let answer = tokio::time::timeout(shared.timeout, send)
            .await
            .unwrap_or(Err(ErrorKind::Timeout));
        let outcome = Outcome {
            // Early sends (within the timer's resolution) are measured from the send itself.
            start: intended.map_or(sent, |i| i.min(sent)),
            done: shared.now(),
            result: answer.map(|a| a.status),
            bytes: answer.map_or(0, |a| a.bytes),
        };
        let _ = self.tx.send(outcome);
        outcome.result
    }
}

/// Runs the load described by `config` until its limit, or until `cancel` fires (Ctrl-C); the
/// summary covers what ran either way.
pub async fn run(
    config: Config,
    options: RunOptions,
    cancel: CancellationToken,
) -> Result<Summary, RunError> {
    config.validate()?;
    let addrs = resolve(&config.target.authority).await?;
    let deadline = config.send_deadline();
    let wall_start = SystemTime::now();
    let shared = Arc::new(Shared {
        start: Instant::now(),
        deadline,
        max_requests: config.max_requests,
        tickets: AtomicU64::new(0),
        request: config.request.clone(),
        timeout: config.timeout,
        addrs,
        sends: Sends::new(),
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut workers = JoinSet::new();
    let worker =
        |index: u32| Worker::new(shared.clone(), config.seed ^ u64::from(index), tx.clone());
    let schedule = match &config.mode {
        Mode::OpenLoop {
            schedule,
            connections,
        } => {
            let schedule = Arc::new(schedule.clone());
            for index in 0..*connections {
                workers.spawn(open_loop(worker(index), schedule.clone()));
            }
            Some(schedule)
        }
        Mode::Users {
            users,
            spawn_rate,
            wait,
        } => {
            for index in 0..*users {
                let starts_at = Duration::from_secs_f64(f64::from(index) / spawn_rate);
                workers.spawn(closed_loop(worker(index), starts_at, *wait));
            }
            None
        }
        Mode::Concurrency { workers: count } => {
            for index in 0..*count {
                workers.spawn(closed_loop(worker(index), Duration::ZERO, WaitTime::NONE));
            }
            None
        }
    };
    drop(tx); // the channel closes when the last worker is done

    let extent = match (deadline, config.max_requests, schedule.as_deref()) {
        (Some(d), _, _) => Extent::Time(d),
        (None, Some(n), _) => Extent::Count(n),
        (None, None, Some(s)) => s.len().map_or(Extent::Open, Extent::Count),
        (None, None, None) => Extent::Open,
    };
    let mut progress = Progress::new(options.progress, extent);
    let mut timeline = match options.timeline {
        Some(out) => Some(Timeline::new(
            out,
            wall_start,
            schedule.clone().map(|s| Intended {
                schedule: s,
                deadline,
                max_requests: config.max_requests,
            }),
        )?),
        None => None,
    };
    let mut stats = Stats::new();
    let mut tick = tokio::time::interval_at(
        shared.start + Duration::from_secs(1) + ROW_GRACE,
        Duration::from_secs(1),
    );
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(1024);
    let mut stopped_at = None;
    loop {
        tokio::select! {
            biased;
            _ = tick.tick() => {
                let now = shared.now();
                shared.sends.drain_into(&mut stats, now);
                for row in stats.close_until(now.saturating_sub(ROW_GRACE)) {
                    if let Some(t) = timeline.as_mut() {
                        t.write(&row)?;
                    }
                }
                progress.update(now, &stats.snapshot());
            }
            _ = cancel.cancelled(), if stopped_at.is_none() => {
                // Requests in flight are abandoned; the channel closes as the workers go.
                stopped_at = Some(shared.now());
                workers.abort_all();
            }
            received = rx.recv_many(&mut batch, 1024) => {
                if received == 0 {
                    break;
                }
                for outcome in batch.drain(..) {
                    stats.record(outcome);
                }
            }
        }
    }
    let elapsed = shared.now();
    progress.finish();
    while let Some(joined) = workers.join_next().await {
        if let Err(e) = joined
            && !e.is_cancelled()
        {
            return Err(RunError::Worker(e.to_string()));
        }
    }
    shared.sends.drain_into(&mut stats, elapsed);
    for row in stats.close_all() {
        if let Some(t) = timeline.as_mut() {
            t.write(&row)?;
        }
    }
    if let Some(t) = timeline.as_mut() {
        t.flush()?;
    }

    let send_window = match (stopped_at, deadline) {
        (Some(stop), Some(d)) => stop.min(d),
        (Some(stop), None) => stop,
        (None, Some(d)) => d,
        (None, None) => elapsed,
    };
    let open_loop = match &config.mode {
        Mode::OpenLoop {
            schedule,
            connections,
        } => {
            let mut window = send_window;
            if let Some(end) = schedule.end() {
                window = window.min(end);
            }
            let mut intended = schedule.count_before(window);
            if let Some(max) = config.max_requests {
                intended = intended.min(max);
            }
            Some(OpenLoopFacts {
                intended,
                connections: *connections,
            })
        }
        _ => None,
    };
    Ok(Summary::new(
        &stats,
        RunFacts {
            url: config.target.url.to_string(),
            mode: config.mode.describe(),
            open_loop,
            elapsed,
            send_window,
            interrupted: stopped_at.is_some(),
        },
    ))
}

/// Resolves once, before the run: a name lookup per connection would be part of latency.
async fn resolve(authority: &str) -> Result<Arc<[SocketAddr]>, RunError> {
    let error = |reason: String| RunError::Resolve {
        host: authority.to_string(),
        reason,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(authority)
        .await
        .map_err(|e| error(e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(error("no address found".to_string()));
    }
    Ok(addrs.into())
}

/// Takes the next due request whenever this worker is free; sleeps until its intended time
/// unless it is already late.
async fn open_loop(mut worker: Worker, schedule: Arc<Schedule>) {
    let shared = worker.shared.clone();
    while let Some(due) = shared.ticket().and_then(|i| schedule.at(i)) {
        let now = shared.now();
        if shared.past_deadline(due) || shared.past_deadline(now) {
            return;
        }
        let late_by = now.checked_sub(due).filter(|lag| *lag > LATE_AFTER);
        if due > now + WAKE_EARLY {
            tokio::time::sleep_until(shared.start + (due - WAKE_EARLY)).await;
        }
        worker.exchange(Some(due), late_by).await.ok();
    }
}

/// Sends, waits for the answer, thinks, repeats.
async fn closed_loop(mut worker: Worker, starts_at: Duration, wait: WaitTime) {
    let shared = worker.shared.clone();
    if !starts_at.is_zero() {
        if shared.past_deadline(starts_at) {
            return;
        }
        tokio::time::sleep_until(shared.start + starts_at).await;
    }
    while !shared.past_deadline(shared.now()) && shared.ticket().is_some() {
        let result = worker.exchange(None, None).await;
        let mut think = wait.sample(&mut worker.rng);
        if think.is_zero()
            && matches!(
                result,
                Err(ErrorKind::ConnectionRefused | ErrorKind::Connect)
            )
        {
            think = CONNECT_BACKOFF;
        }
        if !think.is_zero() {
            if shared.past_deadline(shared.now() + think) {
                return;
            }
            tokio::time::sleep(think).await;
        }
    }
}
