//! A message a tenant's classifier learnt, by digest (see the migration that made the table).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "spam_learned")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// SHA-256 of the message's bytes, hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub digest: String,
    /// Learnt as spam (else ham).
    pub spam: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
