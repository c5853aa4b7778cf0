//! The bytes of a large body after its first MiB, one MiB per row, in order of `seq` (from 1).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blob_parts")]
pub struct Model {
    /// The blob's hash.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash: String,
    /// 1 for the second MiB, 2 for the third…
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i32,
    #[sea_orm(column_type = "Blob")]
    pub data: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
