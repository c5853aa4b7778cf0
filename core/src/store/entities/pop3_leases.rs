//! Who holds a mailbox's POP3 session, until when (see the migration that made the table).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pop3_leases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub mailbox_id: Uuid,
    pub tenant_id: Uuid,
    /// The session holding it.
    pub holder: Uuid,
    /// A holder that stops renewing loses it then.
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
