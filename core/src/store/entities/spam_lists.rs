//! An allow or block list entry of a tenant's spam filter (see the migration that made the
//! table).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "spam_lists")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `None`: every mailbox of the tenant.
    pub mailbox_id: Option<Uuid>,
    /// `allow` or `block`.
    pub kind: String,
    /// A lower-case address or domain.
    pub pattern: String,
    pub note: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
