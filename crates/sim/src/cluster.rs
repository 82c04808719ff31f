//! The simulated service: replicas with a fixed number of request slots, and the gateway's
//! queue in front of them.
//!
//! - A request goes to the ready replica with the most free slots; when none has one it waits
//!   in the gateway's FIFO queue (bounded: beyond the limit it is rejected). While no replica is
//!   ready at all, that queue is the request holder of scale-from-zero.
//! - Scaling up starts replicas that become ready after a cold start. Scaling down removes
//!   replicas that are still starting first, then the least busy ready ones; a removed replica
//!   leaves the pool at once and drains its in-flight requests before it is gone.
//! - The cluster integrates every count over time (requests in the system, queued, in service,
//!   replicas starting and serving), which gives averages, cost and Little's law exactly.

use std::collections::VecDeque;

/// CPU of one replica, in millicores: what the HPA's CPU metrics see.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuModel {
    /// `resources.requests.cpu`: utilization is usage divided by this.
    pub request_milli: f64,
    /// Usage with every slot busy (usually the limit).
    pub busy_milli: f64,
    /// Usage with every slot idle.
    pub idle_milli: f64,
    /// Usage while the replica starts (loading a model is busy work).
    pub startup_milli: f64,
}

impl Default for CpuModel {
    /// The seed tutorial's Deployment: requests 200m, limit 500m.
    fn default() -> Self {
        CpuModel {
            request_milli: 200.0,
            busy_milli: 500.0,
            idle_milli: 5.0,
            startup_milli: 500.0,
        }
    }
}

/// Where a replica is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Cold-starting: running, not ready.
    Starting,
    /// In the pool, taking requests.
    Ready,
    /// Out of the pool, finishing its in-flight requests.
    Draining,
    /// Stopped.
    Gone,
}

/// One replica.
#[derive(Debug, Clone)]
pub struct Replica {
    /// Index in [`Cluster::replicas`]; never reused.
    pub id: u32,
    /// State.
    pub state: ReplicaState,
    /// When it was created, ns.
    pub created_ns: i64,
    /// When it became ready, if it did.
    pub ready_ns: Option<i64>,
    /// Requests it is serving.
    pub in_flight: u32,
    /// ∫ in_flight dt up to `last_ns`, slot·ns.
    busy_area: i128,
    last_ns: i64,
}

impl Replica {
    fn touch(&mut self, now: i64) {
        self.busy_area += i128::from(self.in_flight) * i128::from(now - self.last_ns);
        self.last_ns = now;
    }

    /// ∫ in_flight dt from creation to `now`, slot·ns.
    pub fn busy_slot_ns(&self, now: i64) -> i128 {
        self.busy_area + i128::from(self.in_flight) * i128::from(now - self.last_ns)
    }

    /// Cumulative CPU used from creation to `now`, in millicore·ns (what the kubelet reports as
    /// a counter and metrics-server turns into a rate).
    pub fn cpu_milli_ns(&self, now: i64, cpu: &CpuModel, slots: u32) -> f64 {
        let ready = self.ready_ns.unwrap_or(now).min(now);
        let startup = (ready - self.created_ns) as f64 * cpu.startup_milli;
        let serving = (now - ready) as f64 * cpu.idle_milli;
        let busy = self.busy_slot_ns(now) as f64 * (cpu.busy_milli - cpu.idle_milli)
            / f64::from(slots.max(1));
        startup + serving + busy
    }
}

/// A request waiting in the gateway.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Queued {
    pub(crate) arrival: i64,
    pub(crate) service: i64,
    /// Arrived while no replica was ready: held for a cold start.
    pub(crate) held: bool,
}

/// Time integrals of the counts, in count·ns.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Areas {
    /// Requests queued or in service.
    pub in_system: i128,
    /// Requests queued.
    pub queued: i128,
    /// Requests in service.
    pub in_service: i128,
    /// Replicas starting.
    pub starting: i128,
    /// Replicas ready or draining.
    pub serving: i128,
}

impl Areas {
    /// Every replica that exists (what you pay for).
    pub fn replicas(&self) -> i128 {
        self.starting + self.serving
    }

    /// `self − earlier`.
    pub fn since(&self, earlier: &Areas) -> Areas {
        Areas {
            in_system: self.in_system - earlier.in_system,
            queued: self.queued - earlier.queued,
            in_service: self.in_service - earlier.in_service,
            starting: self.starting - earlier.starting,
            serving: self.serving - earlier.serving,
        }
    }
}

