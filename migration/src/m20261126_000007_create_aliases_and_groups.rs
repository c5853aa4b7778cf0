use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Domains {
    Table,
    Id,
    AliasOf,
}

#[derive(DeriveIden)]
enum Aliases {
    Table,
    Id,
    TenantId,
    DomainId,
    LocalPart,
    Destinations,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    TenantId,
    DomainId,
    LocalPart,
    Name,
    SendPolicy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    Id,
    TenantId,
    GroupId,
    Address,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // A domain alias: every address of this domain delivers as the same address of another.
        m.alter_table(
            Table::alter()
                .table(Domains::Table)
                .add_column(uuid_null(Domains::AliasOf))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Aliases::Table)
                .col(pk_uuid(Aliases::Id))
                .col(uuid(Aliases::TenantId))
                .col(uuid(Aliases::DomainId))
                // "*" is the domain's catch-all.
                .col(string_len(Aliases::LocalPart, 64))
                // JSON array of addresses.
                .col(text(Aliases::Destinations))
                .col(timestamp_with_time_zone(Aliases::CreatedAt))
                .col(timestamp_with_time_zone(Aliases::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Aliases::Table, Aliases::DomainId)
                        .to(Domains::Table, Domains::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_aliases_tenant")
                .table(Aliases::Table)
                .col(Aliases::TenantId)
                .col(Aliases::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Groups::Table)
                .col(pk_uuid(Groups::Id))
                .col(uuid(Groups::TenantId))
                .col(uuid(Groups::DomainId))
                .col(string_len(Groups::LocalPart, 64))
                .col(string_len(Groups::Name, 200))
                // anyone | tenant | members
                .col(string_len(Groups::SendPolicy, 16))
                .col(timestamp_with_time_zone(Groups::CreatedAt))
                .col(timestamp_with_time_zone(Groups::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Groups::Table, Groups::DomainId)
                        .to(Domains::Table, Domains::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_groups_tenant")
                .table(Groups::Table)
                .col(Groups::TenantId)
                .col(Groups::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(GroupMembers::Table)
                .col(pk_uuid(GroupMembers::Id))
                .col(uuid(GroupMembers::TenantId))
                .col(uuid(GroupMembers::GroupId))
                .col(string_len(GroupMembers::Address, 320))
                .col(timestamp_with_time_zone(GroupMembers::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(GroupMembers::Table, GroupMembers::GroupId)
                        .to(Groups::Table, Groups::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_group_members_group_address")
                .table(GroupMembers::Table)
                .col(GroupMembers::GroupId)
                .col(GroupMembers::Address)
                .unique()
                .to_owned(),
        )
        .await
    }
}
