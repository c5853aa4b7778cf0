//! The write path of new messages, for one message or a batch of them in one transaction.
//!
//! Storing a batch costs a fixed number of statements for the whole batch rather than about
//! ten per message: one multi-row insert each for blobs, threads, thread references and
//! messages, one look-up each for mailboxes, folders, duplicates and known thread references,
//! and one update each for the folders' UIDs and counters and for the mailboxes' quota use.
//! Only rarer work costs a statement per message: a reply matched by subject alone, a thread
//! merge, a reply that moves an existing thread's date.
//!
//! Lock order, as everywhere (see `message_changes.rs`): the target folders, in id order, then
//! the mailboxes, in id order, both taken late. Two batches, or a batch and a message change,
//! therefore never wait for each other in a cycle; a deadlock Postgres still reports (a thread
//! merge touches rows of other messages) rolls the batch back and it runs again.

use super::entities::{blob_parts, blobs, folders, mailboxes, messages};
use super::mail_state::{FolderDelta, step_folders};
use super::new_message::{FolderTarget, NewCopy, NewMessage, StoredCopy, blob_hash};
use super::scope::all_tenants;
use super::sql::{lock_in_order, values_list};
use super::{Store, Tx};
use crate::error::{Error, Result};
use crate::ids::new_id;
use crate::mail::flags;
use crate::mail::search::shown_addrs;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set, Statement,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use uuid::Uuid;

mod threading;

pub use threading::SUBJECT_THREAD_WINDOW_DAYS;
use threading::Threader;

/// Rows per multi-row insert (well under both backends' bound-parameter limits).
const INSERT_CHUNK: usize = 200;
/// Blobs per multi-row insert (their rows carry whole messages).
const BLOB_CHUNK: usize = 32;
/// Bytes of a body per database value: the first part in `blobs.data`, the rest in
/// `blob_parts` (see the migration that made them).
pub(crate) const BLOB_PART: usize = 1024 * 1024;
/// How long a commit whose reply was lost is asked after before it counts as failed.
const COMMIT_CHECK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);
/// How often a batch Postgres rolled back for a deadlock or serialization failure runs again.
const RETRIES: usize = 3;

/// One message of a batch, with its copies.
pub(crate) struct Item<'a> {
    /// Set for a tenant's own import: every copy must be a live mailbox of this tenant.
    pub tenant: Option<Uuid>,
    /// The message.
    pub msg: &'a NewMessage<'a>,
    /// Its copies (one per mailbox; later ones for the same mailbox are ignored).
    pub copies: &'a [NewCopy],
}

/// What became of one item: its copies (in mailbox-id order; copies for mailboxes deleted
/// meanwhile are left out) and the (mailbox, tenant) pairs of the copies.
pub(crate) type Outcome = (Vec<StoredCopy>, Vec<(Uuid, Uuid)>);

/// Cuts a string to at most `n` characters, without NUL (Postgres text cannot hold it).
pub(crate) fn cut(s: &str, n: usize) -> String {
    s.chars().filter(|c| *c != '\0').take(n).collect()
}

/// A copy that will be stored.
struct Planned {
    item: usize,
    id: Uuid,
    mailbox_id: Uuid,
    tenant_id: Uuid,
    /// Where it goes; `folder_id` once resolved.
    target: FolderTarget,
    folder_id: Uuid,
    thread_id: Uuid,
    prefix: String,
    size: i64,
    flags: i32,
    keywords: String,
    pipeline: String,
    uid: i64,
    modseq: i64,
}

/// Where an item's copy ended up, before UIDs are known.
enum Slot {
    /// A new copy: index into the planned copies.
    New(usize),
    /// A duplicate of a copy stored earlier.
    Earlier(StoredCopy),
    /// A duplicate of a copy earlier in this batch.
    InBatch(usize),
}

/// Per-item values computed once.
struct Prepared {
    hash: String,
    summary_json: String,
    to_addrs: String,
    from_addr: String,
    subject: String,
    message_id: Option<String>,
    preview: String,
    /// [`mailroom_proto::pop3::wire_len`] of the body.
    wire_size: i64,
}

