//! The production [`Recipients`]: the address resolver and mailbox quotas.

use super::session::{Recipients, Verdict};
use mailroom_core::store::SystemStore;

/// Checks recipients against every tenant's verified domains, as an MX must.
pub struct StoreRecipients {
    sys: SystemStore,
}

impl StoreRecipients {
    /// Over the given store.
    pub fn new(sys: SystemStore) -> Self {
        Self { sys }
    }
}

impl Recipients for StoreRecipients {
    async fn check(&mut self, address: &str) -> Verdict {
        let r = match self.sys.resolve_address(address).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "recipient check failed");
                return Verdict::TryLater;
            }
        };
        match r.rejected.as_ref().map(|x| x.code) {
            Some("not_our_domain") => return Verdict::NotOurs,
            Some("mailbox_suspended") => return Verdict::Suspended,
            Some(_) => return Verdict::Unknown,
            None => {}
        }
        if !r.external.is_empty() {
            tracing::info!(
                address,
                "recipient forwards outside; deferred until outbound delivery exists"
            );
            return Verdict::CannotForward;
        }
        if r.mailboxes.is_empty() {
            return Verdict::Unknown;
        }
        // One full mailbox does not block a list; a single full mailbox asks the sender to retry.
        if r.mailboxes.len() == 1 {
            match self.sys.mailbox_is_full(r.mailboxes[0].mailbox_id).await {
                Ok(true) => return Verdict::OverQuota,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "quota check failed");
                    return Verdict::TryLater;
                }
            }
        }
        Verdict::Accept
    }
}
