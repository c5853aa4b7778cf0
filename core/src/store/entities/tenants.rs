//! A tenant: one business on the platform.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    /// `active` or `suspended`.
    pub status: super::kinds::TenantStatus,
    pub max_domains: Option<i64>,
    pub max_mailboxes: Option<i64>,
    pub max_storage_bytes: Option<i64>,
    pub max_messages_per_day: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Set when the tenant was deleted; its data is purged by a job.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