/// Runs a transaction again (up to [`RETRIES`] times) when Postgres rolled it back for a
/// deadlock or a serialization failure.
pub(crate) async fn retrying<T, F, Fut>(mut run: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 0;
    loop {
        match run().await {
            Err(e) if attempt < RETRIES && is_retryable(&e) => {
                attempt += 1;
                tracing::info!(error = %e, attempt, "transaction rolled back; running it again");
            }
            r => return r,
        }
    }
}

fn is_retryable(e: &Error) -> bool {
    let (Error::Db(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)))
    | Error::Db(sea_orm::DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e)))) = e
    else {
        return false;
    };
    match e.as_ref() {
        sea_orm::sqlx::Error::Database(d) => {
            matches!(d.code().as_deref(), Some("40P01") | Some("40001"))
        }
        _ => false,
    }
}

/// More writes to make in a batch's transaction, once its copies are known (the outbound
/// queue rows of a sent message, with its copy in Sent): they commit or fail together.
pub(crate) trait InBatch: Send + Sync {
    /// Writes on `tx`; `stored` is the batch's outcome as it will be returned.
    fn write<'a>(
        &'a self,
        tx: &'a Tx,
        stored: &'a [Outcome],
    ) -> futures_util::future::BoxFuture<'a, Result<()>>;
}

