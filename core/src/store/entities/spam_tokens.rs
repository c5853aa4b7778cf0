//! A tenant's own token counts for the spam classifier (see the migration that made the table).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "spam_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// The FNV-1a hash of the token, as a signed number.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token: i64,
    pub spam: i64,
    pub ham: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
