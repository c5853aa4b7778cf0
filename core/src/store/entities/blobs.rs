//! A distinct message body (the bytes received), stored once and keyed by its SHA-256.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blobs")]
pub struct Model {
    /// Lower-case hex SHA-256 of `data`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash: String,
    pub size: i64,
    #[sea_orm(column_type = "Blob")]
    pub data: Vec<u8>,
    /// Normalised words for search (see [`crate::mail::summary::search_words`]); Postgres
    /// indexes them as the generated `search_tsv`.
    pub search_text: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
