//! App passwords get a lookup key (the SHA-256 of the secret), so a login finds the one app
//! password it presents and verifies a single argon2 hash, whatever the number of app
//! passwords: a failed login costs the same for every account.
//!
//! App passwords made before this step have no lookup key and no longer log in; their owners
//! make new ones (the list shows them, revoking them is still possible).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AppPasswords {
    Table,
    MailboxId,
    Lookup,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(AppPasswords::Table)
                .add_column(ColumnDef::new(AppPasswords::Lookup).string_len(64).null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("app_passwords_lookup")
                .table(AppPasswords::Table)
                .col(AppPasswords::MailboxId)
                .col(AppPasswords::Lookup)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("app_passwords_lookup")
                .table(AppPasswords::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(AppPasswords::Table)
                .drop_column(AppPasswords::Lookup)
                .to_owned(),
        )
        .await
    }
}
