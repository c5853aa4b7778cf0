//! Spam quarantine: `spam_quarantine` holds, per recipient mailbox, a message whose score
//! reached its tenant's `quarantine_threshold` (new, nullable, on `spam_settings`) instead of
//! delivering it: who sent it, what it scored and why, and its bytes, until an administrator
//! releases it (into the mailbox's INBOX) or deletes it.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SpamQuarantine {
    Table,
    Id,
    TenantId,
    MailboxId,
    Sender,
    FromAddr,
    Subject,
    Score,
    Report,
    Size,
    Data,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SpamSettings {
    Table,
    QuarantineThreshold,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SpamQuarantine::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(SpamQuarantine::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(SpamQuarantine::TenantId).uuid().not_null())
                .col(ColumnDef::new(SpamQuarantine::MailboxId).uuid().not_null())
                .col(ColumnDef::new(SpamQuarantine::Sender).string().not_null())
                .col(ColumnDef::new(SpamQuarantine::FromAddr).string().not_null())
                .col(ColumnDef::new(SpamQuarantine::Subject).string().not_null())
                .col(ColumnDef::new(SpamQuarantine::Score).double().not_null())
                .col(ColumnDef::new(SpamQuarantine::Report).text().not_null())
                .col(
                    ColumnDef::new(SpamQuarantine::Size)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(SpamQuarantine::Data).binary().not_null())
                .col(
                    ColumnDef::new(SpamQuarantine::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("spam_quarantine_mailbox")
                .table(SpamQuarantine::Table)
                .col(SpamQuarantine::MailboxId)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(SpamSettings::Table)
                .add_column(
                    ColumnDef::new(SpamSettings::QuarantineThreshold)
                        .double()
                        .null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(SpamSettings::Table)
                .drop_column(SpamSettings::QuarantineThreshold)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(SpamQuarantine::Table).to_owned())
            .await
    }
}
