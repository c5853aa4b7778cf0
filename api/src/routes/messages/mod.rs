//! `/v1/mailboxes/{id}/messages`, `…/search` and `…/import`: reading, changing and finding
//! what the message store holds, and the way in for mail from another provider. Every change
//! bumps MODSEQ and publishes the mailbox event exactly as IMAP would. A mailbox owner reaches its own mailbox
//! only; another tenant's mailbox or message is a 404.

pub mod attachment;
pub mod batch;
pub mod delete;
pub mod get;
pub mod import;
pub mod list;
pub mod raw;
pub mod search;
pub mod update;

use chrono::{DateTime, Utc};
use mailroom_core::mail::flags;
use mailroom_core::store::MessageRow;
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
    /// To and Cc addresses (`Name <address>`, comma-separated).
    pub to: String,
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
    /// How many attachments it has.
    pub attachment_count: i32,
}

impl From<MessageRow> for MessageSummary {
    fn from(m: MessageRow) -> Self {
        Self {
            id: m.id,
            folder_id: m.folder_id,
            uid: m.uid,
            modseq: m.modseq,
            thread_id: m.thread_id,
            subject: m.subject,
            from: m.from_addr,
            to: m.to_addrs,
            message_id: m.message_id_header,
            size: m.size,
            flags: flag_names(m.flags),
            keywords: serde_json::from_str(&m.keywords).unwrap_or_default(),
            received_at: m.internal_date,
            sent_at: m.sent_at,
            preview: m.preview,
            has_attachments: m.attachment_count > 0,
            attachment_count: m.attachment_count,
        }
    }
}

/// The names of flag bits.
pub fn flag_names(bits: i32) -> Vec<String> {
    flags::names(bits).into_iter().map(String::from).collect()
}

crate::list_type!(MessageList, MessageSummary);
