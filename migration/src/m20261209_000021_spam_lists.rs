//! `spam_lists`: a tenant's allow and block lists for its spam filter, tenant-wide
//! (`mailbox_id` null) or for one mailbox. `pattern` is a lower-case address (`a@b.example`)
//! or domain (`b.example`, which covers its subdomains too).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SpamLists {
    Table,
    Id,
    TenantId,
    MailboxId,
    Kind,
    Pattern,
    Note,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SpamLists::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(SpamLists::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(SpamLists::TenantId).uuid().not_null())
                .col(ColumnDef::new(SpamLists::MailboxId).uuid().null())
                .col(ColumnDef::new(SpamLists::Kind).string().not_null())
                .col(ColumnDef::new(SpamLists::Pattern).string().not_null())
                .col(ColumnDef::new(SpamLists::Note).string().not_null())
                .col(
                    ColumnDef::new(SpamLists::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("spam_lists_tenant")
                .table(SpamLists::Table)
                .col(SpamLists::TenantId)
                .col(SpamLists::Pattern)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SpamLists::Table).to_owned())
            .await
    }
}
