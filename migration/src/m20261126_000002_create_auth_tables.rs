use super::m20261126_000001_create_tenants_and_users::{Tenants, Users};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A login session: the family of refresh tokens issued from one login.
#[derive(DeriveIden)]
pub enum Sessions {
    Table,
    Id,
    UserId,
    MailboxId,
    TenantId,
    Ip,
    UserAgent,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
pub enum RefreshTokens {
    Table,
    Id,
    SessionId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
pub enum ApiKeys {
    Table,
    Id,
    TenantId,
    CreatedBy,
    Name,
    Prefix,
    KeyHash,
    Scopes,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(pk_uuid(Sessions::Id))
                // A session belongs to a user or to a mailbox (its owner logged in).
                .col(uuid_null(Sessions::UserId))
                .col(uuid_null(Sessions::MailboxId))
                .col(uuid_null(Sessions::TenantId))
                .col(string_len_null(Sessions::Ip, 64))
                .col(string_len_null(Sessions::UserAgent, 512))
                .col(timestamp_with_time_zone(Sessions::CreatedAt))
                .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Sessions::Table, Sessions::UserId)
                        .to(Users::Table, Users::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_sessions_user")
                .table(Sessions::Table)
                .col(Sessions::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(pk_uuid(RefreshTokens::Id))
                .col(uuid(RefreshTokens::SessionId))
                // SHA-256 of the token; the token itself is never stored.
                .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(RefreshTokens::Table, RefreshTokens::SessionId)
                        .to(Sessions::Table, Sessions::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_refresh_tokens_session")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::SessionId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(pk_uuid(ApiKeys::Id))
                .col(uuid(ApiKeys::TenantId))
                .col(uuid(ApiKeys::CreatedBy))
                .col(string_len(ApiKeys::Name, 200))
                .col(string_len(ApiKeys::Prefix, 16))
                // SHA-256 of the key; the key itself is shown once and never stored.
                .col(string_len_uniq(ApiKeys::KeyHash, 64))
                .col(text(ApiKeys::Scopes))
                .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiKeys::Table, ApiKeys::TenantId)
                        .to(Tenants::Table, Tenants::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiKeys::Table, ApiKeys::CreatedBy)
                        .to(Users::Table, Users::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_api_keys_tenant")
                .table(ApiKeys::Table)
                .col(ApiKeys::TenantId)
                .col(ApiKeys::Id)
                .to_owned(),
        )
        .await
    }
}
