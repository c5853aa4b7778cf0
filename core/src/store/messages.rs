//! The message store: write path (delivery and import) and the read path lists and raw bytes
//! need.
//!
//! Invariants:
//! - A body is stored once per distinct content (SHA-256) in `blobs`; every copy references it.
//!   The stored message is the copy's `trace_prefix` followed by the blob, byte for byte.
//! - UID and MODSEQ are allocated from the folder row inside the storing transaction, so they
//!   are unique and strictly increasing per folder, and no UID is visible before it is
//!   committed.
//! - A mailbox's `used_bytes` changes in the same transaction, by a relative update, so it is
//!   exact under concurrency.
//! - All copies of one delivery commit together or not at all: `250` is sent after that.

use super::entities::{blobs, folders, mailboxes, messages, thread_refs, threads};
use super::page::{Page, PageRequest};
use super::{Store, SystemStore, TenantStore, Tx};
use crate::bus::MailboxEvent;
use crate::error::{Error, Result};
use crate::ids::new_id;
use crate::mail::flags;
use crate::mail::search::shown_addrs;
use crate::mail::summary::{Summary, normalize_subject};
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    UpdateMany,
};
use uuid::Uuid;

/// How long after its latest message a thread still takes a reply matched by subject only.
pub const SUBJECT_THREAD_WINDOW_DAYS: i64 = 7;
/// Message-IDs of one message taken into account for threading.
const MAX_THREAD_IDS: usize = 50;

/// Where a copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderTarget {
    /// The folder with this special use (`inbox`, `junk`, …); INBOX when the mailbox has none.
    SpecialUse(String),
    /// A folder by id (it must belong to the mailbox).
    Id(Uuid),
}

/// One copy to store.
#[derive(Debug, Clone)]
pub struct NewCopy {
    /// The mailbox.
    pub mailbox_id: Uuid,
    /// The folder.
    pub folder: FolderTarget,
    /// Flag bits ([`crate::mail::flags`]).
    pub flags: i32,
    /// Keywords.
    pub keywords: Vec<String>,
    /// What the ingest stages decided for this copy (JSON array).
    pub pipeline: serde_json::Value,
    /// Header fields the stages added to this copy, after the message's trace fields.
    pub extra_headers: String,
}

/// A message to store, parsed once.
pub struct NewMessage<'a> {
    /// The bytes received (after dot-unstuffing), or imported.
    pub body: &'a [u8],
    /// Trace header fields to put before the body (may be empty).
    pub trace_prefix: String,
    /// The parse-once summary of `body`. Its offsets are relative to the body: a reader adds
    /// the copy's `trace_prefix` length.
    pub summary: &'a Summary,
    /// The words the message is found by ([`crate::mail::search::index_text`]).
    pub search_text: String,
    /// SPF/DKIM/DMARC results (JSON), for SMTP deliveries.
    pub auth_results: Option<String>,
    /// IMAP INTERNALDATE.
    pub internal_date: DateTime<Utc>,
    /// `smtp` or `import`.
    pub source: &'static str,
    /// When set, a copy whose mailbox already holds this very body (same bytes, hence same
    /// Message-ID) stored within the window is not stored again: a client retrying after a
    /// lost `250` creates no visible duplicate.
    pub dedup_window: Option<Duration>,
}

/// What happened to one copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCopy {
    /// The mailbox.
    pub mailbox_id: Uuid,
    /// The message row (the earlier one, for a duplicate).
    pub message_id: Uuid,
    /// The folder.
    pub folder_id: Uuid,
    /// Its UID.
    pub uid: i64,
    /// Its MODSEQ.
    pub modseq: i64,
    /// True when the copy was a duplicate and nothing was stored.
    pub duplicate: bool,
}

