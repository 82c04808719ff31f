//! The channel that tells the autoscaler, at once, that a service at zero has a request waiting.
//!
//! Knative's activator "pokes" the autoscaler on the first request for a revision instead of
//! waiting for the next tick (kpa.md §5.3). Here the first request held while a service has no
//! ready replica sends one [`Wakeup`]. At most one wakeup per service is pending at a time, so
//! clients that connect and vanish in a loop cannot grow the channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

/// A service at zero has a request waiting.
#[derive(Debug, Clone)]
pub struct Wakeup {
    /// The service's name.
    pub service: Arc<str>,
    /// When the request was held, on tokio's clock.
    pub at: tokio::time::Instant,
}

/// The receiving end, handed out once when the gateway is built.
#[derive(Debug)]
pub struct Wakeups {
    rx: mpsc::UnboundedReceiver<(usize, Wakeup)>,
    pending: Arc<[AtomicBool]>,
}

impl Wakeups {
    /// The next wakeup; `None` once the gateway is gone.
    pub async fn recv(&mut self) -> Option<Wakeup> {
        let (index, wakeup) = self.rx.recv().await?;
        if let Some(flag) = self.pending.get(index) {
            flag.store(false, Ordering::Release);
        }
        Some(wakeup)
    }

    /// A wakeup if one is waiting, without blocking.
    pub fn try_recv(&mut self) -> Option<Wakeup> {
        let (index, wakeup) = self.rx.try_recv().ok()?;
        if let Some(flag) = self.pending.get(index) {
            flag.store(false, Ordering::Release);
        }
        Some(wakeup)
    }
}

/// The sending end, shared by the services.
#[derive(Debug, Clone)]
pub(crate) struct WakeSender {
    tx: mpsc::UnboundedSender<(usize, Wakeup)>,
    pending: Arc<[AtomicBool]>,
    names: Arc<[Arc<str>]>,
}

impl WakeSender {
    /// Send a wakeup for service `index` unless one is already pending.
    pub(crate) fn wake(&self, index: usize) -> bool {
        let (Some(flag), Some(name)) = (self.pending.get(index), self.names.get(index)) else {
            return false;
        };
        if flag.swap(true, Ordering::AcqRel) {
            return false;
        }
        let wakeup = Wakeup {
            service: name.clone(),
            at: tokio::time::Instant::now(),
        };
        self.tx.send((index, wakeup)).is_ok()
    }
}

/// A connected pair for services named `names` (by index).
pub(crate) fn channel(names: Arc<[Arc<str>]>) -> (WakeSender, Wakeups) {
    let (tx, rx) = mpsc::unbounded_channel();
    let pending: Arc<[AtomicBool]> = names.iter().map(|_| AtomicBool::new(false)).collect();
    (
        WakeSender {
            tx,
            pending: pending.clone(),
            names,
        },
        Wakeups { rx, pending },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_pending_wakeup_per_service() {
        let (tx, mut rx) = channel(vec![Arc::from("a"), Arc::from("b")].into());
        assert!(tx.wake(0));
        assert!(
            !tx.wake(0),
            "a second wakeup for `a` while one is pending is coalesced"
        );
        assert!(tx.wake(1));
        assert!(!tx.wake(7), "unknown index");
        assert_eq!(&*rx.recv().await.unwrap().service, "a");
        assert!(tx.wake(0), "once received, the next one goes through");
        assert_eq!(&*rx.recv().await.unwrap().service, "b");
        assert_eq!(&*rx.try_recv().unwrap().service, "a");
        assert!(rx.try_recv().is_none());
    }
}
