//! A connection's deadline that moves later on every request without touching its timer.
//!
//! Arming a tokio timer for an instant earlier than the runtime's next planned wake-up makes
//! the runtime wake its own driver: an `eventfd` write and one more `epoll_wait` round. A
//! keep-alive connection that armed a fresh header-read timer after each response paid that
//! on every request, since the timer it armed while waiting for the replica (the response
//! timeout) was later. Here one timer stays armed at or before the deadline and is moved only
//! when it fires early: about once per timeout period, not once per request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Ready once `deadline` has passed. `timer` is re-armed only when it fires before
/// `deadline`, or when it is armed later than `deadline` (a deadline moved earlier).
pub(crate) fn poll_passed(
    mut timer: Pin<&mut Sleep>,
    cx: &mut Context<'_>,
    deadline: Instant,
) -> Poll<()> {
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    while timer.as_mut().poll(cx).is_ready() {
        if timer.deadline() >= deadline {
            return Poll::Ready(());
        }
        timer.as_mut().reset(deadline);
    }
    Poll::Pending
}

/// How long a stream may keep its reader waiting for the next bytes. The clock runs only
/// while waiting: it starts with a wait and stops at the next progress, so time the reader
/// spends passing bytes on (to a slow peer) does not count against the stream.
pub(crate) struct Stall {
    timeout: Duration,
    /// When the current wait runs out, while waiting.
    deadline: Option<Instant>,
    /// Made on the first wait and kept, moved only when it fires early (see above).
    timer: Option<Pin<Box<Sleep>>>,
}

impl Stall {
    pub(crate) fn new(timeout: Duration) -> Stall {
        Stall {
            timeout,
            deadline: None,
            timer: None,
        }
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Bytes came: the next wait gets the whole timeout.
    pub(crate) fn progressed(&mut self) {
        self.deadline = None;
    }

    /// Called while waiting: ready once this wait has lasted the timeout.
    pub(crate) fn poll_waited_out(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = *self
            .deadline
            .get_or_insert_with(|| Instant::now() + self.timeout);
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        poll_passed(timer.as_mut(), cx, deadline)
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::time::Duration;

    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test(start_paused = true)]
    async fn moving_the_deadline_later_leaves_the_timer_where_it_was_armed() {
        let start = Instant::now();
        let mut timer = std::pin::pin!(tokio::time::sleep_until(start + 30 * SECOND));
        for later in 1..=5 {
            let deadline = start + 30 * SECOND + later * SECOND;
            let waited = poll_fn(|cx| Poll::Ready(poll_passed(timer.as_mut(), cx, deadline)));
            assert!(waited.await.is_pending());
            assert_eq!(timer.deadline(), start + 30 * SECOND);
        }
    }

    /// Wait for a deadline `due` from now with the timer armed 30 s from now; how long the
    /// wait took, and where the timer was armed at its end (both from now).
    async fn wait_with_the_timer_at_30s(due: Duration) -> (Duration, Duration) {
        let start = Instant::now();
        let mut timer = std::pin::pin!(tokio::time::sleep_until(start + 30 * SECOND));
        poll_fn(|cx| poll_passed(timer.as_mut(), cx, start + due)).await;
        (start.elapsed(), timer.deadline() - start)
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_that_fires_early_is_rearmed_and_resolves_at_the_deadline() {
        let (waited, armed) = wait_with_the_timer_at_30s(45 * SECOND).await;
        assert!(waited >= 45 * SECOND && waited < 46 * SECOND, "{waited:?}");
        assert_eq!(armed, 45 * SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_moved_earlier_than_the_timer_is_kept() {
        let (waited, _) = wait_with_the_timer_at_30s(10 * SECOND).await;
        assert!(waited >= 10 * SECOND && waited < 11 * SECOND, "{waited:?}");
    }

    /// Whether the stall's wait has run out, without waiting.
    async fn waited_out(stall: &mut Stall) -> bool {
        poll_fn(|cx| Poll::Ready(stall.poll_waited_out(cx).is_ready())).await
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_counts_only_the_time_spent_waiting() {
        let mut stall = Stall::new(10 * SECOND);
        // Waited 6 s, progress, 20 s elsewhere, waited 6 s: never 10 s in one wait.
        assert!(!waited_out(&mut stall).await);
        tokio::time::advance(6 * SECOND).await;
        assert!(!waited_out(&mut stall).await);
        stall.progressed();
        tokio::time::advance(20 * SECOND).await;
        assert!(!waited_out(&mut stall).await);
        tokio::time::advance(6 * SECOND).await;
        assert!(!waited_out(&mut stall).await);
        // This wait reaches 10 s.
        let start = Instant::now();
        poll_fn(|cx| stall.poll_waited_out(cx)).await;
        assert_eq!(start.elapsed(), 4 * SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_already_passed_resolves_at_once() {
        let start = Instant::now();
        let mut timer = std::pin::pin!(tokio::time::sleep_until(start + 30 * SECOND));
        tokio::time::advance(40 * SECOND).await;
        poll_fn(|cx| poll_passed(timer.as_mut(), cx, start + 35 * SECOND)).await;
        assert_eq!(Instant::now(), start + 40 * SECOND);
    }
}
