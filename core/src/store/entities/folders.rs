//! A folder of a mailbox, with its IMAP state.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "folders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub mailbox_id: Uuid,
    /// Full path, levels separated by `/`.
    pub name: String,
    /// `inbox`, `sent`, `drafts`, `junk`, `trash`, `archive`, or none.
    pub special_use: Option<String>,
    pub uidvalidity: i64,
    pub uidnext: i64,
    pub highestmodseq: i64,
    pub recent_uid: i64,
    pub subscribed: bool,
    /// Messages in the folder (kept by every write, in its transaction).
    pub total_messages: i64,
    /// Messages without `\Seen`.
    pub unseen_messages: i64,
    /// Octets of its messages.
    pub total_bytes: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
