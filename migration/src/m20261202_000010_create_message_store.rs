//! The message store: content-addressed blobs, one message row per mailbox copy with its IMAP
//! state, threads, and the expunge log (RFC 7162 VANISHED).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Blobs {
    Table,
    Hash,
    Size,
    Data,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    TenantId,
    MailboxId,
    FolderId,
    Uid,
    Modseq,
    BlobHash,
    TracePrefix,
    Size,
    Flags,
    Keywords,
    InternalDate,
    ThreadId,
    MessageIdHeader,
    Subject,
    FromAddr,
    SentAt,
    Preview,
    HasAttachments,
    Summary,
    AuthResults,
    Pipeline,
    Source,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Threads {
    Table,
    Id,
    TenantId,
    MailboxId,
    SubjectKey,
    LastMessageAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ThreadRefs {
    Table,
    Id,
    TenantId,
    MailboxId,
    MessageIdHeader,
    ThreadId,
}

#[derive(DeriveIden)]
#[allow(clippy::enum_variant_names)] // `expunged_at` is the column's name
enum Expunged {
    Table,
    Id,
    TenantId,
    MailboxId,
    FolderId,
    Uid,
    Modseq,
    ExpungedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One row per distinct message body (the bytes received in DATA), keyed by SHA-256.
        m.create_table(
            Table::create()
                .table(Blobs::Table)
                .col(string_len(Blobs::Hash, 64).primary_key())
                .col(big_integer(Blobs::Size))
                .col(blob(Blobs::Data))
                .col(timestamp_with_time_zone(Blobs::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Messages::Table)
                .col(pk_uuid(Messages::Id))
                .col(uuid(Messages::TenantId))
                .col(uuid(Messages::MailboxId))
                .col(uuid(Messages::FolderId))
                .col(big_integer(Messages::Uid))
                .col(big_integer(Messages::Modseq))
                .col(string_len(Messages::BlobHash, 64))
                // Trace header fields added by us (Received, Authentication-Results); the stored
                // message is this prefix followed by the blob.
                .col(text(Messages::TracePrefix))
                // Octets of prefix + blob: RFC822.SIZE.
                .col(big_integer(Messages::Size))
                // Bits: 1 seen, 2 answered, 4 flagged, 8 deleted, 16 draft.
                .col(integer(Messages::Flags))
                // JSON array of IMAP keywords.
                .col(text(Messages::Keywords))
                .col(timestamp_with_time_zone(Messages::InternalDate))
                .col(uuid(Messages::ThreadId))
                .col(string_len_null(Messages::MessageIdHeader, 998))
                .col(text(Messages::Subject))
                .col(text(Messages::FromAddr))
                .col(timestamp_with_time_zone_null(Messages::SentAt))
                .col(text(Messages::Preview))
                .col(boolean(Messages::HasAttachments))
                // JSON: the parse-once summary (envelope, structure, attachments…).
                .col(text(Messages::Summary))
                // JSON: SPF/DKIM/DMARC/ARC results, for SMTP deliveries.
                .col(text_null(Messages::AuthResults))
                // JSON: what each ingest stage decided, and why.
                .col(text(Messages::Pipeline))
                // smtp | import
                .col(string_len(Messages::Source, 16))
                .col(timestamp_with_time_zone(Messages::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_messages_folder_uid")
                .table(Messages::Table)
                .col(Messages::FolderId)
                .col(Messages::Uid)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_messages_folder_id")
                .table(Messages::Table)
                .col(Messages::FolderId)
                .col(Messages::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_messages_mailbox_blob")
                .table(Messages::Table)
                .col(Messages::MailboxId)
                .col(Messages::BlobHash)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_messages_thread")
                .table(Messages::Table)
                .col(Messages::ThreadId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Threads::Table)
                .col(pk_uuid(Threads::Id))
                .col(uuid(Threads::TenantId))
                .col(uuid(Threads::MailboxId))
                // The normalised subject, for the subject fallback.
                .col(string_len(Threads::SubjectKey, 255))
                .col(timestamp_with_time_zone(Threads::LastMessageAt))
                .col(timestamp_with_time_zone(Threads::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_threads_subject")
                .table(Threads::Table)
                .col(Threads::MailboxId)
                .col(Threads::SubjectKey)
                .to_owned(),
        )
        .await?;
        // Every Message-ID a thread has seen, its own or referenced: a reply that arrives before
        // its parent registers the parent's id, so the parent joins the same thread later.
        m.create_table(
            Table::create()
                .table(ThreadRefs::Table)
                .col(pk_uuid(ThreadRefs::Id))
                .col(uuid(ThreadRefs::TenantId))
                .col(uuid(ThreadRefs::MailboxId))
                .col(string_len(ThreadRefs::MessageIdHeader, 998))
                .col(uuid(ThreadRefs::ThreadId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_thread_refs_mailbox_mid")
                .table(ThreadRefs::Table)
                .col(ThreadRefs::MailboxId)
                .col(ThreadRefs::MessageIdHeader)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Expunged::Table)
                .col(pk_uuid(Expunged::Id))
                .col(uuid(Expunged::TenantId))
                .col(uuid(Expunged::MailboxId))
                .col(uuid(Expunged::FolderId))
                .col(big_integer(Expunged::Uid))
                .col(big_integer(Expunged::Modseq))
                .col(timestamp_with_time_zone(Expunged::ExpungedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_expunged_folder_modseq")
                .table(Expunged::Table)
                .col(Expunged::FolderId)
                .col(Expunged::Modseq)
                .to_owned(),
        )
        .await
    }
}
