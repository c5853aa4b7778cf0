//! `/v1/mailboxes`: mailboxes on the tenant's verified domains, their passwords and app
//! passwords. A mailbox owner's token reaches its own mailbox only.

pub mod app_passwords;
pub mod create;
pub mod delete;
pub mod get;
pub mod identities;
pub mod list;
pub mod password;
pub mod signatures;
pub mod update;
pub mod vacation;

use chrono::{DateTime, Utc};
use mailroom_core::store::entities::mailboxes;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A mailbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailboxResponse {
    /// Mailbox id.
    pub id: Uuid,
    /// Its domain.
    pub domain_id: Uuid,
    /// `local_part@domain` (also its login for IMAP, POP3, SMTP and `/v1/auth/login`).
    pub address: String,
    /// The part before `@`, lower case.
    pub local_part: String,
    /// Display name.
    pub display_name: String,
    /// Quota in bytes; null is unlimited.
    pub quota_bytes: Option<i64>,
    /// Bytes stored.
    pub used_bytes: i64,
    /// `active` or `suspended`.
    pub status: String,
    /// What POP3 does after download: `keep`, `move_to_trash` or `delete`.
    pub pop3_after_download: String,
    /// The mailbox's own spam Junk threshold; null: the organisation's.
    pub spam_junk_threshold: Option<f64>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<mailboxes::Model> for MailboxResponse {
    fn from(m: mailboxes::Model) -> Self {
        Self {
            id: m.id,
            domain_id: m.domain_id,
            address: m.address,
            local_part: m.local_part,
            display_name: m.display_name,
            quota_bytes: m.quota_bytes,
            used_bytes: m.used_bytes,
            status: m.status.to_string(),
            pop3_after_download: m.pop3_after_download,
            spam_junk_threshold: m.spam_junk_threshold,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

crate::list_type!(MailboxList, MailboxResponse);
