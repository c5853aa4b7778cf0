//! `mailboxes.spam_junk_threshold`: a mailbox's own Junk threshold for the spam filter (its
//! owner may set it); null: the tenant's.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Mailboxes {
    Table,
    SpamJunkThreshold,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Mailboxes::Table)
                .add_column(ColumnDef::new(Mailboxes::SpamJunkThreshold).double().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Mailboxes::Table)
                .drop_column(Mailboxes::SpamJunkThreshold)
                .to_owned(),
        )
        .await
    }
}
