//! POP3: `messages.wire_size` (the octets RETR sends once line endings are CRLF, before
//! byte-stuffing: what LIST and STAT report; NULL for messages stored before it, which POP3
//! counts from the bytes), `pop3_leases` (one POP3 session per mailbox across processes: a
//! lease its holder renews, so a crashed process cannot hold a mailbox for long) and
//! `pop3_taken` (messages a POP3 client deleted from a mailbox whose `pop3_after_download` is
//! `keep`: they stay in INBOX for IMAP and the API, and POP3 no longer lists them).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    WireSize,
}

#[derive(DeriveIden)]
enum Pop3Leases {
    Table,
    MailboxId,
    TenantId,
    Holder,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Pop3Taken {
    Table,
    MessageId,
    TenantId,
    MailboxId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::WireSize).big_integer().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Pop3Leases::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(Pop3Leases::MailboxId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Pop3Leases::TenantId).uuid().not_null())
                .col(ColumnDef::new(Pop3Leases::Holder).uuid().not_null())
                .col(
                    ColumnDef::new(Pop3Leases::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Pop3Taken::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(Pop3Taken::MessageId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Pop3Taken::TenantId).uuid().not_null())
                .col(ColumnDef::new(Pop3Taken::MailboxId).uuid().not_null())
                .col(
                    ColumnDef::new(Pop3Taken::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("pop3_taken_mailbox")
                .table(Pop3Taken::Table)
                .col(Pop3Taken::MailboxId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Pop3Taken::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Pop3Leases::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .drop_column(Messages::WireSize)
                .to_owned(),
        )
        .await
    }
}
