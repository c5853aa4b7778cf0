//! A routing rule (see the migration that made the table).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `tenant`, `domain` or `mailbox`: the list it is in.
    pub level: String,
    /// For `level = domain`.
    pub domain_id: Option<Uuid>,
    /// For `level = mailbox`.
    pub mailbox_id: Option<Uuid>,
    /// Its place in its list (lower first).
    pub position: i64,
    pub name: String,
    pub enabled: bool,
    /// The conditions and actions ([`crate::rules::RuleBody`] as JSON).
    pub body: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
