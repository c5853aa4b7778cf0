//! The statuses and kinds stored as strings, as enums: each variant is mapped to its database
//! string here and nowhere else (`DeriveActiveEnum`), so a typo is a compile error and a new
//! state is added in one place.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A job's state (`jobs.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum JobStatus {
    /// Waiting to be claimed (when due).
    #[sea_orm(string_value = "queued")]
    Queued,
    /// Claimed by a worker under a lease.
    #[sea_orm(string_value = "running")]
    Running,
    /// Finished.
    #[sea_orm(string_value = "done")]
    Done,
    /// Out of attempts.
    #[sea_orm(string_value = "dead")]
    Dead,
}

/// A custom domain's state (`domains.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum DomainStatus {
    /// Ownership not proved yet.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Ownership proved by DNS.
    #[sea_orm(string_value = "verified")]
    Verified,
}

/// A DKIM key's place in its rotation (`dkim_keys.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum KeyStatus {
    /// Made, waiting for its DNS record to be published.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Signs outgoing mail.
    #[sea_orm(string_value = "active")]
    Active,
    /// Replaced; its record stays published until `retire_at`.
    #[sea_orm(string_value = "retiring")]
    Retiring,
    /// Gone from use.
    #[sea_orm(string_value = "retired")]
    Retired,
}

/// How a message came in (`messages.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Source {
    /// Received over SMTP.
    #[sea_orm(string_value = "smtp")]
    Smtp,
    /// Imported through REST (and IMAP APPEND, later).
    #[sea_orm(string_value = "import")]
    Import,
    /// The sender's own copy of a message it sent (SMTP submission, REST send).
    #[sea_orm(string_value = "submission")]
    Submission,
}

/// How the delivery to one outbound recipient stands (`outbound_recipients.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not tried yet.
    #[sea_orm(string_value = "queued")]
    Queued,
    /// Tried and refused for now (4xx, no connection): tried again later.
    #[sea_orm(string_value = "deferred")]
    Deferred,
    /// Accepted by the recipient's server (or stored, for a mailbox of this deployment).
    #[sea_orm(string_value = "delivered")]
    Delivered,
    /// Refused for good (5xx), or still deferred when the message expired: the sender got a
    /// delivery status notification.
    #[sea_orm(string_value = "bounced")]
    Bounced,
}

impl DeliveryStatus {
    /// Whether nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Bounced)
    }
}

/// A user's state (`users.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum UserStatus {
    /// May log in and act.
    #[sea_orm(string_value = "active")]
    Active,
    /// Refused at login and on every request.
    #[sea_orm(string_value = "disabled")]
    Disabled,
}

/// A mailbox's state (`mailboxes.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum MailboxStatus {
    /// Receives mail; its owner may log in.
    #[sea_orm(string_value = "active")]
    Active,
    /// Mail to it is refused (`550 5.2.1`); its owner cannot log in.
    #[sea_orm(string_value = "suspended")]
    Suspended,
}

/// A tenant's state (`tenants.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum TenantStatus {
    /// In service.
    #[sea_orm(string_value = "active")]
    Active,
    /// Its users and keys are refused.
    #[sea_orm(string_value = "suspended")]
    Suspended,
}

/// Shows each kind as its database string (the API shows the same words).
macro_rules! shown_as_stored {
    ($($t:ty),* $(,)?) => {
        $(
            impl std::fmt::Display for $t {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str(&self.to_value())
                }
            }
        )*
    };
}

shown_as_stored!(
    JobStatus,
    DomainStatus,
    KeyStatus,
    Source,
    UserStatus,
    MailboxStatus,
    TenantStatus,
);

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn kinds_read_back_what_they_store() {
        for s in JobStatus::iter() {
            assert_eq!(JobStatus::try_from_value(&s.to_value()).ok(), Some(s));
        }
        for s in KeyStatus::iter() {
            assert_eq!(KeyStatus::try_from_value(&s.to_string()).ok(), Some(s));
        }
        assert_eq!(DomainStatus::Verified.to_string(), "verified");
        assert_eq!(Source::Import.to_string(), "import");
        assert!(JobStatus::try_from_value(&"finished".to_string()).is_err());
    }
}
