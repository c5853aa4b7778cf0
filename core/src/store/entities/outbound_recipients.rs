//! One recipient of an outbound message and how its delivery stands.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbound_recipients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub outbound_id: Uuid,
    pub mailbox_id: Uuid,
    /// The address, as given.
    pub recipient: String,
    /// Its domain, lower case: recipients of one domain go in one transaction.
    pub domain: String,
    pub status: super::kinds::DeliveryStatus,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// When it is tried next (while queued or deferred).
    pub next_attempt_at: DateTimeUtc,
    /// The last SMTP reply code, when there was one.
    pub last_code: Option<i32>,
    /// The last reply's text, or what went wrong.
    pub last_reply: String,
    /// The sender was told the delivery is late.
    pub delay_notified: bool,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
