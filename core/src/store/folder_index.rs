//! What an IMAP session holds of its selected folder: each message's UID, MODSEQ, flags and
//! keywords, loaded once at SELECT and kept current from what changed after the session's last
//! MODSEQ (arrivals and flag changes from `messages`, departures from the expunge log), so a
//! session never re-reads the whole folder to learn about another session's change.

use super::TenantStore;
use super::entities::{expunged, folders, messages};
use crate::error::{Error, Result};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

/// One message as a session tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The message's id.
    pub id: Uuid,
    /// Its UID in the folder.
    pub uid: i64,
    /// Its MODSEQ.
    pub modseq: i64,
    /// Flag bits ([`crate::mail::flags`]).
    pub flags: i32,
    /// Keywords.
    pub keywords: Vec<String>,
}

/// A message as an IMAP FETCH reads it ([`TenantStore::fetch_rows`]).
#[derive(Debug, Clone)]
pub struct FetchRow {
    /// The message.
    pub id: Uuid,
    /// RFC822.SIZE: octets as stored, trace fields included.
    pub size: i64,
    /// INTERNALDATE.
    pub internal_date: chrono::DateTime<chrono::Utc>,
    /// Octets of the trace fields Mailroom put before the message's own header.
    pub trace_prefix_len: usize,
    /// The parse-once summary, as stored (JSON).
    pub summary: String,
    /// The stored message, when asked for.
    pub raw: Option<Vec<u8>>,
}

#[derive(sea_orm::FromQueryResult)]
struct FetchRowQuery {
    id: Uuid,
    mailbox_id: Uuid,
    size: i64,
    internal_date: chrono::DateTime<chrono::Utc>,
    trace_prefix: String,
    summary: String,
    blob_size: i64,
    data: Option<Vec<u8>>,
}

/// A folder's IMAP counters as one read saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderMark {
    /// The folder.
    pub id: Uuid,
    /// Its mailbox.
    pub mailbox_id: Uuid,
    /// UIDVALIDITY.
    pub uidvalidity: i64,
    /// UIDNEXT.
    pub uidnext: i64,
    /// HIGHESTMODSEQ.
    pub highestmodseq: i64,
    /// The first UID no session has been told is `\Recent`.
    pub recent_uid: i64,
}

impl From<&folders::Model> for FolderMark {
    fn from(f: &folders::Model) -> Self {
        Self {
            id: f.id,
            mailbox_id: f.mailbox_id,
            uidvalidity: f.uidvalidity,
            uidnext: f.uidnext,
            highestmodseq: f.highestmodseq,
            recent_uid: f.recent_uid,
        }
    }
}

/// What changed in a folder after a MODSEQ.
#[derive(Debug, Clone)]
pub struct IndexChanges {
    /// The folder now.
    pub folder: FolderMark,
    /// Messages that arrived or changed after the MODSEQ, by UID.
    pub changed: Vec<IndexEntry>,
    /// UIDs that left after the MODSEQ, ascending.
    pub vanished: Vec<i64>,
}

type EntryRow = (Uuid, i64, i64, i32, String);

/// A row of [`TenantStore::index_changes`]' one query: a message, (flags [`GONE`]) a
/// departure, or (flags [`FOLDER`]) the folder itself, its UIDNEXT in `uid`, HIGHESTMODSEQ in
/// `modseq`, UIDVALIDITY in `a` and the recent mark in `b`.
#[derive(sea_orm::FromQueryResult)]
struct ChangeRow {
    id: Uuid,
    uid: i64,
    modseq: i64,
    flags: i32,
    keywords: String,
    a: i64,
    b: i64,
}

/// The flags of a departure in [`ChangeRow`] (no message has negative flags).
const GONE: i32 = -1;
/// The flags of the folder's own row in [`ChangeRow`].
const FOLDER: i32 = -2;

fn entry((id, uid, modseq, flags, keywords): EntryRow) -> IndexEntry {
    IndexEntry {
        id,
        uid,
        modseq,
        flags,
        // Most messages have none: no JSON parse for them.
        keywords: if keywords == "[]" {
            Vec::new()
        } else {
            serde_json::from_str(&keywords).unwrap_or_default()
        },
    }
}

