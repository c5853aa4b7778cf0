use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    TenantId,
    ActorType,
    ActorId,
    ActorLabel,
    Action,
    ObjectType,
    ObjectId,
    Ip,
    RequestId,
    Details,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(pk_uuid(AuditLog::Id))
                // No foreign key: platform-level entries have no tenant, and a tenant's entries
                // are removed by its purge job, not by a cascade.
                .col(uuid_null(AuditLog::TenantId))
                .col(string_len(AuditLog::ActorType, 16))
                .col(uuid_null(AuditLog::ActorId))
                .col(string_len(AuditLog::ActorLabel, 254))
                .col(string_len(AuditLog::Action, 64))
                .col(string_len(AuditLog::ObjectType, 32))
                .col(uuid_null(AuditLog::ObjectId))
                .col(string_len_null(AuditLog::Ip, 64))
                .col(string_len_null(AuditLog::RequestId, 64))
                .col(text(AuditLog::Details))
                .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_log_tenant")
                .table(AuditLog::Table)
                .col(AuditLog::TenantId)
                .col(AuditLog::Id)
                .to_owned(),
        )
        .await
    }
}
