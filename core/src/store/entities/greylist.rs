//! A tenant's greylisting triplets when no Redis is configured (see the migration that made
//! the table).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "greylist")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// Hex SHA-256 of the client network, the envelope sender and the recipient.
    #[sea_orm(primary_key, auto_increment = false)]
    pub triplet: String,
    /// When the triplet was first refused (the retry must come after the delay).
    pub first_seen: DateTimeUtc,
    /// When a retry passed; from then on the triplet passes at once.
    pub passed_at: Option<DateTimeUtc>,
    /// When the row lapses (a new sighting starts over).
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
