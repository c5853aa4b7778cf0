//! Large message bodies in parts: `blobs.data` holds the first MiB of a body and
//! `blob_parts` the rest, one MiB per row, so storing or reading a 50 MiB message never passes
//! one 50 MiB value through the database driver (each copy of it costs that much memory).
//! Bodies stored before this step keep all their bytes in `blobs.data`, which readers accept.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BlobParts {
    Table,
    Hash,
    Seq,
    Data,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BlobParts::Table)
                .if_not_exists()
                .col(ColumnDef::new(BlobParts::Hash).string_len(64).not_null())
                .col(ColumnDef::new(BlobParts::Seq).integer().not_null())
                .col(ColumnDef::new(BlobParts::Data).blob().not_null())
                .primary_key(Index::create().col(BlobParts::Hash).col(BlobParts::Seq))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(BlobParts::Table).to_owned())
            .await
    }
}
