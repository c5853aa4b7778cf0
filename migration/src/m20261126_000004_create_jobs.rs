use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    TenantId,
    Kind,
    Payload,
    Status,
    Attempts,
    MaxAttempts,
    RunAt,
    LockedBy,
    LockedUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Jobs::Table)
                .col(pk_uuid(Jobs::Id))
                .col(uuid_null(Jobs::TenantId))
                .col(string_len(Jobs::Kind, 64))
                .col(text(Jobs::Payload))
                .col(string_len(Jobs::Status, 16))
                .col(integer(Jobs::Attempts))
                .col(integer(Jobs::MaxAttempts))
                // Scheduling times are Unix milliseconds: integers compare the same way on
                // every backend, where text timestamps on SQLite would not.
                .col(big_integer(Jobs::RunAt))
                .col(string_len_null(Jobs::LockedBy, 128))
                .col(big_integer_null(Jobs::LockedUntil))
                .col(text_null(Jobs::LastError))
                .col(timestamp_with_time_zone(Jobs::CreatedAt))
                .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_jobs_due")
                .table(Jobs::Table)
                .col(Jobs::Status)
                .col(Jobs::RunAt)
                .to_owned(),
        )
        .await
    }
}