/// Hex SHA-256.
pub fn blob_hash(body: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(body);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Cuts a string to at most `n` characters, without NUL (Postgres text cannot hold it).
fn cut(s: &str, n: usize) -> String {
    s.chars().filter(|c| *c != '\0').take(n).collect()
}

/// The events of stored copies, for the bus.
pub fn events_of(tenant_of: &[(Uuid, Uuid)], copies: &[StoredCopy]) -> Vec<MailboxEvent> {
    copies
        .iter()
        .filter(|c| !c.duplicate)
        .filter_map(|c| {
            let tenant = tenant_of.iter().find(|(m, _)| *m == c.mailbox_id)?.1;
            Some(MailboxEvent {
                tenant_id: tenant,
                mailbox_id: c.mailbox_id,
                folder_id: c.folder_id,
                kind: "appended".into(),
                uid: c.uid,
                modseq: c.modseq,
            })
        })
        .collect()
}

impl Store {
    /// Stores a message's copies in one transaction. Copies for mailboxes deleted meanwhile are
    /// left out (they are not in the result). Returns each copy and the (mailbox, tenant) pairs.
    ///
    /// Copies are stored in mailbox-id order, each locking its folder row (UID allocation) and
    /// then its mailbox row (quota use), so deliveries with overlapping recipients, and
    /// message changes (which lock folders, then the mailbox), cannot deadlock. Both locks
    /// are taken late, so writers to one busy mailbox wait only for each other's last steps.
    /// Per new copy: mailbox and dedup look-ups, the threading statements, the UID allocation,
    /// the message insert and the quota update.
    pub(crate) async fn store_copies(
        &self,
        tenant: Option<Uuid>,
        msg: &NewMessage<'_>,
        copies: &[NewCopy],
    ) -> Result<(Vec<StoredCopy>, Vec<(Uuid, Uuid)>)> {
        let hash = blob_hash(msg.body);
        let now = Utc::now();
        let mut order: Vec<&NewCopy> = copies.iter().collect();
        order.sort_by_key(|c| c.mailbox_id);
        order.dedup_by_key(|c| c.mailbox_id);
        let s = msg.summary;
        let summary_json = serde_json::to_string(s).map_err(|e| Error::Internal(e.to_string()))?;
        let to_addrs = cut(&shown_addrs(s.to.iter().chain(s.cc.iter()).cloned()), 2000);
        let tx = self.tx().await?;
        blobs::Entity::insert(blobs::ActiveModel {
            hash: Set(hash.clone()),
            size: Set(msg.body.len() as i64),
            data: Set(msg.body.to_vec()),
            search_text: Set(msg.search_text.clone()),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(blobs::Column::Hash)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&*tx)
        .await?;
        let mut out = Vec::new();
        let mut tenants = Vec::new();
        for copy in order {
            if let Some(window) = msg.dedup_window {
                let earlier = messages::Entity::find()
                    .filter(messages::Column::MailboxId.eq(copy.mailbox_id))
                    .filter(messages::Column::BlobHash.eq(&hash))
                    .filter(messages::Column::CreatedAt.gt(now - window))
                    .one(&*tx)
                    .await?;
                if let Some(e) = earlier {
                    out.push(StoredCopy {
                        mailbox_id: e.mailbox_id,
                        message_id: e.id,
                        folder_id: e.folder_id,
                        uid: e.uid,
                        modseq: e.modseq,
                        duplicate: true,
                    });
                    continue;
                }
            }
            let prefix = format!("{}{}", msg.trace_prefix, copy.extra_headers);
            let size = (prefix.len() + msg.body.len()) as i64;
            let mut q = mailboxes::Entity::find_by_id(copy.mailbox_id)
                .filter(mailboxes::Column::DeletedAt.is_null());
            if let Some(t) = tenant {
                q = q.filter(mailboxes::Column::TenantId.eq(t));
            }
            let Some(mbox) = q.one(&*tx).await? else {
                if tenant.is_some() {
                    return Err(Error::NotFound);
                }
                continue;
            };
            tenants.push((mbox.id, mbox.tenant_id));
            let thread = assign_thread(&tx, &mbox, s, msg.internal_date).await?;
            // Allocate UID and MODSEQ last: the folder row stays locked until commit.
            let unseen = copy.flags & flags::SEEN == 0;
            let f = allocate_in(&tx, &mbox, &copy.folder, |u| {
                u.col_expr(
                    folders::Column::TotalMessages,
                    Expr::col(folders::Column::TotalMessages).add(1),
                )
                .col_expr(
                    folders::Column::UnseenMessages,
                    Expr::col(folders::Column::UnseenMessages).add(i64::from(unseen)),
                )
                .col_expr(
                    folders::Column::TotalBytes,
                    Expr::col(folders::Column::TotalBytes).add(size),
                )
            })
            .await?;
            let (uid, modseq) = (f.uidnext - 1, f.highestmodseq);
            let id = new_id();
            messages::ActiveModel {
                id: Set(id),
                tenant_id: Set(mbox.tenant_id),
                mailbox_id: Set(mbox.id),
                folder_id: Set(f.id),
                uid: Set(uid),
                modseq: Set(modseq),
                blob_hash: Set(hash.clone()),
                trace_prefix: Set(prefix),
                size: Set(size),
                flags: Set(copy.flags),
                keywords: Set(serde_json::to_string(&copy.keywords)
                    .map_err(|e| Error::Internal(e.to_string()))?),
                internal_date: Set(msg.internal_date),
                thread_id: Set(thread),
                message_id_header: Set(s.message_id.as_deref().map(|m| cut(m, 998))),
                subject: Set(cut(s.subject.as_deref().unwrap_or(""), 2000)),
                from_addr: Set(cut(&shown_addrs(s.from.first().cloned()), 2000)),
                to_addrs: Set(to_addrs.clone()),
                sent_at: Set(s.date),
                preview: Set(cut(&s.preview, 256)),
                has_attachments: Set(!s.attachments.is_empty()),
                attachment_count: Set(i32::try_from(s.attachments.len()).unwrap_or(i32::MAX)),
                summary: Set(summary_json.clone()),
                auth_results: Set(msg.auth_results.clone()),
                pipeline: Set(copy.pipeline.to_string()),
                source: Set(msg.source.to_string()),
                created_at: Set(now),
            }
            .insert(&*tx)
            .await?;
            mailboxes::Entity::update_many()
                .col_expr(
                    mailboxes::Column::UsedBytes,
                    Expr::col(mailboxes::Column::UsedBytes).add(size),
                )
                .filter(mailboxes::Column::Id.eq(mbox.id))
                .exec(&*tx)
                .await?;
            out.push(StoredCopy {
                mailbox_id: mbox.id,
                message_id: id,
                folder_id: f.id,
                uid,
                modseq,
                duplicate: false,
            });
        }
        tx.commit().await?;
        Ok((out, tenants))
    }
}

/// Takes the next UID and MODSEQ of the target folder (and applies `more` to the same row
/// update, e.g. counters), in one statement that locks the folder row until commit. A
/// special-use target the mailbox lacks falls back to INBOX.
pub(crate) async fn allocate_in(
    tx: &Tx,
    mbox: &mailboxes::Model,
    target: &FolderTarget,
    more: impl Fn(UpdateMany<folders::Entity>) -> UpdateMany<folders::Entity>,
) -> Result<folders::Model> {
    let alloc = |f: sea_orm::sea_query::SimpleExpr| {
        more(
            folders::Entity::update_many()
                .col_expr(
                    folders::Column::Uidnext,
                    Expr::col(folders::Column::Uidnext).add(1),
                )
                .col_expr(
                    folders::Column::Highestmodseq,
                    Expr::col(folders::Column::Highestmodseq).add(1),
                ),
        )
        .filter(folders::Column::MailboxId.eq(mbox.id))
        .filter(folders::Column::TenantId.eq(mbox.tenant_id))
        .filter(f)
    };
    let first = match target {
        FolderTarget::Id(id) => folders::Column::Id.eq(*id),
        FolderTarget::SpecialUse(role) => folders::Column::SpecialUse.eq(role.as_str()),
    };
    if let Some(f) = alloc(first)
        .exec_with_returning(&**tx)
        .await?
        .into_iter()
        .next()
    {
        return Ok(f);
    }
    match target {
        FolderTarget::Id(_) => Err(Error::invalid("folder", "no such folder in this mailbox")),
        FolderTarget::SpecialUse(_) => alloc(folders::Column::Name.eq("INBOX"))
            .exec_with_returning(&**tx)
            .await?
            .into_iter()
            .next()
            .ok_or(Error::Internal("mailbox has no INBOX".into())),
    }
}

/// Finds or creates the message's thread in `mbox`: by Message-ID / In-Reply-To / References
/// (merging threads a message proves to be one), else by subject for replies within
/// [`SUBJECT_THREAD_WINDOW_DAYS`], else a new thread. Registers every id the message names.
async fn assign_thread(
    tx: &Tx,
    mbox: &mailboxes::Model,
    s: &Summary,
    date: DateTime<Utc>,
) -> Result<Uuid> {
    let mut ids: Vec<String> = Vec::new();
    for id in s
        .message_id
        .iter()
        .chain(s.in_reply_to.iter())
        .chain(s.references.iter().rev())
    {
        let id = cut(id.trim(), 998);
        if !id.is_empty() && !ids.contains(&id) && ids.len() < MAX_THREAD_IDS {
            ids.push(id);
        }
    }
    let known = if ids.is_empty() {
        Vec::new()
    } else {
        thread_refs::Entity::find()
            .filter(thread_refs::Column::MailboxId.eq(mbox.id))
            .filter(thread_refs::Column::MessageIdHeader.is_in(ids.clone()))
            .all(&**tx)
            .await?
    };
    let mut found: Vec<Uuid> = known.iter().map(|r| r.thread_id).collect();
    found.sort();
    found.dedup();
    let subject = s.subject.as_deref().unwrap_or("");
    let key = cut(&normalize_subject(subject), 255);
    let mut created = false;
    let thread = if found.is_empty() {
        let is_reply = !s.in_reply_to.is_empty()
            || !s.references.is_empty()
            || subject
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
                != key;
        let by_subject = if is_reply && !key.is_empty() {
            threads::Entity::find()
                .filter(threads::Column::MailboxId.eq(mbox.id))
                .filter(threads::Column::SubjectKey.eq(key.as_str()))
                .filter(
                    threads::Column::LastMessageAt
                        .gt(date - Duration::days(SUBJECT_THREAD_WINDOW_DAYS)),
                )
                .order_by_desc(threads::Column::LastMessageAt)
                .one(&**tx)
                .await?
        } else {
            None
        };
        match by_subject {
            Some(t) => t.id,
            None => {
                let id = new_id();
                threads::ActiveModel {
                    id: Set(id),
                    tenant_id: Set(mbox.tenant_id),
                    mailbox_id: Set(mbox.id),
                    subject_key: Set(key.clone()),
                    last_message_at: Set(date),
                    created_at: Set(Utc::now()),
                }
                .insert(&**tx)
                .await?;
                created = true;
                id
            }
        }
    } else {
        // UUIDv7: the smallest id is the oldest thread; the others merge into it.
        let winner = found[0];
        let losers = found[1..].to_vec();
        if !losers.is_empty() {
            messages::Entity::update_many()
                .col_expr(messages::Column::ThreadId, Expr::value(winner))
                .filter(messages::Column::MailboxId.eq(mbox.id))
                .filter(messages::Column::ThreadId.is_in(losers.clone()))
                .exec(&**tx)
                .await?;
            thread_refs::Entity::update_many()
                .col_expr(thread_refs::Column::ThreadId, Expr::value(winner))
                .filter(thread_refs::Column::MailboxId.eq(mbox.id))
                .filter(thread_refs::Column::ThreadId.is_in(losers.clone()))
                .exec(&**tx)
                .await?;
            threads::Entity::delete_many()
                .filter(threads::Column::MailboxId.eq(mbox.id))
                .filter(threads::Column::Id.is_in(losers))
                .exec(&**tx)
                .await?;
        }
        winner
    };
    let new_refs: Vec<thread_refs::ActiveModel> = ids
        .iter()
        .filter(|i| !known.iter().any(|k| &k.message_id_header == *i))
        .map(|id| thread_refs::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(mbox.tenant_id),
            mailbox_id: Set(mbox.id),
            message_id_header: Set(id.clone()),
            thread_id: Set(thread),
        })
        .collect();
    if !new_refs.is_empty() {
        thread_refs::Entity::insert_many(new_refs)
            .exec_without_returning(&**tx)
            .await?;
    }
    if !created {
        threads::Entity::update_many()
            .col_expr(threads::Column::LastMessageAt, Expr::value(date))
            .filter(threads::Column::Id.eq(thread))
            .filter(threads::Column::LastMessageAt.lt(date))
            .exec(&**tx)
            .await?;
    }
    Ok(thread)
}

impl SystemStore {
    /// Stores an inbound message's copies (the MX path: the mailboxes come from the resolver,
    /// each copy's tenant from its mailbox row).
    pub async fn deliver(
        &self,
        msg: &NewMessage<'_>,
        copies: &[NewCopy],
    ) -> Result<(Vec<StoredCopy>, Vec<MailboxEvent>)> {
        let (stored, tenants) = self.store.store_copies(None, msg, copies).await?;
        let events = events_of(&tenants, &stored);
        Ok((stored, events))
    }

    /// The stored bytes of a message row: trace prefix then blob.
    pub async fn raw_message_by_id(&self, id: Uuid) -> Result<Vec<u8>> {
        let m = messages::Entity::find_by_id(id)
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)?;
        raw_of(&self.store, &m).await
    }
}

