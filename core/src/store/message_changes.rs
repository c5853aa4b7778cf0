//! Changing messages: flags and keywords, moves between folders, deletion (to Trash, or for
//! good from Trash). REST uses it today and IMAP will: every change bumps the folder's
//! HIGHESTMODSEQ and the changed messages' MODSEQ, keeps the folder counters exact, logs
//! expunged UIDs (for QRESYNC VANISHED), and yields the bus events to publish after commit.
//!
//! Each call is one transaction that locks all the mailbox's folders in id order before the
//! mailbox row (deliveries lock their folders in id order, then mailboxes), so writers never
//! deadlock.

use super::delivery::retrying;
use super::entities::{events, folders, mailboxes, messages};
use super::mail_state::{self, ChangeKind, FolderDelta, log_expunged, step_folders};
use super::scope::Tenant;
use super::{TenantStore, Tx};
use crate::bus::MailboxEvent;
use crate::error::{Error, Result};
use crate::mail::flags;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Messages one call may change.
pub const MAX_BATCH: usize = 1000;
/// Keywords one message may carry.
pub const MAX_KEYWORDS: usize = 50;
/// Characters of one keyword.
const MAX_KEYWORD_CHARS: usize = 64;

/// What to do to messages. Flags are bits of [`crate::mail::flags`].
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// Flag bits to set.
    pub set_flags: i32,
    /// Flag bits to clear.
    pub clear_flags: i32,
    /// Keywords to add.
    pub add_keywords: Vec<String>,
    /// Keywords to remove.
    pub remove_keywords: Vec<String>,
    /// Move to this folder.
    pub move_to: Option<Uuid>,
    /// A message already in `move_to` moves too (a new UID there), as IMAP MOVE into the
    /// selected folder does (RFC 6851); otherwise it is left alone.
    pub move_within: bool,
}

/// What a change did.
#[derive(Debug, Clone, Default)]
pub struct ChangeReport {
    /// Messages found (changed, or already as asked).
    pub done: Vec<Uuid>,
    /// Ids not found in the mailbox.
    pub not_found: Vec<Uuid>,
    /// Messages deleted for good.
    pub expunged: Vec<Uuid>,
    /// Events to publish after commit.
    pub events: Vec<MailboxEvent>,
    /// For moves and copies: each message's UID in its folder before, and its (new) UID in
    /// the target folder, in the order of the old UIDs (IMAP's COPYUID).
    pub uids: Vec<(i64, i64)>,
}

#[derive(Debug, Clone, FromQueryResult)]
struct Row {
    id: Uuid,
    mailbox_id: Uuid,
    folder_id: Uuid,
    uid: i64,
    flags: i32,
    keywords: String,
    size: i64,
}

/// Checks a keyword is an IMAP flag keyword (an atom that is not a system flag).
pub fn valid_keyword(k: &str) -> bool {
    !k.is_empty()
        && k.chars().count() <= MAX_KEYWORD_CHARS
        && !k.starts_with('\\')
        && k.bytes()
            .all(|b| (0x21..0x7f).contains(&b) && !b"(){%*\"]\\".contains(&b))
}

impl Change {
    /// Validates the keywords and the flag bits.
    pub fn validate(&self) -> Result<()> {
        for k in self.add_keywords.iter().chain(&self.remove_keywords) {
            if !valid_keyword(k) {
                return Err(Error::invalid(
                    "keywords",
                    format!(
                        "{k:?} is not a keyword: 1-{MAX_KEYWORD_CHARS} printable ASCII characters without spaces, ( ) {{ % * \" ] \\, not starting with \\"
                    ),
                ));
            }
        }
        if self.add_keywords.len() > MAX_KEYWORDS {
            return Err(Error::invalid(
                "keywords",
                format!("a message carries at most {MAX_KEYWORDS} keywords"),
            ));
        }
        Ok(())
    }
}