/// Replicas and the gateway queue.
#[derive(Debug, Clone)]
pub struct Cluster {
    replicas: Vec<Replica>,
    /// Ready replicas in the order they became ready.
    pool: Vec<u32>,
    slots: u32,
    pub(crate) queue: VecDeque<Queued>,
    starting: u32,
    draining: u32,
    in_service: u32,
    pub(crate) arrived: u64,
    last_ns: i64,
    areas: Areas,
}

impl Cluster {
    /// `ready` warm replicas at time 0, each with `slots` request slots.
    pub fn new(ready: u32, slots: u32) -> Self {
        let mut c = Cluster {
            replicas: Vec::new(),
            pool: Vec::new(),
            slots: slots.max(1),
            queue: VecDeque::new(),
            starting: 0,
            draining: 0,
            in_service: 0,
            arrived: 0,
            last_ns: 0,
            areas: Areas::default(),
        };
        for _ in 0..ready {
            let id = c.create(0);
            c.replicas[id as usize].state = ReplicaState::Ready;
            c.replicas[id as usize].ready_ns = Some(0);
            c.starting -= 1;
            c.pool.push(id);
        }
        c
    }

    /// Request slots per replica.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// Every replica ever created, by id.
    pub fn replicas(&self) -> &[Replica] {
        &self.replicas
    }

    /// Ready replicas.
    pub fn ready(&self) -> u32 {
        self.pool.len() as u32
    }

    /// Replicas starting.
    pub fn starting(&self) -> u32 {
        self.starting
    }

    /// Replicas draining.
    pub fn draining(&self) -> u32 {
        self.draining
    }

    /// The replica count the autoscaler asked for: starting plus ready (the Deployment's
    /// `spec.replicas`).
    pub fn active(&self) -> u32 {
        self.starting + self.ready()
    }

    /// Requests in service.
    pub fn in_service(&self) -> u32 {
        self.in_service
    }

    /// Requests that have arrived so far.
    pub fn arrived(&self) -> u64 {
        self.arrived
    }

    /// Requests waiting in the gateway.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The integrals up to the last [`Cluster::advance`].
    pub fn areas(&self) -> Areas {
        self.areas
    }

    /// Moves the clock to `now`, integrating every count.
    pub(crate) fn advance(&mut self, now: i64) {
        let dt = i128::from(now - self.last_ns);
        if dt == 0 {
            return;
        }
        let queued = self.queue.len() as i128;
        let in_service = i128::from(self.in_service);
        self.areas.in_system += (queued + in_service) * dt;
        self.areas.queued += queued * dt;
        self.areas.in_service += in_service * dt;
        self.areas.starting += i128::from(self.starting) * dt;
        self.areas.serving += (self.pool.len() as i128 + i128::from(self.draining)) * dt;
        self.last_ns = now;
    }

    /// The ready replica with the most free slots, if any has one.
    #[inline]
    pub(crate) fn pick(&self) -> Option<u32> {
        let mut best: Option<(u32, u32)> = None;
        for &id in &self.pool {
            let load = self.replicas[id as usize].in_flight;
            if load == 0 {
                return Some(id);
            }
            if load < self.slots && best.is_none_or(|(_, l)| load < l) {
                best = Some((id, load));
            }
        }
        best.map(|(id, _)| id)
    }

    /// A request starts on replica `id` at `now` (after [`Cluster::advance`]).
    #[inline]
    pub(crate) fn start(&mut self, id: u32, now: i64) {
        let r = &mut self.replicas[id as usize];
        r.touch(now);
        r.in_flight += 1;
        self.in_service += 1;
    }

    /// A request on replica `id` finished. Returns whether the replica can take another one.
    #[inline]
    pub(crate) fn finish(&mut self, id: u32, now: i64) -> bool {
        let r = &mut self.replicas[id as usize];
        r.touch(now);
        r.in_flight -= 1;
        self.in_service -= 1;
        match r.state {
            ReplicaState::Ready => true,
            ReplicaState::Draining => {
                if r.in_flight == 0 {
                    r.state = ReplicaState::Gone;
                    self.draining -= 1;
                }
                false
            }
            ReplicaState::Starting | ReplicaState::Gone => false,
        }
    }

    fn create(&mut self, now: i64) -> u32 {
        let id = self.replicas.len() as u32;
        self.replicas.push(Replica {
            id,
            state: ReplicaState::Starting,
            created_ns: now,
            ready_ns: None,
            in_flight: 0,
            busy_area: 0,
            last_ns: now,
        });
        self.starting += 1;
        id
    }

