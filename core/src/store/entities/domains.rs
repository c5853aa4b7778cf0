//! A tenant's claim on a domain name.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "domains")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// ASCII (punycode), lower case.
    pub name: String,
    pub unicode_name: String,
    /// `pending` or `verified` (at most one tenant holds a name verified).
    pub status: super::kinds::DomainStatus,
    pub verification_token: String,
    /// DMARC policy suggested in the records list.
    pub dmarc_policy: String,
    pub verified_at: Option<DateTimeUtc>,
    pub last_checked_at: Option<DateTimeUtc>,
    /// Unix milliseconds of the next scheduled re-check.
    pub next_check_at: i64,
    /// JSON list of the last check's records.
    pub check_results: Option<String>,
    /// A domain alias: every address here delivers as the same address of that domain.
    pub alias_of: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
