//! The auth epoch: a counter that moves on with every write that may change who can
//! authenticate, so short-lived caches of authentication results know when they went stale.
//!
//! Every write through `Store::tx()` and `Store::writer()` moves it on, unless the call site
//! chose the quiet variant because its write cannot make a credential that authenticated stop
//! doing so (deliveries, message changes, jobs, the health probe, an API key's or app password's
//! `last_used_at`, and a login's own bookkeeping: the new session, its refresh tokens, the
//! login record). Revoking a session, a key or a password, or changing a user, mailbox or
//! tenant, moves it.
//! So a new kind of write invalidates caches by default; only a reviewed hot path opts out.
//!
//! Other processes hear of a local move through the bus (`Bus::relay_auth_epoch`) and move
//! their own epoch on; when the bus may have lost notices (Redis was away), the epoch moves on
//! too. A cache's entries are also bounded in age, which bounds staleness where no notice can
//! arrive (the CLI writing from another process without Redis).

use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

/// See the module documentation. Shared as `Arc<AuthEpoch>`.
#[derive(Debug, Default)]
pub struct AuthEpoch {
    value: AtomicU64,
    moved_here: Notify,
}

impl AuthEpoch {
    /// The current value. Read it **before** looking up what a cache entry will hold: a write
    /// that lands after the look-up began has moved the epoch past the value read.
    pub fn current(&self) -> u64 {
        self.value.load(Ordering::SeqCst)
    }

    /// A write of this process may have changed who can authenticate: move on, and wake the
    /// relay that tells other processes.
    pub fn bump(&self) {
        self.value.fetch_add(1, Ordering::SeqCst);
        self.moved_here.notify_one();
    }

    /// Another process wrote (or its notices may have been lost): move on, without telling
    /// anyone.
    pub fn heard(&self) {
        self.value.fetch_add(1, Ordering::SeqCst);
    }

    /// Waits until this process moves the epoch on (moves since the last wait count: a move
    /// between two waits is not missed).
    pub async fn moved_here(&self) {
        self.moved_here.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_local_move_wakes_the_relay_and_a_heard_one_does_not() {
        let e = Arc::new(AuthEpoch::default());
        let before = e.current();
        e.heard();
        assert_eq!(e.current(), before + 1);
        let quiet = tokio::time::timeout(Duration::from_millis(50), e.moved_here()).await;
        assert!(quiet.is_err(), "a heard move is not relayed");
        e.bump();
        assert_eq!(e.current(), before + 2);
        tokio::time::timeout(Duration::from_secs(1), e.moved_here())
            .await
            .expect("a local move wakes the relay, even one made before the wait");
    }
}
