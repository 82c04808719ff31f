//! The admission state machine without any network: slots, queue, wakeups, drains.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::sync::oneshot::error::TryRecvError;

use super::*;
use crate::metrics::GatewayMetrics;
use crate::wake::{self, Wakeups};

struct Fixture {
    service: Arc<Service>,
    metrics: GatewayMetrics,
    wakeups: Wakeups,
    next: u64,
}

impl Fixture {
    fn new(container_concurrency: u32, queue_depth: u32) -> Fixture {
        Fixture::balanced(container_concurrency, queue_depth, Balancing::LeastOfTwo)
    }

    fn balanced(container_concurrency: u32, queue_depth: u32, balancing: Balancing) -> Fixture {
        let mut registry = Registry::default();
        let metrics = GatewayMetrics::register(&mut registry);
        let (wake, wakeups) = wake::channel(vec![Arc::from("svc")].into());
        let limits = ServiceLimits {
            container_concurrency,
            queue_depth,
            queue_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            response_idle_timeout: None,
            max_request_body_bytes: 1024,
            body_read_timeout: Duration::from_secs(1),
            answers: crate::Answers::Ebb,
        };
        let service = Arc::new(Service::new(
            0,
            Arc::from("svc"),
            limits,
            balancing,
            metrics.service("svc"),
            wake,
        ));
        Fixture {
            service,
            metrics,
            wakeups,
            next: 1,
        }
    }

    fn replica(&mut self, ready: bool) -> ReplicaId {
        let id = ReplicaId {
            service: 0,
            seq: self.next,
        };
        self.next += 1;
        let addr = format!("127.0.0.1:{}", 9000 + id.seq).parse().unwrap();
        let upstream = Arc::new(Upstream::new(addr, 4));
        self.service
            .add_replica(id, upstream, self.metrics.replica("svc", id.to_string()));
        if ready {
            self.service.set_ready(id, true).unwrap();
        }
        id
    }

    fn in_flight(&self, id: ReplicaId) -> u32 {
        let state = self.service.lock();
        state.replicas[state.position(id).unwrap()]
            .window
            .concurrency()
    }

    fn waiting(&self) -> u32 {
        self.service.lock().waiting
    }
}

fn assigned(admission: &Admission) -> bool {
    matches!(admission, Admission::Assigned(_))
}

#[test]
fn least_loaded_of_two_replicas_alternates() {
    let mut f = Fixture::new(0, 10);
    let (a, b) = (f.replica(true), f.replica(true));
    let tickets: Vec<Ticket> = (0..10)
        .map(|_| {
            let (ticket, admission) = f.service.admit();
            assert!(assigned(&admission));
            ticket
        })
        .collect();
    assert_eq!((f.in_flight(a), f.in_flight(b)), (5, 5));
    drop(tickets);
    assert_eq!((f.in_flight(a), f.in_flight(b)), (0, 0));
}

#[test]
fn knatives_first_free_fills_the_first_replica_before_the_next() {
    let mut f = Fixture::balanced(2, 10, Balancing::Knative);
    let (a, b) = (f.replica(true), f.replica(true));
    let mut tickets = Vec::new();
    for expected in [(1, 0), (2, 0), (2, 1), (2, 2)] {
        let (ticket, admission) = f.service.admit();
        assert!(assigned(&admission));
        tickets.push(ticket);
        assert_eq!((f.in_flight(a), f.in_flight(b)), expected);
    }
    // One left on the first, none on the second: the next still goes to the first.
    tickets.truncate(1);
    assert_eq!((f.in_flight(a), f.in_flight(b)), (1, 0));
    let (_again, admission) = f.service.admit();
    assert!(assigned(&admission));
    assert_eq!((f.in_flight(a), f.in_flight(b)), (2, 0));
}

#[test]
fn knatives_round_robin_takes_turns_whatever_the_load() {
    let mut f = Fixture::balanced(4, 10, Balancing::Knative);
    let (a, b) = (f.replica(true), f.replica(true));
    let (_long, _) = f.service.admit();
    assert_eq!((f.in_flight(a), f.in_flight(b)), (1, 0));
    // Short requests that finish at once: they alternate, though `a` stays busier.
    for turn in 0..4 {
        let (ticket, admission) = f.service.admit();
        assert!(assigned(&admission));
        let expected = if turn % 2 == 0 { (1, 1) } else { (2, 0) };
        assert_eq!((f.in_flight(a), f.in_flight(b)), expected, "turn {turn}");
        drop(ticket);
    }
}

#[test]
fn container_concurrency_queues_then_refuses() {
    let mut f = Fixture::new(1, 2);
    let a = f.replica(true);
    let (first, admission) = f.service.admit();
    assert!(assigned(&admission));
    let (_w1, q1) = f.service.admit();
    let (_w2, q2) = f.service.admit();
    assert!(matches!(q1, Admission::Wait(_)) && matches!(q2, Admission::Wait(_)));
    let (_t, full) = f.service.admit();
    assert!(matches!(full, Admission::QueueFull));
    assert_eq!((f.in_flight(a), f.waiting()), (1, 2));
    assert!(
        f.wakeups.try_recv().is_none(),
        "a ready replica exists: no wakeup"
    );
    drop(first);
    assert_eq!(
        f.in_flight(a),
        1,
        "the freed slot went straight to the first waiter"
    );
}

