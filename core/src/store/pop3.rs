//! What the POP3 server needs of the store: the maildrop (INBOX as POP3 lists it), the lease
//! that keeps one POP3 session per mailbox across processes, and the UPDATE state's changes.
//!
//! The lease is a row of `pop3_leases` with an expiry. A session takes it when no live holder
//! has it (an insert, or an update of an expired row, in one statement), renews it while it
//! runs and gives it back at the end; a process that dies holding it loses it when it expires.

use super::TenantStore;
use super::entities::{folders, messages, pop3_leases, pop3_taken};
use crate::bus::MailboxEvent;
use crate::error::{Error, Result};
use crate::mail::flags;
use chrono::{Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

/// One message of a maildrop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropMessage {
    /// The message.
    pub id: Uuid,
    /// Its UID in INBOX.
    pub uid: i64,
    /// The octets RETR sends, before byte-stuffing (see [`mailroom_proto::pop3`]).
    pub size: u64,
}

/// INBOX as a POP3 session sees it.
#[derive(Debug, Clone)]
pub struct Maildrop {
    /// The INBOX folder.
    pub folder: Uuid,
    /// Its UIDVALIDITY (part of every UIDL).
    pub uidvalidity: i64,
    /// What a deletion does: `keep`, `move_to_trash` or `delete`.
    pub after_download: String,
    /// Its messages in UID order, those taken by an earlier POP3 session (`keep`) left out.
    pub messages: Vec<DropMessage>,
}

impl TenantStore {
    /// Takes the mailbox's POP3 lease for `holder` until `ttl` from now; `false` when another
    /// session holds it and has not let it expire.
    pub async fn take_pop3_lease(
        &self,
        mailbox: Uuid,
        holder: Uuid,
        ttl: Duration,
    ) -> Result<bool> {
        use pop3_leases::Column as C;
        let now = Utc::now();
        let w = self.store.writer_quiet().await;
        self.mailbox_on(&*w, mailbox).await?;
        let n = pop3_leases::Entity::insert(pop3_leases::ActiveModel {
            mailbox_id: Set(mailbox),
            tenant_id: Set(self.tid()),
            holder: Set(holder),
            expires_at: Set(now + ttl),
        })
        .on_conflict(
            OnConflict::column(C::MailboxId)
                .update_columns([C::Holder, C::ExpiresAt])
                .action_and_where(
                    Expr::col((pop3_leases::Entity, C::ExpiresAt))
                        .lt(now)
                        .or(Expr::col((pop3_leases::Entity, C::Holder)).eq(holder)),
                )
                .to_owned(),
        )
        .exec_without_returning(&*w)
        .await?;
        Ok(n == 1)
    }

