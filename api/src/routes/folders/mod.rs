//! `/v1/mailboxes/{id}/folders`: a mailbox's folders (the hierarchy separator is `/`).

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod update;

use chrono::{DateTime, Utc};
use mailroom_core::store::entities::folders;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A folder.
#[derive(Debug, Serialize, ToSchema)]
pub struct FolderResponse {
    /// Folder id.
    pub id: Uuid,
    /// Its mailbox.
    pub mailbox_id: Uuid,
    /// Full path, levels separated by `/` (`Projects/2026`).
    pub name: String,
    /// The parent's path, null at the top.
    pub parent: Option<String>,
    /// `inbox`, `sent`, `drafts`, `junk`, `trash`, `archive` (RFC 6154), or null.
    pub special_use: Option<String>,
    /// Subscribed (shown by IMAP LSUB / LIST (SUBSCRIBED)).
    pub subscribed: bool,
    /// IMAP UIDVALIDITY.
    pub uidvalidity: i64,
    /// IMAP UIDNEXT.
    pub uidnext: i64,
    /// IMAP HIGHESTMODSEQ (RFC 7162).
    pub highestmodseq: i64,
    /// Messages in the folder.
    pub total: i64,
    /// Messages not yet read.
    pub unread: i64,
    /// Octets of its messages (as stored, IMAP RFC822.SIZE).
    pub size: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<folders::Model> for FolderResponse {
    fn from(f: folders::Model) -> Self {
        Self {
            id: f.id,
            mailbox_id: f.mailbox_id,
            parent: f.name.rsplit_once('/').map(|(p, _)| p.to_string()),
            name: f.name,
            special_use: f.special_use,
            subscribed: f.subscribed,
            uidvalidity: f.uidvalidity,
            uidnext: f.uidnext,
            highestmodseq: f.highestmodseq,
            total: f.total_messages,
            unread: f.unseen_messages,
            size: f.total_bytes,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

crate::list_type!(FolderList, FolderResponse);
