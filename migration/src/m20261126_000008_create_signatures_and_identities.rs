use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Mailboxes {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Signatures {
    Table,
    Id,
    TenantId,
    MailboxId,
    Name,
    TextBody,
    HtmlBody,
    IsDefault,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Identities {
    Table,
    Id,
    TenantId,
    MailboxId,
    Email,
    Name,
    ReplyTo,
    Bcc,
    SignatureId,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Signatures::Table)
                .col(pk_uuid(Signatures::Id))
                .col(uuid(Signatures::TenantId))
                .col(uuid(Signatures::MailboxId))
                .col(string_len(Signatures::Name, 100))
                .col(text(Signatures::TextBody))
                // Sanitised (ammonia) before storage.
                .col(text(Signatures::HtmlBody))
                .col(boolean(Signatures::IsDefault))
                .col(timestamp_with_time_zone(Signatures::CreatedAt))
                .col(timestamp_with_time_zone(Signatures::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Signatures::Table, Signatures::MailboxId)
                        .to(Mailboxes::Table, Mailboxes::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_signatures_mailbox")
                .table(Signatures::Table)
                .col(Signatures::MailboxId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Identities::Table)
                .col(pk_uuid(Identities::Id))
                .col(uuid(Identities::TenantId))
                .col(uuid(Identities::MailboxId))
                .col(string_len(Identities::Email, 320))
                .col(string_len(Identities::Name, 200))
                // JSON arrays of addresses.
                .col(text(Identities::ReplyTo))
                .col(text(Identities::Bcc))
                .col(uuid_null(Identities::SignatureId))
                .col(timestamp_with_time_zone(Identities::CreatedAt))
                .col(timestamp_with_time_zone(Identities::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Identities::Table, Identities::MailboxId)
                        .to(Mailboxes::Table, Mailboxes::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_identities_mailbox")
                .table(Identities::Table)
                .col(Identities::MailboxId)
                .to_owned(),
        )
        .await
    }
}
