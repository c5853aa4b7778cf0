//! A DKIM key of a domain.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dkim_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub domain_id: Uuid,
    pub selector: String,
    /// `rsa-sha256` or `ed25519-sha256`.
    pub algorithm: String,
    /// The `p=` value of the DNS record.
    pub public_key: String,
    /// PKCS#8 private key, sealed (see `crate::crypto`).
    pub private_key: String,
    /// `pending` (new, not yet seen in DNS), `active` (signs), `retiring` (still signs until
    /// `retire_at`), `retired`.
    pub status: super::kinds::KeyStatus,
    pub created_at: DateTimeUtc,
    pub activated_at: Option<DateTimeUtc>,
    pub retire_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