async fn raw_of(store: &Store, m: &messages::Model) -> Result<Vec<u8>> {
    let data: Vec<u8> = blobs::Entity::find_by_id(m.blob_hash.clone())
        .select_only()
        .column(blobs::Column::Data)
        .into_tuple()
        .one(store.db())
        .await?
        .ok_or(Error::Internal(format!("blob {} missing", m.blob_hash)))?;
    let mut out = Vec::with_capacity(m.trace_prefix.len() + data.len());
    out.extend_from_slice(m.trace_prefix.as_bytes());
    out.extend_from_slice(&data);
    Ok(out)
}

impl TenantStore {
    /// Stores one imported message into a folder of a mailbox within reach.
    pub async fn import_message(
        &self,
        mailbox: Uuid,
        msg: &NewMessage<'_>,
        copy: NewCopy,
    ) -> Result<(StoredCopy, Vec<MailboxEvent>)> {
        self.mailbox(mailbox).await?;
        let copy = NewCopy {
            mailbox_id: mailbox,
            ..copy
        };
        let (stored, tenants) = self
            .store
            .store_copies(Some(self.tid()), msg, std::slice::from_ref(&copy))
            .await?;
        let events = events_of(&tenants, &stored);
        let one = stored.into_iter().next().ok_or(Error::NotFound)?;
        Ok((one, events))
    }