impl Store {
    /// Stores the items in one transaction: all or nothing. Postgres deadlocks and
    /// serialization failures are retried.
    pub(crate) async fn store_batch(&self, items: &[Item<'_>]) -> Result<Vec<Outcome>> {
        retrying(|| self.try_store_batch(items, None)).await
    }

    /// Like [`Store::store_batch`], with `more` written in the same transaction.
    pub(crate) async fn store_batch_with(
        &self,
        items: &[Item<'_>],
        more: &dyn InBatch,
    ) -> Result<Vec<Outcome>> {
        retrying(|| self.try_store_batch(items, Some(more))).await
    }

    async fn try_store_batch(
        &self,
        items: &[Item<'_>],
        more: Option<&dyn InBatch>,
    ) -> Result<Vec<Outcome>> {
        let now = Utc::now();
        let prepared: Vec<Prepared> = items
            .iter()
            .map(|i| prepare(i.msg))
            .collect::<Result<_>>()?;
        let mailbox_ids: BTreeSet<Uuid> = items
            .iter()
            .flat_map(|i| i.copies.iter().map(|c| c.mailbox_id))
            .collect();
        let tx = self.tx_quiet().await?;
        // Blobs, once per distinct body.
        let mut seen_hash = HashSet::new();
        let distinct: Vec<(&Item<'_>, &Prepared)> = items
            .iter()
            .zip(&prepared)
            .filter(|(_, p)| seen_hash.insert(p.hash.as_str()))
            .collect();
        // Bodies past one part keep their first part in `blobs` and the rest in `blob_parts`;
        // those already stored (a delivery of the same bytes) are not written again.
        let large: Vec<&str> = distinct
            .iter()
            .filter(|(i, _)| i.msg.body.len() > BLOB_PART)
            .map(|(_, p)| p.hash.as_str())
            .collect();
        let stored_large: HashSet<String> = if large.is_empty() {
            HashSet::new()
        } else {
            all_tenants::find::<blobs::Entity>()
                .select_only()
                .column(blobs::Column::Hash)
                .filter(blobs::Column::Hash.is_in(large.iter().copied()))
                .into_tuple::<String>()
                .all(&*tx)
                .await?
                .into_iter()
                .collect()
        };
        for part in distinct.chunks(BLOB_CHUNK) {
            blobs::Entity::insert_many(part.iter().map(|(i, p)| blobs::ActiveModel {
                hash: Set(p.hash.clone()),
                size: Set(i.msg.body.len() as i64),
                data: Set(i.msg.body[..i.msg.body.len().min(BLOB_PART)].to_vec()),
                search_text: Set(i.msg.search_text.clone()),
                created_at: Set(now),
            }))
            .on_conflict(
                OnConflict::column(blobs::Column::Hash)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&*tx)
            .await?;
        }
        for (i, p) in distinct
            .iter()
            .filter(|(i, p)| i.msg.body.len() > BLOB_PART && !stored_large.contains(&p.hash))
        {
            // One statement per part: no value larger than a part passes through the driver.
            for (n, bytes) in i.msg.body[BLOB_PART..].chunks(BLOB_PART).enumerate() {
                blob_parts::Entity::insert(blob_parts::ActiveModel {
                    hash: Set(p.hash.clone()),
                    seq: Set(n as i32 + 1),
                    data: Set(bytes.to_vec()),
                })
                .on_conflict(
                    OnConflict::columns([blob_parts::Column::Hash, blob_parts::Column::Seq])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&*tx)
                .await?;
            }
        }

        // The live mailboxes.
        let mboxes: HashMap<Uuid, mailboxes::Model> = if mailbox_ids.is_empty() {
            HashMap::new()
        } else {
            all_tenants::find::<mailboxes::Entity>()
                .filter(mailboxes::Column::Id.is_in(mailbox_ids.iter().copied()))
                .filter(mailboxes::Column::DeletedAt.is_null())
                .all(&*tx)
                .await?
                .into_iter()
                .map(|m| (m.id, m))
                .collect()
        };

        // Copies stored earlier (a client retrying after a lost `250`).
        let widest = items.iter().filter_map(|i| i.msg.dedup_window).max();
        let mut earlier: HashMap<(Uuid, String), messages::Model> = HashMap::new();
        if let Some(window) = widest {
            let hashes: BTreeSet<&str> = items
                .iter()
                .zip(&prepared)
                .filter(|(i, _)| i.msg.dedup_window.is_some())
                .map(|(_, p)| p.hash.as_str())
                .collect();
            let rows = all_tenants::find::<messages::Entity>()
                .filter(messages::Column::MailboxId.is_in(mboxes.keys().copied()))
                .filter(messages::Column::BlobHash.is_in(hashes))
                .filter(messages::Column::CreatedAt.gt(now - window))
                .all(&*tx)
                .await?;
            for r in rows {
                earlier
                    .entry((r.mailbox_id, r.blob_hash.clone()))
                    .or_insert(r);
            }
        }

        // Which copies are new, and which are duplicates.
        let mut planned: Vec<Planned> = Vec::new();
        let mut slots: Vec<Vec<Slot>> = Vec::with_capacity(items.len());
        let mut in_batch: HashMap<(Uuid, &str), usize> = HashMap::new();
        for (n, (item, p)) in items.iter().zip(&prepared).enumerate() {
            let mut order: Vec<&NewCopy> = item.copies.iter().collect();
            order.sort_by_key(|c| c.mailbox_id);
            order.dedup_by_key(|c| c.mailbox_id);
            let mut mine = Vec::new();
            for copy in order {
                let Some(mbox) = mboxes.get(&copy.mailbox_id) else {
                    if item.tenant.is_some() {
                        return Err(Error::NotFound);
                    }
                    continue;
                };
                if item.tenant.is_some_and(|t| t != mbox.tenant_id) {
                    return Err(Error::NotFound);
                }
                if let Some(window) = item.msg.dedup_window {
                    if let Some(e) = earlier
                        .get(&(mbox.id, p.hash.clone()))
                        .filter(|e| e.created_at > now - window)
                    {
                        mine.push(Slot::Earlier(StoredCopy {
                            mailbox_id: e.mailbox_id,
                            message_id: e.id,
                            folder_id: e.folder_id,
                            uid: e.uid,
                            modseq: e.modseq,
                            duplicate: true,
                        }));
                        continue;
                    }
                    if let Some(&k) = in_batch.get(&(mbox.id, p.hash.as_str())) {
                        mine.push(Slot::InBatch(k));
                        continue;
                    }
                }
                let prefix = format!("{}{}", item.msg.trace_prefix, copy.extra_headers);
                let size = (prefix.len() + item.msg.body.len()) as i64;
                in_batch.insert((mbox.id, p.hash.as_str()), planned.len());
                mine.push(Slot::New(planned.len()));
                planned.push(Planned {
                    item: n,
                    id: new_id(),
                    mailbox_id: mbox.id,
                    tenant_id: mbox.tenant_id,
                    target: copy.folder.clone(),
                    folder_id: Uuid::nil(),
                    thread_id: Uuid::nil(),
                    prefix,
                    size,
                    flags: copy.flags,
                    keywords: serde_json::to_string(&copy.keywords)
                        .map_err(|e| Error::Internal(e.to_string()))?,
                    pipeline: copy.pipeline.to_string(),
                    uid: 0,
                    modseq: 0,
                });
            }
            slots.push(mine);
        }

        // Threads.
        let mut threader = Threader::load(&tx, items, &planned).await?;
        for k in 0..planned.len() {
            let msg = items[planned[k].item].msg;
            planned[k].thread_id = threader.assign(&tx, &mut planned, k, msg).await?;
        }
        threader.write(&tx).await?;

        // Folders: UID, MODSEQ and counters, then the messages.
        self.allocate(&tx, &mut planned).await?;
        for part in planned.chunks(INSERT_CHUNK) {
            messages::Entity::insert_many(
                part.iter()
                    .map(|c| message_row(c, &items[c.item], &prepared[c.item], now)),
            )
            .exec_without_returning(&*tx)
            .await?;
        }

        // Quota use, last.
        let mut used: BTreeMap<Uuid, i64> = BTreeMap::new();
        for c in &planned {
            *used.entry(c.mailbox_id).or_default() += c.size;
        }
        self.add_used_bytes(&tx, &used).await?;
        // A tenant's own import must fit its mailbox's quota, checked here, under the lock of
        // the mailbox row, so two imports at once cannot both squeeze in. (SMTP mail is held to
        // the quota at RCPT: a list's copy to a full mailbox is kept rather than lost.)
        let enforced: BTreeSet<Uuid> = planned
            .iter()
            .filter(|c| items[c.item].tenant.is_some())
            .map(|c| c.mailbox_id)
            .collect();
        over_quota(&tx, enforced).await?;
        let out: Vec<Outcome> = slots
            .into_iter()
            .map(|mine| {
                let mut tenants = Vec::new();
                let copies = mine
                    .into_iter()
                    .map(|s| {
                        let c = match s {
                            Slot::Earlier(c) => c,
                            Slot::New(k) | Slot::InBatch(k) => {
                                let p = &planned[k];
                                StoredCopy {
                                    mailbox_id: p.mailbox_id,
                                    message_id: p.id,
                                    folder_id: p.folder_id,
                                    uid: p.uid,
                                    modseq: p.modseq,
                                    duplicate: matches!(s, Slot::InBatch(_)),
                                }
                            }
                        };
                        if let Some(m) = mboxes.get(&c.mailbox_id) {
                            tenants.push((m.id, m.tenant_id));
                        }
                        c
                    })
                    .collect();
                (copies, tenants)
            })
            .collect();
        if let Some(more) = more {
            more.write(&tx, &out).await?;
        }
        if let Err(e) = tx.commit().await
            && !self
                .committed_after_all(&e, planned.first().map(|c| (c.folder_id, c.id)))
                .await
        {
            return Err(e);
        }
        self.written.add(planned.len());
        Ok(out)
    }

    /// After a commit that failed with the database unreachable (the connection broke while
    /// COMMIT was in flight, the server shut down), whether the batch was stored all the same,
    /// judged by one of its new copies, `(folder, message)`. Answering `451` for a message that
    /// is stored would make its sender deliver it twice, so Postgres is asked until it answers
    /// or [`COMMIT_CHECK_DEADLINE`] passes. Unknown by then counts as not stored: the `451`
    /// stands, and the sender's retry of the same bytes is recognised as a duplicate. SQLite
    /// commits in process: its errors are outcomes.
    async fn committed_after_all(&self, e: &Error, probe: Option<(Uuid, Uuid)>) -> bool {
        let Some((folder, message)) = probe else {
            return false;
        };
        if !self.is_postgres() || e.outage() != Some(crate::error::Outage::Unavailable) {
            return false;
        }
        let end = std::time::Instant::now() + COMMIT_CHECK_DEADLINE;
        loop {
            let wait = end.saturating_duration_since(std::time::Instant::now());
            match tokio::time::timeout(wait, self.stored_once_settled(folder, message)).await {
                Ok(Ok(stored)) => {
                    if stored {
                        tracing::warn!(error = %e, %message, "the reply to COMMIT was lost, but the batch was stored");
                    }
                    return stored;
                }
                Ok(Err(_)) if wait > std::time::Duration::from_millis(200) => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                _ => {
                    tracing::warn!(error = %e, %message, "the outcome of a commit is unknown; answering as failed");
                    return false;
                }
            }
        }
    }

    /// Whether `message` exists, asked once the transaction that wrote it has ended: the batch
    /// updated `folder`'s row, so a share lock on it waits for that transaction's commit or
    /// rollback (Postgres finishes a COMMIT it received even when the client is gone).
    async fn stored_once_settled(&self, folder: Uuid, message: Uuid) -> Result<bool> {
        use sea_orm::TransactionTrait;
        let tx = self.db().begin().await?;
        tx.query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM folders WHERE id = $1 FOR SHARE",
            [folder.into()],
        ))
        .await?;
        let found = all_tenants::find_by_id::<messages::Entity>(message)
            .select_only()
            .column(messages::Column::Id)
            .into_tuple::<Uuid>()
            .one(&tx)
            .await?;
        tx.rollback().await?;
        Ok(found.is_some())
    }

    /// Resolves each copy's folder, locks the folders in id order, and takes a run of UIDs
    /// (one MODSEQ step) per folder, with the counters, in one statement on Postgres.
    async fn allocate(&self, tx: &Tx, planned: &mut [Planned]) -> Result<()> {
        if planned.is_empty() {
            return Ok(());
        }
        let mailbox_ids: BTreeSet<Uuid> = planned.iter().map(|c| c.mailbox_id).collect();
        let all = all_tenants::find::<folders::Entity>()
            .filter(folders::Column::MailboxId.is_in(mailbox_ids))
            .all(&**tx)
            .await?;
        // Each copy's target, in the order the copies were planned.
        let mut totals: BTreeMap<Uuid, (i64, i64, i64)> = BTreeMap::new();
        for c in planned.iter_mut() {
            let mine = |f: &&folders::Model| f.mailbox_id == c.mailbox_id;
            let folder = match &c.target {
                FolderTarget::Id(id) => all
                    .iter()
                    .filter(mine)
                    .find(|f| f.id == *id)
                    .ok_or_else(|| Error::invalid("folder", "no such folder in this mailbox"))?,
                FolderTarget::SpecialUse(role) => all
                    .iter()
                    .filter(mine)
                    .find(|f| f.special_use.as_deref() == Some(role.as_str()))
                    .or_else(|| all.iter().filter(mine).find(|f| f.name == "INBOX"))
                    .ok_or_else(|| Error::Internal("mailbox has no INBOX".into()))?,
            };
            c.folder_id = folder.id;
            let t = totals.entry(folder.id).or_default();
            t.0 += 1;
            t.1 += i64::from(c.flags & flags::SEEN == 0);
            t.2 += c.size;
        }
        let deltas: BTreeMap<Uuid, FolderDelta> = totals
            .iter()
            .map(|(id, (n, unseen, bytes))| {
                let d = FolderDelta {
                    added: *n,
                    unseen: *unseen,
                    bytes: *bytes,
                    ..FolderDelta::default()
                };
                (*id, d)
            })
            .collect();
        let after = match step_folders(tx, &deltas).await {
            Err(Error::NotFound) => {
                return Err(Error::Internal("a folder was deleted while storing".into()));
            }
            r => r?,
        };
        // UIDs in the order the copies were planned.
        let mut next: HashMap<Uuid, i64> = after
            .iter()
            .map(|(id, f)| (*id, f.uidnext - totals[id].0))
            .collect();
        for c in planned.iter_mut() {
            let uid = next
                .get_mut(&c.folder_id)
                .ok_or_else(|| Error::Internal("folder vanished while storing".into()))?;
            c.uid = *uid;
            *uid += 1;
            c.modseq = after[&c.folder_id].highestmodseq;
        }
        Ok(())
    }

    /// Adds stored bytes to each mailbox's quota use, locking the rows in id order.
    async fn add_used_bytes(&self, tx: &Tx, used: &BTreeMap<Uuid, i64>) -> Result<()> {
        if self.is_postgres() && used.len() > 1 {
            lock_in_order::<mailboxes::Entity, _>(tx, mailboxes::Column::Id, used.keys()).await?;
            let (values, params) =
                values_list(used.iter().map(|(id, b)| [(*id).into(), (*b).into()]));
            let sql = format!(
                "UPDATE mailboxes AS m SET used_bytes = m.used_bytes + v.bytes \
                 FROM (VALUES {values}) AS v(id, bytes) WHERE m.id = v.id"
            );
            tx.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                params,
            ))
            .await?;
        } else {
            for (id, bytes) in used {
                all_tenants::update_many::<mailboxes::Entity>()
                    .col_expr(
                        mailboxes::Column::UsedBytes,
                        Expr::col(mailboxes::Column::UsedBytes).add(*bytes),
                    )
                    .filter(mailboxes::Column::Id.eq(*id))
                    .exec(&**tx)
                    .await?;
            }
        }
        Ok(())
    }
}

