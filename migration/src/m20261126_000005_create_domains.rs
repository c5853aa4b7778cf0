use super::m20261126_000001_create_tenants_and_users::Tenants;
use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Domains {
    Table,
    Id,
    TenantId,
    Name,
    UnicodeName,
    Status,
    VerificationToken,
    DmarcPolicy,
    VerifiedAt,
    LastCheckedAt,
    NextCheckAt,
    CheckResults,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DkimKeys {
    Table,
    Id,
    TenantId,
    DomainId,
    Selector,
    Algorithm,
    PublicKey,
    PrivateKey,
    Status,
    CreatedAt,
    ActivatedAt,
    RetireAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    TenantId,
    Kind,
    ObjectType,
    ObjectId,
    Payload,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Domains::Table)
                .col(pk_uuid(Domains::Id))
                .col(uuid(Domains::TenantId))
                .col(string_len(Domains::Name, 253))
                .col(string_len(Domains::UnicodeName, 253))
                // pending | verified
                .col(string_len(Domains::Status, 16))
                .col(string_len(Domains::VerificationToken, 64))
                .col(string_len(Domains::DmarcPolicy, 16))
                .col(timestamp_with_time_zone_null(Domains::VerifiedAt))
                .col(timestamp_with_time_zone_null(Domains::LastCheckedAt))
                // Unix milliseconds, compared by the re-check scheduler on both backends.
                .col(big_integer(Domains::NextCheckAt))
                .col(text_null(Domains::CheckResults))
                .col(timestamp_with_time_zone(Domains::CreatedAt))
                .col(timestamp_with_time_zone(Domains::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Domains::Table, Domains::TenantId)
                        .to(Tenants::Table, Tenants::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_domains_tenant_name")
                .table(Domains::Table)
                .col(Domains::TenantId)
                .col(Domains::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_domains_next_check")
                .table(Domains::Table)
                .col(Domains::NextCheckAt)
                .to_owned(),
        )
        .await?;
        // Many tenants may claim a name; only one may hold it verified. The database enforces
        // it, so two tenants verifying at the same instant cannot both win.
        m.get_connection()
            .execute_unprepared("CREATE UNIQUE INDEX ux_domains_verified_name ON domains (name) WHERE status = 'verified'")
            .await?;

        m.create_table(
            Table::create()
                .table(DkimKeys::Table)
                .col(pk_uuid(DkimKeys::Id))
                .col(uuid(DkimKeys::TenantId))
                .col(uuid(DkimKeys::DomainId))
                .col(string_len(DkimKeys::Selector, 63))
                .col(string_len(DkimKeys::Algorithm, 16))
                .col(text(DkimKeys::PublicKey))
                // Sealed with a key derived from the master key; never stored in clear.
                .col(text(DkimKeys::PrivateKey))
                // pending | active | retiring | retired
                .col(string_len(DkimKeys::Status, 16))
                .col(timestamp_with_time_zone(DkimKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(DkimKeys::ActivatedAt))
                .col(timestamp_with_time_zone_null(DkimKeys::RetireAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(DkimKeys::Table, DkimKeys::DomainId)
                        .to(Domains::Table, Domains::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_dkim_keys_domain_selector")
                .table(DkimKeys::Table)
                .col(DkimKeys::DomainId)
                .col(DkimKeys::Selector)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(pk_uuid(Events::Id))
                .col(uuid(Events::TenantId))
                .col(string_len(Events::Kind, 64))
                .col(string_len(Events::ObjectType, 32))
                .col(uuid_null(Events::ObjectId))
                .col(text(Events::Payload))
                .col(timestamp_with_time_zone(Events::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_events_tenant")
                .table(Events::Table)
                .col(Events::TenantId)
                .col(Events::Id)
                .to_owned(),
        )
        .await
    }
}
