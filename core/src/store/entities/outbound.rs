//! A message on its way out (see the migration that made the table).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbound")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The mailbox that sent it.
    pub mailbox_id: Uuid,
    /// The envelope sender (bounces go back to it).
    pub sender: String,
    /// Its `Message-ID`, without angle brackets.
    pub message_id: String,
    /// Its subject, for bounce notices and listings.
    pub subject: String,
    /// Octets as sent.
    pub size: i64,
    /// The message as sent (DKIM signature included); `None` once every recipient is final.
    pub data: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    /// The last moment a deferred recipient is tried; then it bounces.
    pub expires_at: DateTimeUtc,
    /// The sender's copy in Sent, once stored.
    pub sent_message_id: Option<Uuid>,
    /// The `Idempotency-Key` of the REST request that sent it.
    pub idempotency_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
