//! Recipient look-ups for the SMTP state machine's [`Step::CheckRecipient`]: the
//! [`Recipients`] trait and its production implementation over the address resolver and
//! mailbox quotas.
//!
//! [`Step::CheckRecipient`]: mailroom_proto::smtp::Step::CheckRecipient

use mailroom_core::health::Part;
use mailroom_core::store::{SendGuard, SystemStore};
pub use mailroom_proto::smtp::Verdict;
use std::collections::HashMap;
use uuid::Uuid;

/// Answers the state machine's recipient look-ups and tells it of the storage's state.
#[allow(async_fn_in_trait)]
pub trait Recipients {
    /// The verdict for one recipient address.
    async fn check(&mut self, address: &str) -> Verdict;

    /// Whether the storage is too full to take mail now (answered at MAIL: `452 4.3.1`).
    fn storage_low(&self) -> bool {
        false
    }
}

/// Addresses remembered per session before the memory is cleared.
const MAX_REMEMBERED: usize = 1000;

/// Checks recipients against every tenant's verified domains, as an MX must, and remembers
/// what each accepted address expands to, so DATA does not resolve it again.
pub struct StoreRecipients {
    sys: SystemStore,
    resolved: HashMap<String, (Vec<Uuid>, Vec<SendGuard>)>,
}

impl StoreRecipients {
    /// Over the given store.
    pub fn new(sys: SystemStore) -> Self {
        Self {
            sys,
            resolved: HashMap::new(),
        }
    }

    /// The first mailbox an accepted `address` resolved to (greylisting asks its tenant).
    pub fn first_mailbox(&self, address: &str) -> Option<Uuid> {
        self.resolved
            .get(&address.to_lowercase())
            .and_then(|(ids, _)| ids.first().copied())
    }

    /// The mailboxes the accepted `rcpts` expand to, each once, and the sending policies they
    /// reach, as resolved at RCPT; empty when one of them was not resolved here (the pipeline
    /// then resolves them itself). Forgets every resolution: the next transaction starts afresh.
    pub fn take_mailboxes(&mut self, rcpts: &[String]) -> (Vec<Uuid>, Vec<SendGuard>) {
        let mut out = Vec::new();
        let mut guards = Vec::new();
        for r in rcpts {
            let Some((ids, g)) = self.resolved.get(&r.to_lowercase()) else {
                self.resolved.clear();
                return (Vec::new(), Vec::new());
            };
            for id in ids {
                if !out.contains(id) {
                    out.push(*id);
                }
            }
            guards.extend(g.iter().cloned());
        }
        self.resolved.clear();
        (out, guards)
    }
}

impl Recipients for StoreRecipients {
    fn storage_low(&self) -> bool {
        self.sys.health().is_down(Part::Disk)
    }

    async fn check(&mut self, address: &str) -> Verdict {
        let r = match self.sys.resolve_address(address).await {
            Ok(r) => r,
            Err(e) => {
                // An outage is logged once by the health state; anything else here is a bug.
                if e.outage().is_some() {
                    self.sys.health().failed(Part::Database, &e);
                } else {
                    tracing::warn!(error = %e, "recipient check failed");
                }
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
        if r.mailboxes.len() == 1 && r.mailboxes[0].full {
            return Verdict::OverQuota;
        }
        if self.resolved.len() >= MAX_REMEMBERED {
            self.resolved.clear();
        }
        self.resolved.insert(
            address.to_lowercase(),
            (
                r.mailboxes.iter().map(|d| d.mailbox_id).collect(),
                r.send_policies,
            ),
        );
        Verdict::Accept
    }
}
