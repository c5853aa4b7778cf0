use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Domains {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Mailboxes {
    Table,
    Id,
    TenantId,
    DomainId,
    LocalPart,
    Address,
    DisplayName,
    PasswordHash,
    QuotaBytes,
    UsedBytes,
    Status,
    Pop3AfterDownload,
    UidvaliditySeq,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum LocalParts {
    Table,
    Id,
    TenantId,
    DomainId,
    LocalPart,
    OwnerType,
    OwnerId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Folders {
    Table,
    Id,
    TenantId,
    MailboxId,
    Name,
    SpecialUse,
    Uidvalidity,
    Uidnext,
    Highestmodseq,
    Subscribed,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AppPasswords {
    Table,
    Id,
    TenantId,
    MailboxId,
    Name,
    PasswordHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Mailboxes::Table)
                .col(pk_uuid(Mailboxes::Id))
                .col(uuid(Mailboxes::TenantId))
                .col(uuid(Mailboxes::DomainId))
                .col(string_len(Mailboxes::LocalPart, 64))
                // local_part@domain in ASCII, lower case: what SMTP, IMAP and login use.
                .col(string_len(Mailboxes::Address, 320))
                .col(string_len(Mailboxes::DisplayName, 200))
                .col(string_len(Mailboxes::PasswordHash, 255))
                // NULL: unlimited.
                .col(big_integer_null(Mailboxes::QuotaBytes))
                .col(big_integer(Mailboxes::UsedBytes).default(0))
                .col(string_len(Mailboxes::Status, 16))
                .col(string_len(Mailboxes::Pop3AfterDownload, 16))
                // Last UIDVALIDITY handed to a folder of this mailbox: strictly increasing, so a
                // re-created folder never reuses one (RFC 3501 §2.3.1.1).
                .col(big_integer(Mailboxes::UidvaliditySeq))
                .col(timestamp_with_time_zone(Mailboxes::CreatedAt))
                .col(timestamp_with_time_zone(Mailboxes::UpdatedAt))
                .col(timestamp_with_time_zone_null(Mailboxes::DeletedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Mailboxes::Table, Mailboxes::DomainId)
                        .to(Domains::Table, Domains::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_mailboxes_tenant")
                .table(Mailboxes::Table)
                .col(Mailboxes::TenantId)
                .col(Mailboxes::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_mailboxes_address")
                .table(Mailboxes::Table)
                .col(Mailboxes::Address)
                .to_owned(),
        )
        .await?;

        // One namespace per domain for mailboxes, aliases and groups: a local part belongs to
        // exactly one of them, enforced by the unique index.
        m.create_table(
            Table::create()
                .table(LocalParts::Table)
                .col(pk_uuid(LocalParts::Id))
                .col(uuid(LocalParts::TenantId))
                .col(uuid(LocalParts::DomainId))
                .col(string_len(LocalParts::LocalPart, 64))
                .col(string_len(LocalParts::OwnerType, 16))
                .col(uuid(LocalParts::OwnerId))
                .col(timestamp_with_time_zone(LocalParts::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(LocalParts::Table, LocalParts::DomainId)
                        .to(Domains::Table, Domains::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_local_parts_domain_local")
                .table(LocalParts::Table)
                .col(LocalParts::DomainId)
                .col(LocalParts::LocalPart)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Folders::Table)
                .col(pk_uuid(Folders::Id))
                .col(uuid(Folders::TenantId))
                .col(uuid(Folders::MailboxId))
                // Full path with '/' between levels, e.g. "Projects/2026".
                .col(string_len(Folders::Name, 512))
                // inbox | sent | drafts | junk | trash | archive (RFC 6154), or NULL.
                .col(string_len_null(Folders::SpecialUse, 16))
                // IMAP state (RFC 3501, RFC 7162).
                .col(big_integer(Folders::Uidvalidity))
                .col(big_integer(Folders::Uidnext))
                .col(big_integer(Folders::Highestmodseq))
                .col(boolean(Folders::Subscribed))
                .col(timestamp_with_time_zone(Folders::CreatedAt))
                .col(timestamp_with_time_zone(Folders::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Folders::Table, Folders::MailboxId)
                        .to(Mailboxes::Table, Mailboxes::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_folders_mailbox_name")
                .table(Folders::Table)
                .col(Folders::MailboxId)
                .col(Folders::Name)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AppPasswords::Table)
                .col(pk_uuid(AppPasswords::Id))
                .col(uuid(AppPasswords::TenantId))
                .col(uuid(AppPasswords::MailboxId))
                .col(string_len(AppPasswords::Name, 200))
                .col(string_len(AppPasswords::PasswordHash, 255))
                .col(timestamp_with_time_zone(AppPasswords::CreatedAt))
                .col(timestamp_with_time_zone_null(AppPasswords::LastUsedAt))
                .col(timestamp_with_time_zone_null(AppPasswords::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(AppPasswords::Table, AppPasswords::MailboxId)
                        .to(Mailboxes::Table, Mailboxes::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_app_passwords_mailbox")
                .table(AppPasswords::Table)
                .col(AppPasswords::MailboxId)
                .to_owned(),
        )
        .await
    }
}