    /// A folder of a mailbox by name (`INBOX` in any case).
    pub async fn folder_by_name(&self, mailbox: Uuid, name: &str) -> Result<folders::Model> {
        self.mailbox(mailbox).await?;
        let name = if name.eq_ignore_ascii_case("inbox") {
            "INBOX".to_string()
        } else {
            name.to_string()
        };
        folders::Entity::find()
            .filter(folders::Column::TenantId.eq(self.tid()))
            .filter(folders::Column::MailboxId.eq(mailbox))
            .filter(folders::Column::Name.eq(name))
            .one(self.store.db())
            .await?
            .ok_or_else(|| Error::invalid("folder", "no such folder in this mailbox"))
    }

    /// Messages of a folder, newest first.
    pub async fn list_messages(
        &self,
        mailbox: Uuid,
        folder: Uuid,
        page: PageRequest,
    ) -> Result<Page<messages::Model>> {
        self.mailbox(mailbox).await?;
        let q = messages::Entity::find()
            .filter(messages::Column::TenantId.eq(self.tid()))
            .filter(messages::Column::MailboxId.eq(mailbox))
            .filter(messages::Column::FolderId.eq(folder));
        super::page::fetch_page(self.store.db(), q, messages::Column::Id, page, true, |m| {
            m.id
        })
        .await
    }

