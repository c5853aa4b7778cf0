//! What the write path of new messages takes and gives: a message parsed once
//! ([`NewMessage`]), its copies ([`NewCopy`], one per mailbox, with the folder each goes to),
//! what became of each ([`StoredCopy`]), and the events announcing them. A leaf: the write path
//! (`delivery.rs`, `group_commit.rs`) and the tenant and system handles (`messages.rs`) all
//! depend on it, and it on none of them.

use super::entities::kinds::Source;
use super::mail_state::{self, ChangeKind};
use crate::bus::MailboxEvent;
use crate::mail::summary::Summary;
use chrono::{DateTime, Duration, Utc};
use std::borrow::Cow;
use uuid::Uuid;

/// Where a copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderTarget {
    /// The folder with this special use (`inbox`, `junk`, …); INBOX when the mailbox has none.
    SpecialUse(String),
    /// A folder by id (it must belong to the mailbox).
    Id(Uuid),
}

/// One copy to store.
#[derive(Debug, Clone)]
pub struct NewCopy {
    /// The mailbox.
    pub mailbox_id: Uuid,
    /// The folder.
    pub folder: FolderTarget,
    /// Flag bits ([`crate::mail::flags`]).
    pub flags: i32,
    /// Keywords.
    pub keywords: Vec<String>,
    /// What the ingest stages decided for this copy (JSON array).
    pub pipeline: serde_json::Value,
    /// Header fields the stages added to this copy, after the message's trace fields.
    pub extra_headers: String,
}

/// A message to store, parsed once.
pub struct NewMessage<'a> {
    /// The bytes received (after dot-unstuffing), or imported (owned when the message is
    /// handed to the group committer).
    pub body: Cow<'a, [u8]>,
    /// Trace header fields to put before the body (may be empty).
    pub trace_prefix: String,
    /// The parse-once summary of `body`. Its offsets are relative to the body: a reader adds
    /// the copy's `trace_prefix` length.
    pub summary: Cow<'a, Summary>,
    /// The words the message is found by ([`crate::mail::search::index_text`]).
    pub search_text: String,
    /// SPF/DKIM/DMARC results (JSON), for SMTP deliveries.
    pub auth_results: Option<String>,
    /// IMAP INTERNALDATE.
    pub internal_date: DateTime<Utc>,
    /// How it came in.
    pub source: Source,
    /// When set, a copy whose mailbox already holds this very body (same bytes, hence same
    /// Message-ID) stored within the window is not stored again: a client retrying after a
    /// lost `250` creates no visible duplicate.
    pub dedup_window: Option<Duration>,
}

/// What happened to one copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCopy {
    /// The mailbox.
    pub mailbox_id: Uuid,
    /// The message row (the earlier one, for a duplicate).
    pub message_id: Uuid,
    /// The folder.
    pub folder_id: Uuid,
    /// Its UID.
    pub uid: i64,
    /// Its MODSEQ.
    pub modseq: i64,
    /// True when the copy was a duplicate and nothing was stored.
    pub duplicate: bool,
}

/// Hex SHA-256.
pub fn blob_hash(body: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(body);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The events of stored copies, for the bus.
pub fn events_of(tenant_of: &[(Uuid, Uuid)], copies: &[StoredCopy]) -> Vec<MailboxEvent> {
    copies
        .iter()
        .filter(|c| !c.duplicate)
        .filter_map(|c| {
            let tenant = tenant_of.iter().find(|(m, _)| *m == c.mailbox_id)?.1;
            Some(mail_state::event(
                tenant,
                c.mailbox_id,
                c.folder_id,
                ChangeKind::Appended,
                c.uid,
                c.modseq,
            ))
        })
        .collect()
}
