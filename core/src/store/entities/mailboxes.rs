//! A mailbox: an address on a verified domain of the tenant, with its own password.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "mailboxes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub domain_id: Uuid,
    /// Lower case.
    pub local_part: String,
    /// `local_part@domain`, ASCII, lower case.
    pub address: String,
    pub display_name: String,
    /// argon2id.
    pub password_hash: String,
    /// `None`: unlimited.
    pub quota_bytes: Option<i64>,
    pub used_bytes: i64,
    /// `active` or `suspended`.
    pub status: super::kinds::MailboxStatus,
    /// `keep`, `move_to_trash` or `delete`.
    pub pop3_after_download: String,
    /// The mailbox's own Junk threshold; `None`: the tenant's.
    pub spam_junk_threshold: Option<f64>,
    /// Last UIDVALIDITY given to a folder; strictly increasing.
    pub uidvalidity_seq: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Set when deleted; its data is purged by a job.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
