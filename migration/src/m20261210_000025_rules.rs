//! `rules`: routing rules (filters). Each belongs to a tenant and to one list — the tenant's
//! (`level = tenant`), a domain's (`level = domain`, `domain_id`) or a mailbox's
//! (`level = mailbox`, `mailbox_id`) — at a `position` in it. `body` holds the conditions
//! and actions as JSON (checked when saved).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Rules {
    Table,
    Id,
    TenantId,
    Level,
    DomainId,
    MailboxId,
    Position,
    Name,
    Enabled,
    Body,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Rules::Table)
                .if_not_exists()
                .col(ColumnDef::new(Rules::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Rules::TenantId).uuid().not_null())
                .col(ColumnDef::new(Rules::Level).string().not_null())
                .col(ColumnDef::new(Rules::DomainId).uuid().null())
                .col(ColumnDef::new(Rules::MailboxId).uuid().null())
                .col(ColumnDef::new(Rules::Position).big_integer().not_null())
                .col(ColumnDef::new(Rules::Name).string().not_null())
                .col(ColumnDef::new(Rules::Enabled).boolean().not_null())
                .col(ColumnDef::new(Rules::Body).text().not_null())
                .col(
                    ColumnDef::new(Rules::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Rules::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("rules_list")
                .table(Rules::Table)
                .col(Rules::TenantId)
                .col(Rules::Level)
                .col(Rules::Position)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("rules_mailbox")
                .table(Rules::Table)
                .col(Rules::MailboxId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Rules::Table).to_owned())
            .await
    }
}
