//! A login session: every refresh token issued from one login belongs to it, so revoking the
//! session revokes the whole family.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The user, for a user's session.
    pub user_id: Option<Uuid>,
    /// The mailbox, for a mailbox owner's session.
    pub mailbox_id: Option<Uuid>,
    pub tenant_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