impl TenantStore {
    /// Reads the rows of `ids` after locking every folder of the mailbox, in id order (on
    /// Postgres; SQLite has one writer at a time). Deliveries lock the folders they store into
    /// in id order too, then mailbox rows, so writers never wait for each other in a cycle;
    /// and a row whose folder we hold cannot change under us (every change locks the folder
    /// of the row it changes), so flag-based counter deltas stay exact. (Locking the folders a
    /// change's rows are in one by one, as they were found, deadlocked against moves in the
    /// other direction.) A move's target and Trash are folders of the mailbox: held too.
    async fn locked_rows(&self, tx: &Tx, mailbox: Uuid, ids: &[Uuid]) -> Result<Vec<Row>> {
        if self.store.is_postgres() {
            self.find::<folders::Entity>()
                .select_only()
                .column(folders::Column::Id)
                .filter(folders::Column::MailboxId.eq(mailbox))
                .order_by_asc(folders::Column::Id)
                .lock_exclusive()
                .into_tuple::<Uuid>()
                .all(&**tx)
                .await?;
        }
        self.rows(tx, mailbox, ids).await
    }

    async fn rows(&self, tx: &Tx, mailbox: Uuid, ids: &[Uuid]) -> Result<Vec<Row>> {
        if ids.len() > MAX_BATCH {
            return Err(Error::invalid(
                "ids",
                format!("at most {MAX_BATCH} messages at once"),
            ));
        }
        use messages::Column as C;
        // By id, the mailbox checked here: with `mailbox_id = ?` in the query, SQLite's planner
        // (which has no statistics) walks the mailbox's index, every message of it, instead
        // of looking the ids up.
        let mut rows: Vec<Row> = self
            .find::<messages::Entity>()
            .select_only()
            .columns([
                C::Id,
                C::MailboxId,
                C::FolderId,
                C::Uid,
                C::Flags,
                C::Keywords,
                C::Size,
            ])
            .filter(C::Id.is_in(ids.to_vec()))
            .filter(self.live_mailbox(mailbox)?)
            .into_model::<Row>()
            .all(&**tx)
            .await?;
        rows.retain(|r| r.mailbox_id == mailbox);
        Ok(rows)
    }

    /// Applies `change` to messages of a mailbox within reach. Ids of other mailboxes or
    /// tenants are reported as not found; nothing is changed for them.
    /// A Postgres deadlock (a delivery merging threads updates rows of other messages) runs
    /// the change again.
    pub async fn change_messages(
        &self,
        mailbox: Uuid,
        ids: &[Uuid],
        change: &Change,
    ) -> Result<ChangeReport> {
        change.validate()?;
        retrying(|| self.try_change_messages(mailbox, ids, change)).await
    }

