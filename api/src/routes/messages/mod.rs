//! `/v1/mailboxes/{id}/messages` and `/v1/mailboxes/{id}/import`: what the message store holds,
//! and the way in for mail from another provider. A mailbox owner reaches its own mailbox
//! only; another tenant's mailbox or message is a 404.

pub mod import;
pub mod list;
pub mod raw;

use chrono::{DateTime, Utc};
use mailroom_core::mail::flags;
use mailroom_core::store::entities::messages;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A message as lists show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageSummary {
    /// Message id.
    pub id: Uuid,
    /// Its folder.
    pub folder_id: Uuid,
    /// IMAP UID in the folder.
    pub uid: i64,
    /// IMAP MODSEQ.
    pub modseq: i64,
    /// Its conversation.
    pub thread_id: Uuid,
    /// Subject, decoded.
    pub subject: String,
    /// The first From address (`Name <address>`).
    pub from: String,
    /// The Message-ID header, without angle brackets.
    pub message_id: Option<String>,
    /// Octets as stored (our trace header fields included): IMAP RFC822.SIZE.
    pub size: i64,
    /// `seen`, `answered`, `flagged`, `deleted`, `draft`.
    pub flags: Vec<String>,
    /// IMAP keywords.
    pub keywords: Vec<String>,
    /// When it arrived (IMAP INTERNALDATE).
    pub received_at: DateTime<Utc>,
    /// Its Date header.
    pub sent_at: Option<DateTime<Utc>>,
    /// The start of its text.
    pub preview: String,
    /// Whether it has attachments.
    pub has_attachments: bool,
}

impl From<messages::Model> for MessageSummary {
    fn from(m: messages::Model) -> Self {
        Self {
            id: m.id,
            folder_id: m.folder_id,
            uid: m.uid,
            modseq: m.modseq,
            thread_id: m.thread_id,
            subject: m.subject,
            from: m.from_addr,
            message_id: m.message_id_header,
            size: m.size,
            flags: flags::names(m.flags)
                .into_iter()
                .map(String::from)
                .collect(),
            keywords: serde_json::from_str(&m.keywords).unwrap_or_default(),
            received_at: m.internal_date,
            sent_at: m.sent_at,
            preview: m.preview,
            has_attachments: m.has_attachments,
        }
    }
}

crate::list_type!(MessageList, MessageSummary);
