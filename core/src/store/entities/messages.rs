//! One copy of a message in one folder of one mailbox, with its IMAP state and the parse-once
//! summary.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub mailbox_id: Uuid,
    pub folder_id: Uuid,
    /// Unique within the folder, allocated in the storing transaction.
    pub uid: i64,
    pub modseq: i64,
    pub blob_hash: String,
    /// Trace header fields we added; the message is this prefix followed by the blob.
    pub trace_prefix: String,
    /// Octets of prefix + blob.
    pub size: i64,
    /// Octets POP3 sends (line endings made CRLF, before byte-stuffing); `None` for messages
    /// stored before it was recorded.
    pub wire_size: Option<i64>,
    /// Bits: see [`crate::mail::flags`].
    pub flags: i32,
    /// JSON array of keywords.
    pub keywords: String,
    pub internal_date: DateTimeUtc,
    pub thread_id: Uuid,
    /// Message-ID without angle brackets.
    pub message_id_header: Option<String>,
    pub subject: String,
    /// The first From address as shown (`Name <addr>`).
    pub from_addr: String,
    /// The To and Cc addresses as shown, comma-separated.
    pub to_addrs: String,
    /// The Date header.
    pub sent_at: Option<DateTimeUtc>,
    pub preview: String,
    pub has_attachments: bool,
    /// Attachments listed in the summary.
    pub attachment_count: i32,
    /// JSON [`crate::mail::summary::Summary`].
    pub summary: String,
    /// JSON [`crate::mail::authn::AuthOutcome`].
    pub auth_results: Option<String>,
    /// JSON array of stage notes.
    pub pipeline: String,
    /// `smtp` or `import`.
    pub source: super::kinds::Source,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
