//! `rules_versions`: per tenant, a number raised by every change to any of its rules, so the
//! delivery path can keep the rules it compiled and ask one small question per copy ("has
//! anything changed?") instead of reading every rule again.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RulesVersions {
    Table,
    TenantId,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RulesVersions::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(RulesVersions::TenantId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(RulesVersions::Version)
                        .big_integer()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RulesVersions::Table).to_owned())
            .await
    }
}
