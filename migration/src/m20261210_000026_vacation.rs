//! Vacation auto-replies: `vacations` holds a mailbox's auto-reply (on or off, the dates it
//! runs between, subject, text, and how many days pass before the same sender is answered
//! again); `vacation_replies` records, per mailbox and sender, when the last reply went, so a
//! sender is answered once per interval.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Vacations {
    Table,
    MailboxId,
    TenantId,
    Enabled,
    Subject,
    Body,
    StartsAt,
    EndsAt,
    IntervalDays,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum VacationReplies {
    Table,
    MailboxId,
    Sender,
    TenantId,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Vacations::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(Vacations::MailboxId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Vacations::TenantId).uuid().not_null())
                .col(ColumnDef::new(Vacations::Enabled).boolean().not_null())
                .col(ColumnDef::new(Vacations::Subject).string().not_null())
                .col(ColumnDef::new(Vacations::Body).text().not_null())
                .col(
                    ColumnDef::new(Vacations::StartsAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Vacations::EndsAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(Vacations::IntervalDays).integer().not_null())
                .col(
                    ColumnDef::new(Vacations::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(VacationReplies::Table)
                .if_not_exists()
                .col(ColumnDef::new(VacationReplies::MailboxId).uuid().not_null())
                .col(ColumnDef::new(VacationReplies::Sender).string().not_null())
                .col(ColumnDef::new(VacationReplies::TenantId).uuid().not_null())
                .col(
                    ColumnDef::new(VacationReplies::SentAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(VacationReplies::MailboxId)
                        .col(VacationReplies::Sender),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("vacation_replies_sent")
                .table(VacationReplies::Table)
                .col(VacationReplies::SentAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(VacationReplies::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Vacations::Table).to_owned())
            .await
    }
}