    async fn try_change_messages(
        &self,
        mailbox: Uuid,
        ids: &[Uuid],
        change: &Change,
    ) -> Result<ChangeReport> {
        let tx = self.store.tx_quiet().await?;
        // A move reads the mailbox (its folders, its quota); a flag change does not: the rows'
        // read checks the mailbox is live, and only when some message is not found is the
        // mailbox read, to tell a mailbox that is gone (NotFound) from messages that are.
        // On SQLite each read here is a round trip made while the write lock is held.
        let mbox = match change.move_to {
            Some(dest) => {
                let m = self.mailbox_on(&*tx, mailbox).await?;
                folder_in(&tx, &m, dest).await?;
                Some(m)
            }
            None => None,
        };
        let rows = self.locked_rows(&tx, mailbox, ids).await?;
        if mbox.is_none() && rows.len() < ids.len() {
            self.mailbox_on(&*tx, mailbox).await?;
        }
        let mut report = report_for(ids, &rows);
        // Flags and keywords, grouped by folder: one MODSEQ per folder for the whole change.
        let mut by_folder: BTreeMap<Uuid, Vec<(Row, i32, String)>> = BTreeMap::new();
        for r in &rows {
            let mut kw: Vec<String> = serde_json::from_str(&r.keywords).unwrap_or_default();
            kw.retain(|k| !change.remove_keywords.contains(k));
            for k in &change.add_keywords {
                if !kw.contains(k) {
                    kw.push(k.clone());
                }
            }
            if kw.len() > MAX_KEYWORDS {
                return Err(Error::invalid(
                    "keywords",
                    format!("a message carries at most {MAX_KEYWORDS} keywords"),
                ));
            }
            let new_flags = (r.flags | change.set_flags) & !change.clear_flags;
            let kw_json = serde_json::to_string(&kw).map_err(|e| Error::Internal(e.to_string()))?;
            if new_flags != r.flags || kw_json != r.keywords {
                by_folder
                    .entry(r.folder_id)
                    .or_default()
                    .push((r.clone(), new_flags, kw_json));
            }
        }
        let deltas: BTreeMap<Uuid, FolderDelta> = by_folder
            .iter()
            .map(|(folder, changed)| {
                let unseen_delta = changed
                    .iter()
                    .map(|(r, f, _)| unseen(*f) - unseen(r.flags))
                    .sum();
                let d = FolderDelta {
                    unseen: unseen_delta,
                    ..FolderDelta::default()
                };
                (*folder, d)
            })
            .collect();
        let after = step_folders(&tx, &deltas).await?;
        for (folder, changed) in by_folder {
            let modseq = after[&folder].highestmodseq;
            // One statement per distinct result (a STORE of `+FLAGS (\Seen)` on a range
            // usually gives a handful), not one per message: on SQLite every statement is a
            // round trip to the connection's thread while this process's write lock is held.
            let mut same: BTreeMap<(i32, &str), Vec<Uuid>> = BTreeMap::new();
            for (r, new_flags, kw) in &changed {
                same.entry((*new_flags, kw.as_str()))
                    .or_default()
                    .push(r.id);
                report.events.push(mail_state::event(
                    self.tid(),
                    mailbox,
                    folder,
                    ChangeKind::Flags,
                    r.uid,
                    modseq,
                ));
            }
            for ((new_flags, kw), ids) in same {
                self.update_many::<messages::Entity>()
                    .col_expr(messages::Column::Flags, Expr::value(new_flags))
                    .col_expr(messages::Column::Keywords, Expr::value(kw))
                    .col_expr(messages::Column::Modseq, Expr::value(modseq))
                    .filter(messages::Column::Id.is_in(ids))
                    .exec(&*tx)
                    .await?;
            }
        }
        if let (Some(dest), Some(mbox)) = (change.move_to, &mbox) {
            let rows = self.rows(&tx, mailbox, ids).await?;
            let mut moving: Vec<Row> = rows
                .into_iter()
                .filter(|r| change.move_within || r.folder_id != dest)
                .collect();
            moving.sort_by_key(|r| r.uid);
            self.spam_signals(&tx, mbox, &moving, dest).await?;
            self.move_rows(&tx, mbox, moving, dest, &mut report).await?;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// Deletes messages the way mail clients do: a message outside Trash moves to Trash; one
    /// in Trash (or any, when the mailbox has no Trash folder) is deleted for good, its bytes
    /// leave the quota and its UID is logged as expunged.
    pub async fn delete_messages(&self, mailbox: Uuid, ids: &[Uuid]) -> Result<ChangeReport> {
        retrying(|| self.try_delete_messages(mailbox, ids)).await
    }

    async fn try_delete_messages(&self, mailbox: Uuid, ids: &[Uuid]) -> Result<ChangeReport> {
        let tx = self.store.tx_quiet().await?;
        let mbox = self.mailbox_on(&*tx, mailbox).await?;
        let trash = self
            .find::<folders::Entity>()
            .filter(folders::Column::MailboxId.eq(mailbox))
            .filter(folders::Column::SpecialUse.eq("trash"))
            .one(&*tx)
            .await?
            .map(|f| f.id);
        let rows = self.locked_rows(&tx, mailbox, ids).await?;
        let mut report = report_for(ids, &rows);
        let (gone, to_trash): (Vec<Row>, Vec<Row>) = rows
            .into_iter()
            .partition(|r| trash.is_none_or(|t| t == r.folder_id));
        if let Some(t) = trash {
            self.move_rows(&tx, &mbox, to_trash, t, &mut report).await?;
        }
        self.expunge_rows(&tx, &mbox, gone, &mut report).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Deletes messages of the mailbox for good, wherever they are (POP3's `delete`): their
    /// bytes leave the quota and their UIDs are logged as expunged. Ids not in the mailbox are
    /// reported as not found.
    pub async fn expunge_messages(&self, mailbox: Uuid, ids: &[Uuid]) -> Result<ChangeReport> {
        retrying(|| self.try_expunge_messages(mailbox, ids)).await
    }

    async fn try_expunge_messages(&self, mailbox: Uuid, ids: &[Uuid]) -> Result<ChangeReport> {
        let tx = self.store.tx_quiet().await?;
        let mbox = self.mailbox_on(&*tx, mailbox).await?;
        let rows = self.locked_rows(&tx, mailbox, ids).await?;
        let mut report = report_for(ids, &rows);
        self.expunge_rows(&tx, &mbox, rows, &mut report).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// IMAP EXPUNGE: deletes for good the messages of `folder` flagged `\Deleted` (only those
    /// of `ids` when given: UID EXPUNGE), at most [`MAX_BATCH`] per call, lowest UIDs first;
    /// call again while a full batch went. The flag is read inside the transaction, so a
    /// message another session has just undeleted stays.
    pub async fn expunge_deleted(
        &self,
        mailbox: Uuid,
        folder: Uuid,
        ids: Option<&[Uuid]>,
    ) -> Result<ChangeReport> {
        retrying(|| self.try_expunge_deleted(mailbox, folder, ids)).await
    }

    async fn try_expunge_deleted(
        &self,
        mailbox: Uuid,
        folder: Uuid,
        ids: Option<&[Uuid]>,
    ) -> Result<ChangeReport> {
        // Which messages are flagged \Deleted is read before this process's write lock is
        // taken: an EXPUNGE that finds none (most of them, in a client that expunges after
        // every delete) costs one read and no write transaction. The flags are read again
        // inside the transaction, so a message undeleted meanwhile stays.
        let candidates: Vec<Uuid> = {
            use messages::Column as C;
            let mut q = self
                .find::<messages::Entity>()
                .select_only()
                .column(C::Id)
                .filter(C::MailboxId.eq(mailbox))
                .filter(C::FolderId.eq(folder))
                .filter(Expr::col(C::Flags).bit_and(flags::DELETED).ne(0));
            if let Some(ids) = ids {
                q = q.filter(C::Id.is_in(ids.iter().take(MAX_BATCH).copied()));
            }
            q.order_by_asc(C::Uid)
                .limit(MAX_BATCH as u64)
                .into_tuple()
                .all(self.store.db())
                .await?
        };
        if candidates.is_empty() {
            return Ok(ChangeReport::default());
        }
        let tx = self.store.tx_quiet().await?;
        let mbox = self.mailbox_on(&*tx, mailbox).await?;
        folder_in(&tx, &mbox, folder).await?;
        let rows = self.locked_rows(&tx, mailbox, &candidates).await?;
        let gone: Vec<Row> = rows
            .into_iter()
            .filter(|r| r.folder_id == folder && r.flags & flags::DELETED != 0)
            .collect();
        let mut report = ChangeReport::default();
        self.expunge_rows(&tx, &mbox, gone, &mut report).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// IMAP COPY: copies messages of the mailbox into its folder `dest`, with their flags and
    /// keywords (the bytes are shared, not duplicated); new UIDs in the order of the old ones.
    /// The copies count against the quota: over it, nothing is copied (`quota_exceeded`).
    pub async fn copy_messages(
        &self,
        mailbox: Uuid,
        ids: &[Uuid],
        dest: Uuid,
    ) -> Result<ChangeReport> {
        retrying(|| self.try_copy_messages(mailbox, ids, dest)).await
    }

    async fn try_copy_messages(
        &self,
        mailbox: Uuid,
        ids: &[Uuid],
        dest: Uuid,
    ) -> Result<ChangeReport> {
        let tx = self.store.tx_quiet().await?;
        let mbox = self.mailbox_on(&*tx, mailbox).await?;
        folder_in(&tx, &mbox, dest).await?;
        let found = self.locked_rows(&tx, mailbox, ids).await?;
        let mut report = report_for(ids, &found);
        // (By id alone, the mailbox checked here: see `rows`.)
        let mut rows: Vec<messages::Model> = self
            .find::<messages::Entity>()
            .filter(messages::Column::Id.is_in(report.done.clone()))
            .all(&*tx)
            .await?;
        rows.retain(|r| r.mailbox_id == mailbox);
        if rows.is_empty() {
            return Ok(report);
        }
        rows.sort_by_key(|m| (m.folder_id, m.uid));
        let n = rows.len() as i64;
        let bytes: i64 = rows.iter().map(|m| m.size).sum();
        let arriving = FolderDelta {
            added: n,
            unseen: rows.iter().map(|m| unseen(m.flags)).sum(),
            bytes,
            ..FolderDelta::default()
        };
        let d = step_folders(&tx, &BTreeMap::from([(dest, arriving)])).await?[&dest];
        let first_uid = d.uidnext - n;
        let now = chrono::Utc::now();
        let mut copies = Vec::with_capacity(rows.len());
        for (i, m) in rows.into_iter().enumerate() {
            let uid = first_uid + i as i64;
            report.uids.push((m.uid, uid));
            report.events.push(event(
                &mbox,
                dest,
                ChangeKind::Appended,
                uid,
                d.highestmodseq,
            ));
            let copy = messages::Model {
                id: crate::ids::new_id(),
                folder_id: dest,
                uid,
                modseq: d.highestmodseq,
                created_at: now,
                ..m
            };
            copies.push(sea_orm::IntoActiveModel::into_active_model(copy));
        }
        messages::Entity::insert_many(copies)
            .exec_without_returning(&*tx)
            .await?;
        self.update_many::<mailboxes::Entity>()
            .col_expr(
                mailboxes::Column::UsedBytes,
                Expr::col(mailboxes::Column::UsedBytes).add(bytes),
            )
            .filter(mailboxes::Column::Id.eq(mailbox))
            .exec(&*tx)
            .await?;
        super::delivery::over_quota(&tx, BTreeSet::from([mailbox])).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// A move into Junk says "spam", out of it (but not into Trash) "not spam": each is recorded as a
    /// `message.spam_signal` event (payload: mailbox, verdict), whoever moved it (an IMAP
    /// client, a REST frontend), and one `spam.learn` job teaches the tenant's classifier.
    async fn spam_signals(
        &self,
        tx: &Tx,
        mbox: &mailboxes::Model,
        rows: &[Row],
        dest: Uuid,
    ) -> Result<()> {
        let roles: Vec<(Uuid, Option<String>)> = self
            .find::<folders::Entity>()
            .select_only()
            .column(folders::Column::Id)
            .column(folders::Column::SpecialUse)
            .filter(folders::Column::MailboxId.eq(mbox.id))
            .into_tuple()
            .all(&**tx)
            .await?;
        let role = |id: Uuid| {
            roles
                .iter()
                .find(|(f, _)| *f == id)
                .and_then(|(_, r)| r.as_deref())
        };
        let junk: BTreeSet<Uuid> = roles
            .iter()
            .filter(|(_, r)| r.as_deref() == Some("junk"))
            .map(|(f, _)| *f)
            .collect();
        let to_junk = junk.contains(&dest);
        // Throwing spam away (Junk to Trash) says nothing about it.
        if !to_junk && role(dest) == Some("trash") {
            return Ok(());
        }
        let now = chrono::Utc::now();
        let signals: Vec<events::ActiveModel> = rows
            .iter()
            .filter(|r| junk.contains(&r.folder_id) != to_junk)
            .map(|r| events::ActiveModel {
                id: sea_orm::ActiveValue::Set(crate::ids::new_id()),
                tenant_id: sea_orm::ActiveValue::Set(mbox.tenant_id),
                kind: sea_orm::ActiveValue::Set("message.spam_signal".into()),
                object_type: sea_orm::ActiveValue::Set("message".into()),
                object_id: sea_orm::ActiveValue::Set(Some(r.id)),
                payload: sea_orm::ActiveValue::Set(
                    serde_json::json!({
                        "mailbox_id": mbox.id,
                        "verdict": if to_junk { "spam" } else { "ham" },
                    })
                    .to_string(),
                ),
                created_at: sea_orm::ActiveValue::Set(now),
            })
            .collect();
        if !signals.is_empty() {
            let ids: Vec<Uuid> = rows
                .iter()
                .filter(|r| junk.contains(&r.folder_id) != to_junk)
                .map(|r| r.id)
                .collect();
            events::Entity::insert_many(signals)
                .exec_without_returning(&**tx)
                .await?;
            // The tenant's classifier learns from it, after the commit, in the job runner.
            super::jobs::enqueue(
                &**tx,
                crate::jobs::NewJob::new(
                    crate::jobs::SPAM_LEARN,
                    serde_json::json!({
                        "mailbox_id": mbox.id,
                        "message_ids": ids,
                        "verdict": if to_junk { "spam" } else { "ham" },
                    }),
                )
                .tenant(mbox.tenant_id),
            )
            .await?;
        }
        Ok(())
    }

    /// Moves rows to `dest`: new UIDs there (in the order given), expunged from their folders.
    async fn move_rows(
        &self,
        tx: &Tx,
        mbox: &mailboxes::Model,
        rows: Vec<Row>,
        dest: Uuid,
        report: &mut ChangeReport,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let n = rows.len() as i64;
        let bytes: i64 = rows.iter().map(|r| r.size).sum();
        let new_unseen: i64 = rows.iter().map(|r| unseen(r.flags)).sum();
        let arriving = FolderDelta {
            added: n,
            unseen: new_unseen,
            bytes,
            ..FolderDelta::default()
        };
        let d = step_folders(tx, &BTreeMap::from([(dest, arriving)])).await?[&dest];
        let first_uid = d.uidnext - n;
        self.leave_folders(tx, mbox, &rows, report).await?;
        for (i, r) in rows.iter().enumerate() {
            let uid = first_uid + i as i64;
            report.uids.push((r.uid, uid));
            self.update_many::<messages::Entity>()
                .col_expr(messages::Column::FolderId, Expr::value(dest))
                .col_expr(messages::Column::Uid, Expr::value(uid))
                .col_expr(messages::Column::Modseq, Expr::value(d.highestmodseq))
                .filter(messages::Column::Id.eq(r.id))
                .exec(&**tx)
                .await?;
            report.events.push(event(
                mbox,
                dest,
                ChangeKind::Appended,
                uid,
                d.highestmodseq,
            ));
        }
        Ok(())
    }

    /// Deletes rows for good.
    async fn expunge_rows(
        &self,
        tx: &Tx,
        mbox: &mailboxes::Model,
        rows: Vec<Row>,
        report: &mut ChangeReport,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let bytes: i64 = rows.iter().map(|r| r.size).sum();
        self.leave_folders(tx, mbox, &rows, report).await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        self.delete_many::<messages::Entity>()
            .filter(messages::Column::Id.is_in(ids.clone()))
            .exec(&**tx)
            .await?;
        self.update_many::<mailboxes::Entity>()
            .col_expr(
                mailboxes::Column::UsedBytes,
                Expr::col(mailboxes::Column::UsedBytes).sub(bytes),
            )
            .filter(mailboxes::Column::Id.eq(mbox.id))
            .exec(&**tx)
            .await?;
        report.expunged.extend(ids);
        Ok(())
    }

    /// Takes rows out of their folders' counters and logs their UIDs as expunged there.
    async fn leave_folders(
        &self,
        tx: &Tx,
        mbox: &mailboxes::Model,
        rows: &[Row],
        report: &mut ChangeReport,
    ) -> Result<()> {
        let mut by_folder: BTreeMap<Uuid, Vec<&Row>> = BTreeMap::new();
        for r in rows {
            by_folder.entry(r.folder_id).or_default().push(r);
        }
        let deltas: BTreeMap<Uuid, FolderDelta> = by_folder
            .iter()
            .map(|(folder, rows)| {
                let d = FolderDelta {
                    removed: rows.len() as i64,
                    unseen: -rows.iter().map(|r| unseen(r.flags)).sum::<i64>(),
                    bytes: -rows.iter().map(|r| r.size).sum::<i64>(),
                    ..FolderDelta::default()
                };
                (*folder, d)
            })
            .collect();
        let after = step_folders(tx, &deltas).await?;
        for (folder, rows) in by_folder {
            let modseq = after[&folder].highestmodseq;
            let uids: Vec<i64> = rows.iter().map(|r| r.uid).collect();
            log_expunged(tx, mbox.tenant_id, mbox.id, folder, &uids, modseq).await?;
            for uid in uids {
                report
                    .events
                    .push(event(mbox, folder, ChangeKind::Expunged, uid, modseq));
            }
        }
        Ok(())
    }
}

fn unseen(f: i32) -> i64 {
    i64::from(f & flags::SEEN == 0)
}

fn report_for(ids: &[Uuid], rows: &[Row]) -> ChangeReport {
    let found: BTreeSet<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut seen = BTreeSet::new();
    ChangeReport {
        done: found.iter().copied().collect(),
        not_found: ids
            .iter()
            .filter(|i| !found.contains(i) && seen.insert(**i))
            .copied()
            .collect(),
        ..Default::default()
    }
}

fn event(
    m: &mailboxes::Model,
    folder: Uuid,
    kind: ChangeKind,
    uid: i64,
    modseq: i64,
) -> MailboxEvent {
    mail_state::event(m.tenant_id, m.id, folder, kind, uid, modseq)
}

async fn folder_in(tx: &Tx, m: &mailboxes::Model, id: Uuid) -> Result<()> {
    Tenant(m.tenant_id)
        .find_by_id::<folders::Entity>(id)
        .filter(folders::Column::MailboxId.eq(m.id))
        .one(&**tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| Error::invalid("folder_id", "no such folder in this mailbox"))
}