#[test]
fn freed_slots_go_to_the_oldest_live_waiter() {
    let mut f = Fixture::new(1, 10);
    f.replica(true);
    let (first, _) = f.service.admit();
    let (gone, Admission::Wait(rx_gone)) = f.service.admit() else {
        panic!("should wait")
    };
    let (mut second, Admission::Wait(mut rx_second)) = f.service.admit() else {
        panic!("should wait")
    };
    // The older waiter gives up (timeout or disconnect) before a slot frees.
    drop(rx_gone);
    drop(gone);
    assert_eq!(f.waiting(), 1);
    drop(first);
    let slot = rx_second.try_recv().expect("the live waiter got the slot");
    second.claim(slot);
    assert_eq!(f.waiting(), 0);
}

#[test]
fn a_slot_nobody_claims_is_given_back() {
    let mut f = Fixture::new(1, 10);
    let a = f.replica(true);
    let (first, _) = f.service.admit();
    let (waiter, Admission::Wait(rx)) = f.service.admit() else {
        panic!("should wait")
    };
    drop(first); // hands the slot to the waiter's channel
    assert_eq!(f.in_flight(a), 1);
    drop(rx); // the waiter timed out at that very moment: the slot is dropped unclaimed
    drop(waiter);
    assert_eq!((f.in_flight(a), f.waiting()), (0, 0));
    let (_t, admission) = f.service.admit();
    assert!(assigned(&admission), "the slot is free again");
}

#[test]
fn held_at_zero_wakes_once_and_goes_out_when_a_replica_is_ready() {
    let mut f = Fixture::new(0, 10);
    let a = f.replica(false);
    let (mut t1, Admission::Wait(mut rx1)) = f.service.admit() else {
        panic!("held")
    };
    let (mut t2, Admission::Wait(mut rx2)) = f.service.admit() else {
        panic!("held")
    };
    let wakeup = f
        .wakeups
        .try_recv()
        .expect("the first held request wakes the autoscaler");
    assert_eq!(&*wakeup.service, "svc");
    assert!(f.wakeups.try_recv().is_none(), "only the first one");
    assert!(matches!(rx1.try_recv(), Err(TryRecvError::Empty)));
    f.service.set_ready(a, true).unwrap();
    t1.claim(rx1.try_recv().expect("released"));
    t2.claim(rx2.try_recv().expect("released"));
    assert_eq!((f.in_flight(a), f.waiting()), (2, 0));
}

#[test]
fn after_the_hold_is_over_the_next_hold_wakes_again() {
    let mut f = Fixture::new(0, 10);
    let (t, rx) = f.service.admit();
    drop((t, rx)); // the only held request leaves
    assert!(f.wakeups.try_recv().is_some());
    let _held = f.service.admit();
    assert!(f.wakeups.try_recv().is_some());
}

#[tokio::test]
async fn drain_resolves_when_the_last_request_ends() {
    let mut f = Fixture::new(0, 10);
    let (a, b) = (f.replica(true), f.replica(true));
    let (t1, _) = f.service.admit();
    let (t2, _) = f.service.admit();
    let (on_a, other) = if t1.replica == Some(a) {
        (t1, t2)
    } else {
        (t2, t1)
    };
    let mut drained = f.service.drain(a).unwrap();
    assert!(futures_poll(&mut drained).is_pending());
    // New requests avoid the draining replica.
    let extra: Vec<Ticket> = (0..3).map(|_| f.service.admit().0).collect();
    assert_eq!((f.in_flight(a), f.in_flight(b)), (1, 4));
    assert_eq!(f.service.set_ready(a, true), Err(ReplicaError::Draining));
    drop((other, extra));
    assert!(futures_poll(&mut drained).is_pending());
    drop(on_a);
    tokio::time::timeout(Duration::from_secs(5), drained)
        .await
        .expect("drained");
    let idle = f.service.drain(b).unwrap();
    tokio::time::timeout(Duration::from_secs(5), idle)
        .await
        .expect("already idle");
}

#[test]
fn reassign_moves_a_request_without_counting_it_twice() {
    let mut f = Fixture::new(0, 10);
    let (a, b) = (f.replica(true), f.replica(true));
    let (mut t, _) = f.service.admit();
    let from = t.replica.expect("assigned");
    let to = if from == a { b } else { a };
    assert!(t.reassign().is_some());
    assert_eq!((f.in_flight(from), f.in_flight(to)), (0, 1));
    assert!(
        t.reassign().is_some(),
        "back to the first one: it was only excluded once"
    );
    let observed = f.service.observe();
    let arrivals: f64 = observed
        .replicas
        .iter()
        .map(|r| r.arrivals_per_second)
        .sum();
    assert!(arrivals > 0.0);
    let total_in_flight: u32 = observed.replicas.iter().map(|r| r.in_flight).sum();
    assert_eq!(total_in_flight, 1);
}

#[test]
fn observe_reports_counts_and_resets_the_window() {
    let mut f = Fixture::new(0, 10);
    let a = f.replica(true);
    let tickets: Vec<Ticket> = (0..3).map(|_| f.service.admit().0).collect();
    drop(tickets);
    let (_open, _) = f.service.admit();
    let first = f.service.observe();
    assert_eq!(
        (first.in_flight, first.held, first.ready_replicas),
        (1, 0, 1)
    );
    assert!(first.requests_per_second > 0.0 && first.arrivals_per_second > 0.0);
    assert_eq!(first.replicas[0].id, a);
    let second = f.service.observe();
    assert_eq!(second.requests_per_second, 0.0, "a new window");
    assert_eq!(second.in_flight, 1, "the open request is still in flight");
}

fn futures_poll<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    std::pin::Pin::new(f).poll(&mut cx)
}
