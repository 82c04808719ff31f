//! Leader election on a `coordination.k8s.io/v1` Lease, so two controller replicas never both
//! act. The elector publishes "I hold the lease" on a watch channel; a [`Fence`] reads it right
//! before every write, so a replica that loses the lease stops writing at once, even in the
//! middle of a sync.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// Whether this replica may write. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fence {
    leader: watch::Receiver<bool>,
}

impl Fence {
    /// A fence that follows `leader`. When the elector is gone (its sender dropped), the fence
    /// is closed: no lease, no writes.
    pub fn new(leader: watch::Receiver<bool>) -> Self {
        Fence { leader }
    }

    /// A fence whose state the caller sets (a single replica without election, tests).
    pub fn manual(leader: bool) -> (watch::Sender<bool>, Fence) {
        let (tx, rx) = watch::channel(leader);
        (tx, Fence::new(rx))
    }

    /// Whether this replica holds the lease now.
    pub fn is_leader(&self) -> bool {
        self.leader.has_changed().is_ok() && *self.leader.borrow()
    }

    /// `Ok` when writes are allowed, [`Error::NotLeader`] otherwise.
    pub fn check(&self) -> Result<()> {
        if self.is_leader() {
            Ok(())
        } else {
            Err(Error::NotLeader)
        }
    }

    /// Waits until the lease is held; `false` when the elector is gone.
    pub async fn acquired(&mut self) -> bool {
        self.leader.wait_for(|held| *held).await.is_ok()
    }

    /// Waits until the lease is lost (or the elector is gone).
    pub async fn lost(&mut self) {
        let _ = self.leader.wait_for(|held| !*held).await;
    }
}

/// How the lease is held.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Namespace of the Lease (the controller's own).
    pub namespace: String,
    /// Lease name.
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease lasts without renewal.
    pub duration: Duration,
    /// How long before expiry the holder renews (also the clock skew tolerated).
    pub grace: Duration,
}

/// Starts competing for the lease with kube-lease-manager (server-side apply on the Lease,
/// conflicts detected by the API server). The task runs until the returned fence's channel
/// is dropped.
pub async fn elect(
    client: Client,
    config: &LeaseConfig,
) -> Result<(
    Fence,
    JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>,
)> {
    let params = LeaseParams::new(
        config.identity.clone(),
        config.duration.as_secs(),
        config.grace.as_secs(),
    );
    let manager = LeaseManagerBuilder::new(client, config.name.clone())
        .with_namespace(config.namespace.clone())
        .with_parameters(params)
        .build()
        .await
        .map_err(|e| Error::Api(format!("cannot set up the leader lease: {e}")))?;
    let (rx, task) = manager.watch().await;
    Ok((Fence::new(rx), task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_follows_the_lease_and_closes_without_an_elector() {
        let (tx, fence) = Fence::manual(true);
        assert!(fence.check().is_ok());
        tx.send_replace(false);
        assert!(matches!(fence.check(), Err(Error::NotLeader)));
        tx.send_replace(true);
        assert!(fence.is_leader());
        drop(tx);
        assert!(
            !fence.is_leader(),
            "a dead elector must not leave the fence open"
        );
    }
}
