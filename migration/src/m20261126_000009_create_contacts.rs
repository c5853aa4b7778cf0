use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Contacts {
    Table,
    Id,
    TenantId,
    MailboxId,
    Source,
    SourceMailboxId,
    Uid,
    FullName,
    GivenName,
    FamilyName,
    Emails,
    Phones,
    Organization,
    Title,
    Notes,
    Labels,
    SearchText,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Contacts::Table)
                .col(pk_uuid(Contacts::Id))
                .col(uuid(Contacts::TenantId))
                // The personal book's mailbox; NULL: the tenant's shared directory.
                .col(uuid_null(Contacts::MailboxId))
                // manual | mailbox (a directory entry kept in step with a mailbox)
                .col(string_len(Contacts::Source, 16))
                .col(uuid_null(Contacts::SourceMailboxId))
                .col(string_len_null(Contacts::Uid, 255))
                .col(string_len(Contacts::FullName, 2000))
                .col(string_len_null(Contacts::GivenName, 2000))
                .col(string_len_null(Contacts::FamilyName, 2000))
                // JSON arrays.
                .col(text(Contacts::Emails))
                .col(text(Contacts::Phones))
                .col(string_len_null(Contacts::Organization, 2000))
                .col(string_len_null(Contacts::Title, 2000))
                .col(text_null(Contacts::Notes))
                .col(text(Contacts::Labels))
                // Lower-cased names, emails and organisation, for `?q=`.
                .col(text(Contacts::SearchText))
                .col(timestamp_with_time_zone(Contacts::CreatedAt))
                .col(timestamp_with_time_zone(Contacts::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_contacts_book")
                .table(Contacts::Table)
                .col(Contacts::TenantId)
                .col(Contacts::MailboxId)
                .col(Contacts::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_contacts_source_mailbox")
                .table(Contacts::Table)
                .col(Contacts::SourceMailboxId)
                .to_owned(),
        )
        .await
    }
}