    /// A starting replica finished its cold start. Returns false if it was removed meanwhile.
    pub(crate) fn make_ready(&mut self, id: u32, now: i64) -> bool {
        let r = &mut self.replicas[id as usize];
        if r.state != ReplicaState::Starting {
            return false;
        }
        r.touch(now);
        r.state = ReplicaState::Ready;
        r.ready_ns = Some(now);
        self.starting -= 1;
        self.pool.push(id);
        true
    }

    /// Converges the active count to `n` at `now`; returns the replicas created (the caller
    /// schedules their cold starts).
    pub(crate) fn scale_to(&mut self, n: u32, now: i64) -> Vec<u32> {
        let active = self.active();
        let mut created = Vec::new();
        if n > active {
            for _ in active..n {
                created.push(self.create(now));
            }
            return created;
        }
        for _ in n..active {
            self.remove_one(now);
        }
        created
    }

    /// Removes the newest starting replica, else the least busy ready one (newest on ties).
    fn remove_one(&mut self, now: i64) {
        if self.starting > 0
            && let Some(r) = self
                .replicas
                .iter_mut()
                .rev()
                .find(|r| r.state == ReplicaState::Starting)
        {
            r.touch(now);
            r.state = ReplicaState::Gone;
            self.starting -= 1;
            return;
        }
        let Some(pos) = (0..self.pool.len())
            .rev()
            .min_by_key(|&i| self.replicas[self.pool[i] as usize].in_flight)
        else {
            return;
        };
        let id = self.pool.remove(pos);
        let r = &mut self.replicas[id as usize];
        r.touch(now);
        if r.in_flight == 0 {
            r.state = ReplicaState::Gone;
        } else {
            r.state = ReplicaState::Draining;
            self.draining += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_go_to_the_least_busy_ready_replica() {
        let mut c = Cluster::new(2, 2);
        assert_eq!(c.pick(), Some(0));
        c.start(0, 0);
        assert_eq!(c.pick(), Some(1));
        c.start(1, 0);
        assert_eq!(c.pick(), Some(0));
        c.start(0, 0);
        c.start(1, 0);
        assert_eq!(c.pick(), None, "all four slots are busy");
    }

    #[test]
    fn scale_down_removes_starting_replicas_first_then_drains_the_least_busy() {
        let mut c = Cluster::new(2, 4);
        c.start(0, 0);
        c.start(0, 0);
        c.start(1, 0);
        let created = c.scale_to(3, 10);
        assert_eq!(created, [2]);
        assert_eq!((c.ready(), c.starting(), c.active()), (2, 1, 3));
        c.scale_to(1, 20);
        // The starting one went first, then replica 1 (one request) began draining.
        assert_eq!(c.replicas()[2].state, ReplicaState::Gone);
        assert_eq!(c.replicas()[1].state, ReplicaState::Draining);
        assert_eq!((c.ready(), c.draining(), c.active()), (1, 1, 1));
        assert!(
            !c.make_ready(2, 30),
            "a removed replica never becomes ready"
        );
        assert!(!c.finish(1, 40), "a draining replica takes no more work");
        assert_eq!(c.replicas()[1].state, ReplicaState::Gone);
        assert_eq!(c.draining(), 0);
    }

    #[test]
    fn integrals_and_cpu() {
        let cpu = CpuModel {
            request_milli: 200.0,
            busy_milli: 500.0,
            idle_milli: 0.0,
            startup_milli: 100.0,
        };
        let mut c = Cluster::new(1, 2);
        c.advance(1_000);
        c.start(0, 1_000);
        c.advance(3_000);
        c.finish(0, 3_000);
        c.advance(4_000);
        let a = c.areas();
        assert_eq!(a.in_service, 2_000);
        assert_eq!(a.serving, 4_000);
        let r = &c.replicas()[0];
        assert_eq!(r.busy_slot_ns(4_000), 2_000);
        // One of two slots busy for 2000 ns at 500m per full replica.
        assert_eq!(r.cpu_milli_ns(4_000, &cpu, 2), 2_000.0 * 250.0);
        let created = c.scale_to(2, 4_000);
        c.advance(5_000);
        assert_eq!(c.areas().starting, 1_000);
        let s = &c.replicas()[created[0] as usize];
        assert_eq!(s.cpu_milli_ns(5_000, &cpu, 2), 1_000.0 * 100.0);
    }
}