    /// Moves the lease's expiry to `ttl` from now; `false` when `holder` no longer has it.
    pub async fn renew_pop3_lease(
        &self,
        mailbox: Uuid,
        holder: Uuid,
        ttl: Duration,
    ) -> Result<bool> {
        use pop3_leases::Column as C;
        let w = self.store.writer_quiet().await;
        let r = self
            .update_many::<pop3_leases::Entity>()
            .col_expr(C::ExpiresAt, Expr::value(Utc::now() + ttl))
            .filter(C::MailboxId.eq(mailbox))
            .filter(C::Holder.eq(holder))
            .exec(&*w)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Gives the lease back (nothing when `holder` no longer has it).
    pub async fn drop_pop3_lease(&self, mailbox: Uuid, holder: Uuid) -> Result<()> {
        use pop3_leases::Column as C;
        let w = self.store.writer_quiet().await;
        self.delete_many::<pop3_leases::Entity>()
            .filter(C::MailboxId.eq(mailbox))
            .filter(C::Holder.eq(holder))
            .exec(&*w)
            .await?;
        Ok(())
    }

    /// The maildrop: INBOX's messages in UID order with their POP3 sizes. A message stored
    /// before sizes were recorded is counted from its bytes.
    pub async fn maildrop(&self, mailbox: Uuid) -> Result<Maildrop> {
        let db = self.store.db();
        let mbox = self.mailbox_on(db, mailbox).await?;
        let inbox = self
            .find::<folders::Entity>()
            .filter(folders::Column::MailboxId.eq(mailbox))
            .filter(folders::Column::Name.eq("INBOX"))
            .one(db)
            .await?
            .ok_or(Error::NotFound)?;
        let taken = Query::select()
            .column(pop3_taken::Column::MessageId)
            .from(pop3_taken::Entity)
            .and_where(Expr::col(pop3_taken::Column::TenantId).eq(self.tid()))
            .and_where(Expr::col(pop3_taken::Column::MailboxId).eq(mailbox))
            .to_owned();
        use messages::Column as C;
        let rows: Vec<(Uuid, i64, i64, Option<i64>)> = self
            .find::<messages::Entity>()
            .select_only()
            .column(C::Id)
            .column(C::Uid)
            .column(C::Size)
            .column(C::WireSize)
            .filter(C::MailboxId.eq(mailbox))
            .filter(C::FolderId.eq(inbox.id))
            .filter(C::Id.not_in_subquery(taken))
            .order_by_asc(C::Uid)
            .into_tuple()
            .all(db)
            .await?;
        let unknown: Vec<Uuid> = rows.iter().filter(|r| r.3.is_none()).map(|r| r.0).collect();
        let mut counted = std::collections::HashMap::new();
        for chunk in unknown.chunks(100) {
            for (id, raw) in self.raws_by_id(mailbox, chunk).await? {
                counted.insert(id, mailroom_proto::pop3::wire_len(&raw));
            }
        }
        let messages = rows
            .into_iter()
            .map(|(id, uid, size, wire)| DropMessage {
                id,
                uid,
                size: match wire {
                    Some(w) => u64::try_from(w).unwrap_or(0),
                    None => counted
                        .get(&id)
                        .copied()
                        .unwrap_or(u64::try_from(size).unwrap_or(0)),
                },
            })
            .collect();
        Ok(Maildrop {
            folder: inbox.id,
            uidvalidity: inbox.uidvalidity,
            after_download: mbox.pop3_after_download,
            messages,
        })
    }

    /// The UPDATE state (RFC 1939 §6): retrieved messages become `\Seen`; deleted ones go as
    /// the mailbox's `pop3_after_download` says (`keep`: they stay in INBOX and POP3 stops
    /// listing them; `move_to_trash`: to Trash, or deleted when there is none; `delete`: for
    /// good). Only messages still in the maildrop's folder are touched: one that an IMAP client
    /// moved meanwhile stays where it went. Returns the events to publish.
    pub async fn pop3_update(
        &self,
        mailbox: Uuid,
        drop: &Maildrop,
        retrieved: &[Uuid],
        deleted: &[Uuid],
    ) -> Result<Vec<MailboxEvent>> {
        let mut events = Vec::new();
        let seen = super::Change {
            set_flags: flags::SEEN,
            ..super::Change::default()
        };
        let mut touched: Vec<Uuid> = retrieved.iter().chain(deleted).copied().collect();
        touched.sort_unstable();
        touched.dedup();
        let present: std::collections::HashSet<Uuid> = self
            .still_in(mailbox, drop.folder, &touched)
            .await?
            .into_iter()
            .collect();
        // Retrieved messages are read; under `keep`, deleted ones too (they stay in INBOX).
        let seen_ids: Vec<Uuid> = if drop.after_download == "keep" {
            touched
                .iter()
                .filter(|id| present.contains(id))
                .copied()
                .collect()
        } else {
            retrieved
                .iter()
                .filter(|id| present.contains(id))
                .copied()
                .collect()
        };
        for chunk in seen_ids.chunks(super::MAX_BATCH) {
            events.extend(self.change_messages(mailbox, chunk, &seen).await?.events);
        }
        let gone: Vec<Uuid> = deleted
            .iter()
            .filter(|id| present.contains(id))
            .copied()
            .collect();
        for chunk in gone.chunks(super::MAX_BATCH) {
            let report = match drop.after_download.as_str() {
                "keep" => {
                    self.take_for_pop3(mailbox, chunk).await?;
                    continue;
                }
                "delete" => self.expunge_messages(mailbox, chunk).await?,
                _ => self.delete_messages(mailbox, chunk).await?,
            };
            events.extend(report.events);
        }
        Ok(events)
    }

    /// Which of `ids` are messages of the mailbox's `folder` now.
    async fn still_in(&self, mailbox: Uuid, folder: Uuid, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            // By id alone (see `raws_by_id`), the mailbox and folder checked here.
            let found: Vec<(Uuid, Uuid, Uuid)> = self
                .find::<messages::Entity>()
                .select_only()
                .column(messages::Column::Id)
                .column(messages::Column::MailboxId)
                .column(messages::Column::FolderId)
                .filter(messages::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(self.store.db())
                .await?;
            out.extend(
                found
                    .into_iter()
                    .filter(|(_, m, f)| *m == mailbox && *f == folder)
                    .map(|(id, _, _)| id),
            );
        }
        Ok(out)
    }

    /// Records messages as taken by POP3 (`keep`).
    async fn take_for_pop3(&self, mailbox: Uuid, ids: &[Uuid]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let w = self.store.writer_quiet().await;
        pop3_taken::Entity::insert_many(ids.iter().map(|id| pop3_taken::ActiveModel {
            message_id: Set(*id),
            tenant_id: Set(self.tid()),
            mailbox_id: Set(mailbox),
            created_at: Set(now),
        }))
        .on_conflict(
            OnConflict::column(pop3_taken::Column::MessageId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&*w)
        .await?;
        Ok(())
    }
}