impl TenantStore {
    /// A folder of a mailbox within reach.
    pub async fn folder_row(&self, mailbox: Uuid, folder: Uuid) -> Result<folders::Model> {
        self.find_by_id::<folders::Entity>(folder)
            .filter(folders::Column::MailboxId.eq(mailbox))
            .filter(self.live_mailbox(mailbox)?)
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)
    }

    /// A condition that holds while `mailbox` is a live (not deleted) mailbox of this tenant
    /// within this store's reach: what [`TenantStore::mailbox_on`] checks, folded into the
    /// query that reads (one round trip instead of two on the IMAP paths that run per command).
    pub(crate) fn live_mailbox(&self, mailbox: Uuid) -> Result<sea_orm::sea_query::SimpleExpr> {
        use super::entities::mailboxes;
        use sea_orm::sea_query::{Expr, ExprTrait, Query};
        if self.actor.mailbox.is_some_and(|own| own != mailbox) {
            return Err(Error::NotFound);
        }
        Ok(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(mailboxes::Entity)
                .and_where(Expr::col((mailboxes::Entity, mailboxes::Column::Id)).eq(mailbox))
                .and_where(
                    Expr::col((mailboxes::Entity, mailboxes::Column::TenantId)).eq(self.tid()),
                )
                .and_where(Expr::col((mailboxes::Entity, mailboxes::Column::DeletedAt)).is_null())
                .to_owned(),
        ))
    }

    /// The folder and its messages in UID order (what SELECT loads). The folder is read first:
    /// a message arriving meanwhile may be in the list with a MODSEQ above the folder's, and is
    /// then reported once more as changed by the next [`TenantStore::index_changes`].
    pub async fn folder_index(
        &self,
        mailbox: Uuid,
        folder: Uuid,
    ) -> Result<(FolderMark, Vec<IndexEntry>)> {
        let f = self.folder_row(mailbox, folder).await?;
        let entries = self.entries(mailbox, folder, None).await?;
        Ok(((&f).into(), entries))
    }

    /// What changed in the folder after `modseq`, every change (the session holds the whole
    /// folder's index already, so this is bounded by what it holds plus what arrived).
    pub async fn index_changes(
        &self,
        mailbox: Uuid,
        folder: Uuid,
        modseq: i64,
    ) -> Result<IndexChanges> {
        // The folder's counters, arrivals and changes (from `messages`) and departures (from
        // the expunge log) in one query: one round trip, one snapshot. This runs after most
        // IMAP commands.
        use messages::Column as C;
        use sea_orm::sea_query::{Expr, UnionType};
        use sea_orm::{FromQueryResult, QueryTrait};
        let mut q = self
            .find_by_id::<folders::Entity>(folder)
            .select_only()
            .column(folders::Column::Id)
            .expr_as(Expr::col(folders::Column::Uidnext), "uid")
            .expr_as(Expr::col(folders::Column::Highestmodseq), "modseq")
            .expr_as(Expr::val(FOLDER), "flags")
            .expr_as(Expr::val(String::new()), "keywords")
            .expr_as(Expr::col(folders::Column::Uidvalidity), "a")
            .expr_as(Expr::col(folders::Column::RecentUid), "b")
            .filter(folders::Column::MailboxId.eq(mailbox))
            .filter(self.live_mailbox(mailbox)?)
            .into_query();
        let changed = self
            .find::<messages::Entity>()
            .select_only()
            .columns([C::Id, C::Uid, C::Modseq, C::Flags, C::Keywords])
            .expr(Expr::val(0i64))
            .expr(Expr::val(0i64))
            .filter(C::MailboxId.eq(mailbox))
            .filter(C::FolderId.eq(folder))
            .filter(C::Modseq.gt(modseq))
            .into_query();
        let gone = self
            .find::<expunged::Entity>()
            .select_only()
            .columns([
                expunged::Column::Id,
                expunged::Column::Uid,
                expunged::Column::Modseq,
            ])
            .expr(Expr::val(GONE))
            .expr(Expr::val(String::new()))
            .expr(Expr::val(0i64))
            .expr(Expr::val(0i64))
            .filter(expunged::Column::MailboxId.eq(mailbox))
            .filter(expunged::Column::FolderId.eq(folder))
            .filter(expunged::Column::Modseq.gt(modseq))
            .into_query();
        q.union(UnionType::All, changed);
        q.union(UnionType::All, gone);
        let db = self.store.db();
        let stmt = db.get_database_backend().build(&q);
        let rows = ChangeRow::find_by_statement(stmt).all(db).await?;
        let mut mark = None;
        let mut changed = Vec::new();
        let mut vanished = Vec::new();
        for r in rows {
            match r.flags {
                FOLDER => {
                    mark = Some(FolderMark {
                        id: r.id,
                        mailbox_id: mailbox,
                        uidvalidity: r.a,
                        uidnext: r.uid,
                        highestmodseq: r.modseq,
                        recent_uid: r.b,
                    })
                }
                GONE => vanished.push(r.uid),
                _ => changed.push(entry((r.id, r.uid, r.modseq, r.flags, r.keywords))),
            }
        }
        // No folder row: the folder, or its mailbox, is gone (or was never within reach).
        let f = mark.ok_or(Error::NotFound)?;
        changed.sort_by_key(|e| e.uid);
        vanished.sort_unstable();
        vanished.dedup();
        Ok(IndexChanges {
            folder: f,
            changed,
            vanished,
        })
    }

    async fn entries(
        &self,
        mailbox: Uuid,
        folder: Uuid,
        after: Option<i64>,
    ) -> Result<Vec<IndexEntry>> {
        use messages::Column as C;
        let mut q = self
            .find::<messages::Entity>()
            .select_only()
            .columns([C::Id, C::Uid, C::Modseq, C::Flags, C::Keywords])
            .filter(C::MailboxId.eq(mailbox))
            .filter(C::FolderId.eq(folder));
        if let Some(m) = after {
            q = q.filter(C::Modseq.gt(m));
        }
        let rows: Vec<EntryRow> = q
            .order_by_asc(C::Uid)
            .into_tuple()
            .all(self.store.db())
            .await?;
        Ok(rows.into_iter().map(entry).collect())
    }

    /// IMAP `\Recent`: claims for the calling session the folder's messages no session has been
    /// told of (UIDs from `recent_uid` up to UIDNEXT) and moves the mark to UIDNEXT. Returns the
    /// claimed UID range `from..to` (empty when there was nothing new). Only the first session
    /// to claim a message gets it: the mark moves under the folder's row lock (Postgres) or the
    /// one writer (SQLite).
    /// `seen` is the folder as the caller just read it: when no message is new there, nothing
    /// is written (nor read again).
    pub async fn claim_recent(&self, seen: &FolderMark) -> Result<(i64, i64)> {
        if seen.recent_uid >= seen.uidnext {
            return Ok((seen.uidnext, seen.uidnext));
        }
        let (mailbox, folder) = (seen.mailbox_id, seen.id);
        if self.actor.mailbox.is_some_and(|own| own != mailbox) {
            return Err(Error::NotFound);
        }
        // Most often nobody claimed anything since `seen` was read: the mark moves in one
        // statement that checks it is still where `seen` found it. Otherwise (another session
        // claimed meanwhile) the folder is read again under its lock.
        {
            use sea_orm::sea_query::Expr;
            let w = self.store.writer_quiet().await;
            let moved = self
                .update_many::<folders::Entity>()
                .col_expr(folders::Column::RecentUid, Expr::value(seen.uidnext))
                .filter(folders::Column::Id.eq(folder))
                .filter(folders::Column::MailboxId.eq(mailbox))
                .filter(folders::Column::RecentUid.eq(seen.recent_uid))
                .exec(&*w)
                .await?;
            if moved.rows_affected == 1 {
                return Ok((seen.recent_uid, seen.uidnext));
            }
        }
        let tx = self.store.tx_quiet().await?;
        let mut q = self
            .find_by_id::<folders::Entity>(folder)
            .filter(folders::Column::MailboxId.eq(mailbox));
        if self.store.is_postgres() {
            q = q.lock_exclusive();
        }
        let f = q.one(&*tx).await?.ok_or(Error::NotFound)?;
        if f.recent_uid < f.uidnext {
            self.update_many::<folders::Entity>()
                .col_expr(
                    folders::Column::RecentUid,
                    sea_orm::sea_query::Expr::value(f.uidnext),
                )
                .filter(folders::Column::Id.eq(folder))
                .exec(&*tx)
                .await?;
        }
        tx.commit().await?;
        Ok((f.recent_uid.min(f.uidnext), f.uidnext))
    }

    /// How many of the folder's messages are recent for nobody yet (STATUS RECENT).
    pub async fn unclaimed_recent(&self, f: &folders::Model) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        Ok(self
            .find::<messages::Entity>()
            .filter(messages::Column::MailboxId.eq(f.mailbox_id))
            .filter(messages::Column::FolderId.eq(f.id))
            .filter(messages::Column::Uid.gte(f.recent_uid))
            .count(self.store.db())
            .await?)
    }

    /// Messages of a mailbox by id (those not found are left out), in no particular order;
    /// NotFound when the mailbox itself is gone.
    pub async fn messages_by_id(
        &self,
        mailbox: Uuid,
        ids: &[Uuid],
    ) -> Result<Vec<messages::Model>> {
        let db = self.store.db();
        let live = self.live_mailbox(mailbox)?;
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            // By id, the mailbox checked here: with `mailbox_id = ?` in the query, SQLite's
            // planner (which has no statistics) walks every message of the mailbox instead.
            out.extend(
                self.find::<messages::Entity>()
                    .filter(live.clone())
                    .filter(messages::Column::Id.is_in(chunk.to_vec()))
                    .all(db)
                    .await?
                    .into_iter()
                    .filter(|m| m.mailbox_id == mailbox),
            );
        }
        // Fewer found: some messages may be gone, or the whole mailbox (which is NotFound).
        if out.len() < ids.len() {
            self.mailbox_on(db, mailbox).await?;
        }
        Ok(out)
    }

    /// The stored bytes of many message rows read through this store, by message id: one
    /// query for all their blobs (a large body's further parts are read as [`Self::raw_of`]
    /// does). Rows of another tenant or mailbox are left out.
    pub async fn raws_of(
        &self,
        rows: &[&messages::Model],
    ) -> Result<std::collections::HashMap<Uuid, Vec<u8>>> {
        use super::entities::blobs;
        let mine: Vec<&messages::Model> = rows
            .iter()
            .copied()
            .filter(|m| {
                m.tenant_id == self.tid()
                    && self.actor.mailbox.is_none_or(|own| own == m.mailbox_id)
            })
            .collect();
        let mut hashes: Vec<String> = mine.iter().map(|m| m.blob_hash.clone()).collect();
        hashes.sort();
        hashes.dedup();
        let mut blobs_by_hash = std::collections::HashMap::new();
        for chunk in hashes.chunks(500) {
            let found: Vec<(String, i64, Vec<u8>)> =
                super::scope::all_tenants::find::<blobs::Entity>()
                    .select_only()
                    .column(blobs::Column::Hash)
                    .column(blobs::Column::Size)
                    .column(blobs::Column::Data)
                    .filter(blobs::Column::Hash.is_in(chunk.to_vec()))
                    .into_tuple()
                    .all(self.store.db())
                    .await?;
            for (h, size, data) in found {
                blobs_by_hash.insert(h, (size, data));
            }
        }
        let mut out = std::collections::HashMap::with_capacity(mine.len());
        for m in mine {
            let whole = match blobs_by_hash.get(&m.blob_hash) {
                Some((size, data)) => prefixed(&m.trace_prefix, *size, data),
                None => None,
            };
            let whole = match whole {
                Some(raw) => raw,
                // A body in parts (or a missing blob: raw_of says so).
                None => super::messages::raw_of(&self.store, m).await?,
            };
            out.insert(m.id, whole);
        }
        Ok(out)
    }

    /// The stored bytes of messages of the mailbox by id, in one query joining their blobs
    /// (a body stored in parts, rare, is read as [`Self::raws_of`] does). Ids of another
    /// mailbox or tenant are left out.
    pub async fn raws_by_id(
        &self,
        mailbox: Uuid,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, Vec<u8>>> {
        use super::entities::blobs;
        use messages::Column as C;
        use sea_orm::JoinType;
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(out);
        }
        if self.actor.mailbox.is_some_and(|own| own != mailbox) {
            return Err(Error::NotFound);
        }
        // By id alone, the mailbox checked here (as in `messages_by_id`).
        let rows: Vec<(Uuid, Uuid, String, i64, Vec<u8>)> = self
            .find::<messages::Entity>()
            .select_only()
            .column(C::Id)
            .column(C::MailboxId)
            .column(C::TracePrefix)
            .column(blobs::Column::Size)
            .column(blobs::Column::Data)
            .join(JoinType::InnerJoin, blob_of_message())
            .filter(C::Id.is_in(ids.iter().copied()))
            .into_tuple()
            .all(self.store.db())
            .await?;
        let mut in_parts = Vec::new();
        for (id, owner, prefix, size, data) in rows {
            if owner != mailbox {
                continue;
            }
            match prefixed(&prefix, size, &data) {
                Some(raw) => {
                    out.insert(id, raw);
                }
                None => in_parts.push(id),
            }
        }
        if !in_parts.is_empty() {
            let models = self.messages_by_id(mailbox, &in_parts).await?;
            let refs: Vec<&messages::Model> = models.iter().collect();
            out.extend(self.raws_of(&refs).await?);
        }
        Ok(out)
    }

    /// What an IMAP FETCH reads of messages of the mailbox, by id: the few columns its answers
    /// use, and with `bytes` the stored message too, joined in the same query (one round trip
    /// for a chunk of messages). Ids of another mailbox or tenant, and messages gone, are left
    /// out; a mailbox that is gone is [`Error::NotFound`].
    pub async fn fetch_rows(
        &self,
        mailbox: Uuid,
        ids: &[Uuid],
        bytes: bool,
    ) -> Result<Vec<FetchRow>> {
        use super::entities::blobs;
        use messages::Column as C;
        use sea_orm::JoinType;
        use sea_orm::sea_query::Expr;
        let live = self.live_mailbox(mailbox)?;
        let mut out = Vec::with_capacity(ids.len());
        let mut in_parts = Vec::new();
        for chunk in ids.chunks(500) {
            // By id, the mailbox checked here (as in `messages_by_id`).
            let mut q = self
                .find::<messages::Entity>()
                .select_only()
                .columns([
                    C::Id,
                    C::MailboxId,
                    C::Size,
                    C::InternalDate,
                    C::TracePrefix,
                    C::Summary,
                ])
                .filter(live.clone())
                .filter(C::Id.is_in(chunk.iter().copied()));
            q = if bytes {
                q.expr_as(Expr::col((blobs::Entity, blobs::Column::Size)), "blob_size")
                    .expr_as(Expr::col((blobs::Entity, blobs::Column::Data)), "data")
                    .join(JoinType::InnerJoin, blob_of_message())
            } else {
                q.expr_as(Expr::val(0i64), "blob_size")
                    .expr_as(Expr::val(Option::<Vec<u8>>::None), "data")
            };
            for r in q.into_model::<FetchRowQuery>().all(self.store.db()).await? {
                if r.mailbox_id != mailbox {
                    continue;
                }
                let raw = match &r.data {
                    Some(data) => {
                        let raw = prefixed(&r.trace_prefix, r.blob_size, data);
                        if raw.is_none() {
                            in_parts.push(r.id);
                        }
                        raw
                    }
                    None => None,
                };
                out.push(FetchRow {
                    id: r.id,
                    size: r.size,
                    internal_date: r.internal_date,
                    trace_prefix_len: r.trace_prefix.len(),
                    summary: r.summary,
                    raw,
                });
            }
        }
        // Fewer found: some messages may be gone, or the whole mailbox (which is NotFound).
        if out.len() < ids.len() {
            self.mailbox_on(self.store.db(), mailbox).await?;
        }
        if !in_parts.is_empty() {
            let mut raws = self.raws_by_id(mailbox, &in_parts).await?;
            for r in &mut out {
                if r.raw.is_none() {
                    r.raw = raws.remove(&r.id);
                }
            }
        }
        Ok(out)
    }

    /// The stored bytes of a message row read through this store.
    pub async fn raw_of(&self, m: &messages::Model) -> Result<Vec<u8>> {
        if m.tenant_id != self.tid() || self.actor.mailbox.is_some_and(|own| own != m.mailbox_id) {
            return Err(Error::NotFound);
        }
        super::messages::raw_of(&self.store, m).await
    }
}

/// A message's blob, to join: the stored bytes of a message are read with its row.
fn blob_of_message() -> sea_orm::RelationDef {
    use super::entities::blobs;
    use sea_orm::EntityTrait;
    messages::Entity::belongs_to(blobs::Entity)
        .from(messages::Column::BlobHash)
        .to(blobs::Column::Hash)
        .into()
}

/// The message as stored, trace prefix then blob, when the blob row holds the whole body
/// (`None` for a body stored in parts).
fn prefixed(prefix: &str, size: i64, data: &[u8]) -> Option<Vec<u8>> {
    if !usize::try_from(size).is_ok_and(|n| n == data.len()) {
        return None;
    }
    let mut raw = Vec::with_capacity(prefix.len() + data.len());
    raw.extend_from_slice(prefix.as_bytes());
    raw.extend_from_slice(data);
    Some(raw)
}
