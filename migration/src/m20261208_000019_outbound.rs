//! The outbound queue: `outbound` (one row per message sent: who sent it, the bytes as signed,
//! until when it may be retried) and `outbound_recipients` (one row per recipient: its domain,
//! delivery state, attempts, the last reply). Delivery jobs (`outbound.deliver`, one per message
//! and recipient domain) read them; the message bytes are dropped once every recipient is final.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbound {
    Table,
    Id,
    TenantId,
    MailboxId,
    Sender,
    MessageId,
    Subject,
    Size,
    Data,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OutboundRecipients {
    Table,
    Id,
    TenantId,
    OutboundId,
    MailboxId,
    Recipient,
    Domain,
    Status,
    Attempts,
    NextAttemptAt,
    LastCode,
    LastReply,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Outbound::Table)
                .if_not_exists()
                .col(ColumnDef::new(Outbound::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Outbound::TenantId).uuid().not_null())
                .col(ColumnDef::new(Outbound::MailboxId).uuid().not_null())
                .col(ColumnDef::new(Outbound::Sender).string().not_null())
                .col(ColumnDef::new(Outbound::MessageId).string().not_null())
                .col(ColumnDef::new(Outbound::Subject).string().not_null())
                .col(ColumnDef::new(Outbound::Size).big_integer().not_null())
                .col(ColumnDef::new(Outbound::Data).binary().null())
                .col(
                    ColumnDef::new(Outbound::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Outbound::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("outbound_mailbox")
                .table(Outbound::Table)
                .col(Outbound::MailboxId)
                .col(Outbound::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(OutboundRecipients::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(OutboundRecipients::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(OutboundRecipients::TenantId)
                        .uuid()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboundRecipients::OutboundId)
                        .uuid()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboundRecipients::MailboxId)
                        .uuid()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboundRecipients::Recipient)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboundRecipients::Domain)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboundRecipients::Status)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboundRecipients::Attempts)
                        .integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboundRecipients::NextAttemptAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboundRecipients::LastCode)
                        .integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(OutboundRecipients::LastReply)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(OutboundRecipients::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("outbound_recipients_message")
                .table(OutboundRecipients::Table)
                .col(OutboundRecipients::OutboundId)
                .col(OutboundRecipients::Domain)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(OutboundRecipients::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Outbound::Table).to_owned())
            .await
    }
}
