//! `ix_messages_folder_modseq`: a folder's messages by MODSEQ. An IMAP session learns what
//! changed in its folder since the MODSEQ it knows (`TenantStore::index_changes`, after every
//! command that may have changed something); without this index that read walked every
//! message of the folder, 100,000 rows for a big INBOX, to find the few that changed.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    FolderId,
    Modseq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_messages_folder_modseq")
                .table(Messages::Table)
                .col(Messages::FolderId)
                .col(Messages::Modseq)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_messages_folder_modseq")
                .table(Messages::Table)
                .to_owned(),
        )
        .await
    }
}
