//! IMAP subscriptions to names that are not folders (RFC 9051 §6.3.7: a subscription outlives
//! the mailbox it names, and one may subscribe to a name that does not exist). A folder's own
//! subscription stays in `folders.subscribed`; a row here exists only while no folder has the
//! name: deleting a subscribed folder leaves one, creating a folder takes it back.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Subscriptions {
    Table,
    Id,
    TenantId,
    MailboxId,
    Name,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Subscriptions::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(Subscriptions::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Subscriptions::TenantId).uuid().not_null())
                .col(ColumnDef::new(Subscriptions::MailboxId).uuid().not_null())
                .col(
                    ColumnDef::new(Subscriptions::Name)
                        .string_len(512)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Subscriptions::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("subscriptions_mailbox_name")
                .table(Subscriptions::Table)
                .col(Subscriptions::MailboxId)
                .col(Subscriptions::Name)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Subscriptions::Table).to_owned())
            .await
    }
}
