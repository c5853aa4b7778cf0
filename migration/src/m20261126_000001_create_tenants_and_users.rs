use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Tenants {
    Table,
    Id,
    Name,
    Slug,
    Status,
    MaxDomains,
    MaxMailboxes,
    MaxStorageBytes,
    MaxMessagesPerDay,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    TenantId,
    Email,
    Name,
    PasswordHash,
    Role,
    Status,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .col(pk_uuid(Tenants::Id))
                .col(string_len(Tenants::Name, 200))
                .col(string_len_uniq(Tenants::Slug, 63))
                .col(string_len(Tenants::Status, 16))
                .col(big_integer_null(Tenants::MaxDomains))
                .col(big_integer_null(Tenants::MaxMailboxes))
                .col(big_integer_null(Tenants::MaxStorageBytes))
                .col(big_integer_null(Tenants::MaxMessagesPerDay))
                .col(timestamp_with_time_zone(Tenants::CreatedAt))
                .col(timestamp_with_time_zone(Tenants::UpdatedAt))
                .col(timestamp_with_time_zone_null(Tenants::DeletedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(pk_uuid(Users::Id))
                // NULL for platform admins, who belong to no tenant.
                .col(uuid_null(Users::TenantId))
                // Login names are unique across the platform: login takes only an email.
                .col(string_len_uniq(Users::Email, 254))
                .col(string_len(Users::Name, 200))
                .col(string_len(Users::PasswordHash, 255))
                .col(string_len(Users::Role, 16))
                .col(string_len(Users::Status, 16))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .col(timestamp_with_time_zone(Users::UpdatedAt))
                .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Users::Table, Users::TenantId)
                        .to(Tenants::Table, Tenants::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_users_tenant")
                .table(Users::Table)
                .col(Users::TenantId)
                .col(Users::Id)
                .to_owned(),
        )
        .await
    }
}
