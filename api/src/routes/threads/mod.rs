//! `/v1/mailboxes/{id}/threads`: the conversation view. A thread is every message of a
//! mailbox that Message-ID, In-Reply-To and References (or, for replies without them, the
//! subject within a week) tie together, whatever folder each copy is in — Sent included.

pub mod get;
pub mod list;

use crate::routes::messages::MessageSummary;
use chrono::{DateTime, Utc};
use mailroom_core::store::ThreadSummary;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// One conversation in a thread list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThreadItem {
    /// Thread id.
    pub id: Uuid,
    /// The subject of its latest message in the folder listed.
    pub subject: String,
    /// The start of that message's text.
    pub snippet: String,
    /// Distinct senders, latest first (at most 10).
    pub participants: Vec<String>,
    /// Messages in the conversation, in every folder.
    pub message_count: i64,
    /// Unread messages in the conversation.
    pub unread_count: i64,
    /// Arrival of its latest message in the folder listed (the list's order).
    pub latest_at: DateTime<Utc>,
    /// Whether its latest message in the folder has attachments.
    pub has_attachments: bool,
    /// That latest message.
    pub latest_message_id: Uuid,
}

impl From<ThreadSummary> for ThreadItem {
    fn from(t: ThreadSummary) -> Self {
        Self {
            id: t.id,
            subject: t.latest.subject,
            snippet: t.latest.preview,
            participants: t.participants,
            message_count: t.message_count,
            unread_count: t.unread_count,
            latest_at: t.latest.internal_date,
            has_attachments: t.latest.attachment_count > 0,
            latest_message_id: t.latest.id,
        }
    }
}

crate::list_type!(ThreadList, ThreadItem);
crate::list_type!(ThreadMessages, MessageSummary);
