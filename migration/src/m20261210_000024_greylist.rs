//! Greylisting, quarantine retention and autolearn.
//!
//! `spam_settings` gains `greylist` (off by default), `greylist_delay_secs` (how long a new
//! sender must wait before its retry is taken), `quarantine_days` (how long held messages
//! are kept before they are deleted) and `autolearn` (on by default: the classifier learns
//! from messages whose verdict other evidence makes certain). `greylist` holds, per tenant, one row per triplet seen
//! (client network, envelope sender, recipient: hashed into `triplet`): when it was first
//! refused, when a retry passed, and when the row lapses. With Redis configured the triplets
//! live in Redis instead and this table stays empty.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Greylist {
    Table,
    TenantId,
    Triplet,
    FirstSeen,
    PassedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SpamSettings {
    Table,
    Greylist,
    GreylistDelaySecs,
    QuarantineDays,
    Autolearn,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Greylist::Table)
                .if_not_exists()
                .col(ColumnDef::new(Greylist::TenantId).uuid().not_null())
                .col(ColumnDef::new(Greylist::Triplet).string().not_null())
                .col(
                    ColumnDef::new(Greylist::FirstSeen)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Greylist::PassedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Greylist::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(Greylist::TenantId)
                        .col(Greylist::Triplet),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("greylist_expires")
                .table(Greylist::Table)
                .col(Greylist::ExpiresAt)
                .to_owned(),
        )
        .await?;
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for col in [
            ColumnDef::new(SpamSettings::Greylist)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            ColumnDef::new(SpamSettings::GreylistDelaySecs)
                .integer()
                .not_null()
                .default(300)
                .to_owned(),
            ColumnDef::new(SpamSettings::QuarantineDays)
                .integer()
                .not_null()
                .default(30)
                .to_owned(),
            ColumnDef::new(SpamSettings::Autolearn)
                .boolean()
                .not_null()
                .default(true)
                .to_owned(),
        ] {
            let mut col = col;
            m.alter_table(
                Table::alter()
                    .table(SpamSettings::Table)
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            SpamSettings::Greylist,
            SpamSettings::GreylistDelaySecs,
            SpamSettings::QuarantineDays,
            SpamSettings::Autolearn,
        ] {
            m.alter_table(
                Table::alter()
                    .table(SpamSettings::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(Greylist::Table).to_owned())
            .await
    }
}
