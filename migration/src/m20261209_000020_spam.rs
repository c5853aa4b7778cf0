//! Spam filtering per tenant: `spam_settings` (one row per tenant that changed a default:
//! thresholds, what a DMARC `p=reject` failure gets, and how many spam and ham messages its
//! users taught the classifier) and `spam_tokens` (the tenant's own token counts, over the
//! base model shipped with the code; `token` is the FNV-1a hash of the token's text) and
//! `spam_learned` (each message learnt, by the SHA-256 of its bytes, with its label: learning
//! it again changes nothing, relabelling it takes the old lesson back).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SpamSettings {
    Table,
    TenantId,
    Enabled,
    JunkThreshold,
    RejectThreshold,
    DmarcReject,
    LearnedSpam,
    LearnedHam,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SpamTokens {
    Table,
    TenantId,
    Token,
    Spam,
    Ham,
}

#[derive(DeriveIden)]
enum SpamLearned {
    Table,
    TenantId,
    Digest,
    Spam,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SpamSettings::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(SpamSettings::TenantId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(SpamSettings::Enabled).boolean().not_null())
                .col(
                    ColumnDef::new(SpamSettings::JunkThreshold)
                        .double()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(SpamSettings::RejectThreshold)
                        .double()
                        .null(),
                )
                .col(
                    ColumnDef::new(SpamSettings::DmarcReject)
                        .string()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(SpamSettings::LearnedSpam)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(SpamSettings::LearnedHam)
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(SpamSettings::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SpamTokens::Table)
                .if_not_exists()
                .col(ColumnDef::new(SpamTokens::TenantId).uuid().not_null())
                .col(ColumnDef::new(SpamTokens::Token).big_integer().not_null())
                .col(ColumnDef::new(SpamTokens::Spam).big_integer().not_null())
                .col(ColumnDef::new(SpamTokens::Ham).big_integer().not_null())
                .primary_key(
                    Index::create()
                        .col(SpamTokens::TenantId)
                        .col(SpamTokens::Token),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SpamLearned::Table)
                .if_not_exists()
                .col(ColumnDef::new(SpamLearned::TenantId).uuid().not_null())
                .col(ColumnDef::new(SpamLearned::Digest).string().not_null())
                .col(ColumnDef::new(SpamLearned::Spam).boolean().not_null())
                .col(
                    ColumnDef::new(SpamLearned::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(SpamLearned::TenantId)
                        .col(SpamLearned::Digest),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SpamLearned::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(SpamTokens::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(SpamSettings::Table).to_owned())
            .await
    }
}