/// `quota_exceeded` when one of `mailboxes` holds more than its quota (read in the storing
/// transaction, after its bytes were added).
pub(crate) async fn over_quota(tx: &Tx, mailboxes: BTreeSet<Uuid>) -> Result<()> {
    if mailboxes.is_empty() {
        return Ok(());
    }
    let rows: Vec<(Uuid, i64, Option<i64>)> = all_tenants::find::<mailboxes::Entity>()
        .select_only()
        .column(mailboxes::Column::Id)
        .column(mailboxes::Column::UsedBytes)
        .column(mailboxes::Column::QuotaBytes)
        .filter(mailboxes::Column::Id.is_in(mailboxes))
        .into_tuple()
        .all(&**tx)
        .await?;
    match rows
        .into_iter()
        .find(|(_, used, quota)| quota.is_some_and(|q| *used > q))
    {
        Some((_, used, Some(quota))) => Err(Error::Conflict {
            code: "quota_exceeded",
            detail: format!("the mailbox would hold {used} of {quota} bytes"),
        }),
        _ => Ok(()),
    }
}

fn prepare(msg: &NewMessage<'_>) -> Result<Prepared> {
    let s = &msg.summary;
    Ok(Prepared {
        hash: blob_hash(&msg.body),
        summary_json: serde_json::to_string(s).map_err(|e| Error::Internal(e.to_string()))?,
        to_addrs: cut(&shown_addrs(s.to.iter().chain(s.cc.iter()).cloned()), 2000),
        from_addr: cut(&shown_addrs(s.from.first().cloned()), 2000),
        subject: cut(s.subject.as_deref().unwrap_or(""), 2000),
        message_id: s.message_id.as_deref().map(|m| cut(m, 998)),
        preview: cut(&s.preview, 256),
        wire_size: i64::try_from(mailroom_proto::pop3::wire_len(&msg.body)).unwrap_or(i64::MAX),
    })
}

