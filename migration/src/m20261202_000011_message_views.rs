//! What the REST read path needs: folder counters kept in the storing transaction, the To/Cc
//! line of each copy, the searchable text of each blob (a `tsvector` with a GIN index on
//! Postgres), and indexes for date-ordered lists.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Folders {
    Table,
    TotalMessages,
    UnseenMessages,
    TotalBytes,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    ToAddrs,
    AttachmentCount,
    FolderId,
    InternalDate,
    Id,
    MailboxId,
}

#[derive(DeriveIden)]
enum Blobs {
    Table,
    SearchText,
}

fn add(table: impl IntoIden, col: ColumnDef) -> TableAlterStatement {
    Table::alter().table(table).add_column(col).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Folder counters: changed by every write in the same transaction, so lists never count.
        for col in [
            Folders::TotalMessages,
            Folders::UnseenMessages,
            Folders::TotalBytes,
        ] {
            m.alter_table(add(
                Folders::Table,
                ColumnDef::new(col)
                    .big_integer()
                    .not_null()
                    .default(0)
                    .to_owned(),
            ))
            .await?;
        }
        let db = m.get_connection();
        db.execute_unprepared(
            "UPDATE folders SET \
             total_messages = (SELECT COUNT(*) FROM messages WHERE messages.folder_id = folders.id), \
             unseen_messages = (SELECT COUNT(*) FROM messages WHERE messages.folder_id = folders.id \
                                AND (messages.flags & 1) = 0), \
             total_bytes = COALESCE((SELECT SUM(size) FROM messages \
                                     WHERE messages.folder_id = folders.id), 0)",
        )
        .await?;
        // "To" and "Cc" as shown, for lists and `to:` searches.
        m.alter_table(add(
            Messages::Table,
            ColumnDef::new(Messages::ToAddrs)
                .text()
                .not_null()
                .default("")
                .to_owned(),
        ))
        .await?;
        m.alter_table(add(
            Messages::Table,
            ColumnDef::new(Messages::AttachmentCount)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
        ))
        .await?;
        // Rows stored before this column: at least one when they had any.
        db.execute_unprepared("UPDATE messages SET attachment_count = 1 WHERE has_attachments")
            .await?;
        // Normalised words of the message (subject, addresses, text body, attachment names).
        m.alter_table(add(
            Blobs::Table,
            ColumnDef::new(Blobs::SearchText)
                .text()
                .not_null()
                .default("")
                .to_owned(),
        ))
        .await?;
        m.create_index(
            Index::create()
                .name("ix_messages_folder_date")
                .table(Messages::Table)
                .col(Messages::FolderId)
                .col(Messages::InternalDate)
                .col(Messages::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_messages_mailbox_date")
                .table(Messages::Table)
                .col(Messages::MailboxId)
                .col(Messages::InternalDate)
                .col(Messages::Id)
                .to_owned(),
        )
        .await?;
        // Lists now page by date; (folder_id, uid) serves IMAP, so (folder_id, id) only costs.
        m.drop_index(
            Index::drop()
                .name("ix_messages_folder_id")
                .table(Messages::Table)
                .to_owned(),
        )
        .await?;
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE blobs ADD COLUMN search_tsv tsvector \
                 GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED",
            )
            .await?;
            db.execute_unprepared("CREATE INDEX ix_blobs_search ON blobs USING GIN (search_tsv)")
                .await?;
        }
        Ok(())
    }
}
