//! A person who logs in: a platform admin (no tenant) or a tenant's owner, admin or member.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub email: String,
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// `platform_admin`, `owner`, `admin` or `member`.
    pub role: String,
    /// `active` or `disabled`.
    pub status: super::kinds::UserStatus,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
