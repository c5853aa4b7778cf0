//! A message held in a tenant's spam quarantine for one mailbox (see the migration that made
//! the table).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "spam_quarantine")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub mailbox_id: Uuid,
    /// The SMTP reverse path.
    pub sender: String,
    /// The From address ("" when none).
    pub from_addr: String,
    pub subject: String,
    pub score: f64,
    /// The verdict's JSON (score, symbols).
    pub report: String,
    pub size: i64,
    pub data: Vec<u8>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