    /// One message of a mailbox within reach.
    pub async fn message(&self, mailbox: Uuid, id: Uuid) -> Result<messages::Model> {
        self.mailbox(mailbox).await?;
        messages::Entity::find_by_id(id)
            .filter(messages::Column::TenantId.eq(self.tid()))
            .filter(messages::Column::MailboxId.eq(mailbox))
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)
    }

    /// The stored bytes of a message: our trace header fields, then exactly what was received.
    pub async fn raw_message(&self, mailbox: Uuid, id: Uuid) -> Result<Vec<u8>> {
        let m = self.message(mailbox, id).await?;
        raw_of(&self.store, &m).await
    }

    /// A message's row and its stored bytes.
    pub async fn message_with_raw(
        &self,
        mailbox: Uuid,
        id: Uuid,
    ) -> Result<(messages::Model, Vec<u8>)> {
        let m = self.message(mailbox, id).await?;
        let raw = raw_of(&self.store, &m).await?;
        Ok((m, raw))
    }

    /// How many messages a mailbox holds, and their bytes.
    pub async fn message_totals(&self, mailbox: Uuid) -> Result<(u64, i64)> {
        let m = self.mailbox(mailbox).await?;
        let n: Option<i64> = messages::Entity::find()
            .select_only()
            .column_as(messages::Column::Id.count(), "n")
            .filter(messages::Column::TenantId.eq(self.tid()))
            .filter(messages::Column::MailboxId.eq(mailbox))
            .into_tuple()
            .one(self.store.db())
            .await?;
        Ok((n.unwrap_or(0) as u64, m.used_bytes))
    }
}