fn message_row(
    c: &Planned,
    item: &Item<'_>,
    p: &Prepared,
    now: DateTime<Utc>,
) -> messages::ActiveModel {
    let s = &item.msg.summary;
    messages::ActiveModel {
        id: Set(c.id),
        tenant_id: Set(c.tenant_id),
        mailbox_id: Set(c.mailbox_id),
        folder_id: Set(c.folder_id),
        uid: Set(c.uid),
        modseq: Set(c.modseq),
        blob_hash: Set(p.hash.clone()),
        trace_prefix: Set(c.prefix.clone()),
        size: Set(c.size),
        wire_size: Set(Some(p.wire_size.saturating_add(
            mailroom_proto::pop3::wire_len(c.prefix.as_bytes()) as i64,
        ))),
        flags: Set(c.flags),
        keywords: Set(c.keywords.clone()),
        internal_date: Set(item.msg.internal_date),
        thread_id: Set(c.thread_id),
        message_id_header: Set(p.message_id.clone()),
        subject: Set(p.subject.clone()),
        from_addr: Set(p.from_addr.clone()),
        to_addrs: Set(p.to_addrs.clone()),
        sent_at: Set(s.date),
        preview: Set(p.preview.clone()),
        has_attachments: Set(!s.attachments.is_empty()),
        attachment_count: Set(i32::try_from(s.attachments.len()).unwrap_or(i32::MAX)),
        summary: Set(p.summary_json.clone()),
        auth_results: Set(item.msg.auth_results.clone()),
        pipeline: Set(c.pipeline.clone()),
        source: Set(item.msg.source),
        created_at: Set(now),
    }
}
