//! The job queue's vocabulary: job kinds, [`NewJob`], [`FailOutcome`] and the retry backoff.
//! The queue itself (rows in the `jobs` table: enqueue, claim, complete, fail) is
//! `store/jobs.rs`; this module knows nothing of the store.
//!
//! A job is enqueued in the same transaction as the change that causes it, so the two commit
//! or fail together. Workers claim due jobs with a lease (`FOR UPDATE SKIP LOCKED` on Postgres;
//! SQLite has a single writer, so its `UPDATE … RETURNING` is atomic on its own). A worker that
//! dies loses its lease and the job is claimed again: handlers must be idempotent.

use chrono::{DateTime, Utc};
use std::time::Duration;
use uuid::Uuid;

/// Purges a deleted tenant's data. Payload: `{"tenant_id": "…"}`.
pub const TENANT_PURGE: &str = "tenant.purge";
/// Re-checks a domain's DNS records. Payload: `{"domain_id": "…"}`; the job's tenant is set.
pub const DOMAIN_CHECK: &str = "domain.check";
/// Purges a deleted mailbox's data. Payload: `{"mailbox_id": "…"}`.
pub const MAILBOX_PURGE: &str = "mailbox.purge";
/// Delivers a sent message to its recipients at one domain. Payload:
/// `{"outbound_id": "…", "domain": "…"}`; the job's tenant is set. Retries of deferred
/// recipients are new jobs of this kind, due when the recipients are.
pub const OUTBOUND_DELIVER: &str = "outbound.deliver";
/// Teaches a tenant's spam classifier from messages a user moved into Junk (spam) or out of
/// it (ham). Payload: `{"mailbox_id": "…", "message_ids": ["…"], "verdict": "spam"|"ham"}`;
/// the job's tenant is set.
pub const SPAM_LEARN: &str = "spam.learn";
/// Sends a mailbox's vacation auto-reply to a sender. Payload: `{"mailbox_id": "…", "to": "…",
/// "subject": "…", "message_id": "…", "references": ["…"]}` (the message answered); the job's
/// tenant is set.
pub const VACATION_REPLY: &str = "vacation.reply";
/// Default attempts before a job is dead.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 10;

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The handler's name, such as [`TENANT_PURGE`].
    pub kind: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// The tenant it works for, if any.
    pub tenant_id: Option<Uuid>,
    /// When it becomes due.
    pub run_at: DateTime<Utc>,
    /// Attempts before it is dead.
    pub max_attempts: i32,
}

impl NewJob {
    /// A job due now.
    pub fn new(kind: &str, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
            tenant_id: None,
            run_at: Utc::now(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// For this tenant.
    pub fn tenant(mut self, id: Uuid) -> Self {
        self.tenant_id = Some(id);
        self
    }

    /// Due at this time.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = at;
        self
    }

    /// With this many attempts.
    pub fn max_attempts(mut self, n: i32) -> Self {
        self.max_attempts = std::cmp::max(n, 1);
        self
    }
}

/// What became of a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// It will run again at the given Unix milliseconds.
    Retry(i64),
    /// It ran out of attempts.
    Dead,
    /// This worker no longer held it (its lease lapsed and another worker took it).
    LostLease,
}

/// Exponential backoff: `base · 2^(attempt-1)`, capped at `max`, with up to 20% jitter so
/// failing jobs do not retry in lockstep.
pub fn backoff(attempt: i32, base: Duration, max: Duration) -> Duration {
    let exp = attempt.clamp(1, 30) as u32 - 1;
    let raw = base.saturating_mul(2u32.saturating_pow(exp)).min(max);
    let jitter = crate::secrets::random_bytes::<2>()
        .map(|b| u16::from_le_bytes(b) as u64)
        .unwrap_or(0);
    let extra = raw.as_millis() as u64 * (jitter % 200) / 1000;
    raw + Duration::from_millis(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let (b, m) = (Duration::from_secs(10), Duration::from_secs(3600));
        assert!(backoff(1, b, m) >= b && backoff(1, b, m) < Duration::from_secs(13));
        assert!(backoff(3, b, m) >= Duration::from_secs(40));
        assert!(backoff(30, b, m) <= Duration::from_secs(4320));
    }
}
