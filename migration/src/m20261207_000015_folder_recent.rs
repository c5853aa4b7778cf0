//! IMAP `\Recent` (RFC 3501): `folders.recent_uid` is the lowest UID no session has yet been
//! told of. A session that selects the folder read-write claims the messages from there to
//! UIDNEXT as recent for itself and moves the mark to UIDNEXT; EXAMINE and STATUS only read it.
//! Existing folders start with the mark at UIDNEXT: nothing already stored becomes recent.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Folders {
    Table,
    RecentUid,
    Uidnext,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Folders::Table)
                .add_column(
                    ColumnDef::new(Folders::RecentUid)
                        .big_integer()
                        .not_null()
                        .default(1),
                )
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::update()
                .table(Folders::Table)
                .value(Folders::RecentUid, Expr::col(Folders::Uidnext))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Folders::Table)
                .drop_column(Folders::RecentUid)
                .to_owned(),
        )
        .await
    }
}
