//! The read path of webmail and mobile frontends: message lists with filters, the thread
//! (conversation) view, and search. Lists never read bodies or summaries: they select the
//! columns stored for them at ingest.
//!
//! Every list is ordered by arrival (IMAP INTERNALDATE, then id) and paged by that position, so
//! a page is an index range scan on `(folder_id, internal_date, id)` or
//! `(mailbox_id, internal_date, id)` whatever the folder's size.

use super::entities::messages;
use super::page::{DatePage, Page};
use super::{Store, TenantStore};
use crate::error::{Error, Result};
use crate::mail::flags;
use crate::mail::search::Query;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Select,
};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Messages a thread view returns at most per page.
pub const MAX_THREAD_PAGE: u64 = 200;
/// Messages looked at to fill one page of the thread list; a page may come back shorter (with
/// a cursor) when a folder holds long runs of one conversation.
const THREAD_SCAN_LIMIT: u64 = 5000;
/// Distinct senders reported per thread.
const MAX_PARTICIPANTS: usize = 10;

/// A message as lists show it (no body, no summary).
#[derive(Debug, Clone, FromQueryResult)]
pub struct MessageRow {
    /// Message id.
    pub id: Uuid,
    /// Folder.
    pub folder_id: Uuid,
    /// IMAP UID.
    pub uid: i64,
    /// IMAP MODSEQ.
    pub modseq: i64,
    /// Conversation.
    pub thread_id: Uuid,
    /// Subject.
    pub subject: String,
    /// First From address as shown.
    pub from_addr: String,
    /// To and Cc as shown.
    pub to_addrs: String,
    /// Message-ID.
    pub message_id_header: Option<String>,
    /// Octets as stored.
    pub size: i64,
    /// Flag bits.
    pub flags: i32,
    /// JSON array of keywords.
    pub keywords: String,
    /// Arrival.
    pub internal_date: DateTime<Utc>,
    /// Date header.
    pub sent_at: Option<DateTime<Utc>>,
    /// Start of the text.
    pub preview: String,
    /// Attachments.
    pub attachment_count: i32,
}

impl From<messages::Model> for MessageRow {
    fn from(m: messages::Model) -> Self {
        Self {
            id: m.id,
            folder_id: m.folder_id,
            uid: m.uid,
            modseq: m.modseq,
            thread_id: m.thread_id,
            subject: m.subject,
            from_addr: m.from_addr,
            to_addrs: m.to_addrs,
            message_id_header: m.message_id_header,
            size: m.size,
            flags: m.flags,
            keywords: m.keywords,
            internal_date: m.internal_date,
            sent_at: m.sent_at,
            preview: m.preview,
            attachment_count: m.attachment_count,
        }
    }
}

/// List order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Latest arrival first.
    #[default]
    Newest,
    /// Earliest arrival first.
    Oldest,
}

/// Filters of a message list.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// `Some(true)`: only unread; `Some(false)`: only read.
    pub unread: Option<bool>,
    /// `Some(true)`: only flagged; `Some(false)`: only not flagged.
    pub flagged: Option<bool>,
    /// `Some(true)`: only with attachments; `Some(false)`: only without.
    pub has_attachment: Option<bool>,
}

/// One conversation in a thread list.
#[derive(Debug, Clone)]
pub struct ThreadSummary {
    /// Thread id.
    pub id: Uuid,
    /// The newest message of the thread in the folder listed.
    pub latest: MessageRow,
    /// Messages in the whole conversation (all folders).
    pub message_count: i64,
    /// Unread messages in the whole conversation.
    pub unread_count: i64,
    /// Distinct senders, latest first.
    pub participants: Vec<String>,
}

/// The columns of a list row, on `q`.
fn row_columns(q: Select<messages::Entity>) -> Select<messages::Entity> {
    use messages::Column as C;
    q.select_only().columns([
        C::Id,
        C::FolderId,
        C::Uid,
        C::Modseq,
        C::ThreadId,
        C::Subject,
        C::FromAddr,
        C::ToAddrs,
        C::MessageIdHeader,
        C::Size,
        C::Flags,
        C::Keywords,
        C::InternalDate,
        C::SentAt,
        C::Preview,
        C::AttachmentCount,
    ])
}

/// `(flags & bit) <> 0`, or `= 0` when `set` is false.
fn flag_is(bit: i32, set: bool) -> Expr {
    let e = Expr::col(messages::Column::Flags).bit_and(bit);
    if set { e.ne(0) } else { e.eq(0) }
}

/// Orders `q` by position and keeps what comes after `page.after`; fetches one row more than
/// the page to know whether another page follows.
async fn date_page(
    store: &Store,
    q: Select<messages::Entity>,
    page: DatePage,
    sort: Sort,
) -> Result<Page<MessageRow>> {
    use messages::Column as C;
    let mut q = q;
    if let Some((d, id)) = page.after {
        q = q.filter(match sort {
            Sort::Newest => Condition::any()
                .add(C::InternalDate.lt(d))
                .add(C::InternalDate.eq(d).and(C::Id.lt(id))),
            Sort::Oldest => Condition::any()
                .add(C::InternalDate.gt(d))
                .add(C::InternalDate.eq(d).and(C::Id.gt(id))),
        });
    }
    let q = match sort {
        Sort::Newest => q.order_by_desc(C::InternalDate).order_by_desc(C::Id),
        Sort::Oldest => q.order_by_asc(C::InternalDate).order_by_asc(C::Id),
    };
    let mut rows: Vec<MessageRow> = q
        .limit(page.limit + 1)
        .into_model::<MessageRow>()
        .all(store.db())
        .await?;
    let more = rows.len() as u64 > page.limit;
    rows.truncate(page.limit as usize);
    let next_cursor = more
        .then(|| {
            rows.last()
                .map(|r| DatePage::cursor_at(r.internal_date, r.id))
        })
        .flatten();
    Ok(Page {
        items: rows,
        next_cursor,
    })
}

impl TenantStore {
    fn in_mailbox(&self, mailbox: Uuid) -> Select<messages::Entity> {
        row_columns(self.find::<messages::Entity>()).filter(messages::Column::MailboxId.eq(mailbox))
    }

    /// A page of a folder's messages, filtered and in the order asked for.
    pub async fn message_page(
        &self,
        mailbox: Uuid,
        folder: Uuid,
        filter: &MessageFilter,
        sort: Sort,
        page: DatePage,
    ) -> Result<Page<MessageRow>> {
        self.mailbox(mailbox).await?;
        let mut q = self
            .in_mailbox(mailbox)
            .filter(messages::Column::FolderId.eq(folder));
        if let Some(u) = filter.unread {
            q = q.filter(flag_is(flags::SEEN, !u));
        }
        if let Some(f) = filter.flagged {
            q = q.filter(flag_is(flags::FLAGGED, f));
        }
        if let Some(a) = filter.has_attachment {
            q = q.filter(messages::Column::HasAttachments.eq(a));
        }
        date_page(&self.store, q, page, sort).await
    }

    /// One message as lists show it.
    pub async fn message_row(&self, mailbox: Uuid, id: Uuid) -> Result<MessageRow> {
        self.mailbox(mailbox).await?;
        self.in_mailbox(mailbox)
            .filter(messages::Column::Id.eq(id))
            .into_model::<MessageRow>()
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)
    }

    /// The conversations of a folder, the one with the newest message in the folder first.
    /// Counts and participants cover the whole conversation, in every folder.
    pub async fn thread_page(
        &self,
        mailbox: Uuid,
        folder: Uuid,
        page: DatePage,
    ) -> Result<Page<ThreadSummary>> {
        use messages::Column as C;
        self.mailbox(mailbox).await?;
        let db = self.store.db();
        let want = page.limit as usize + 1;
        let mut pos = page.after;
        let mut order: Vec<MessageRow> = Vec::new();
        let mut seen: HashSet<Uuid> = HashSet::new();
        let mut scanned = 0u64;
        let mut exhausted = false;
        // Walk the folder newest first, keeping the first (newest) message of each thread.
        while order.len() < want && scanned < THREAD_SCAN_LIMIT {
            let batch = date_page(
                &self.store,
                self.in_mailbox(mailbox).filter(C::FolderId.eq(folder)),
                DatePage {
                    limit: 500,
                    after: pos,
                },
                Sort::Newest,
            )
            .await?;
            scanned += batch.items.len() as u64;
            exhausted = batch.next_cursor.is_none();
            let mut fresh: Vec<MessageRow> = Vec::new();
            for r in batch.items {
                pos = Some((r.internal_date, r.id));
                if seen.insert(r.thread_id) {
                    fresh.push(r);
                }
            }
            // A thread met again after the cursor was listed on an earlier page if it has a
            // newer message in this folder.
            if let Some((d, id)) = page.after
                && !fresh.is_empty()
            {
                let ids: Vec<Uuid> = fresh.iter().map(|r| r.thread_id).collect();
                let listed: HashSet<Uuid> = self
                    .find::<messages::Entity>()
                    .select_only()
                    .column(C::ThreadId)
                    .distinct()
                    .filter(C::MailboxId.eq(mailbox))
                    .filter(C::FolderId.eq(folder))
                    .filter(C::ThreadId.is_in(ids))
                    .filter(
                        Condition::any()
                            .add(C::InternalDate.gt(d))
                            .add(C::InternalDate.eq(d).and(C::Id.gte(id))),
                    )
                    .into_tuple::<Uuid>()
                    .all(db)
                    .await?
                    .into_iter()
                    .collect();
                fresh.retain(|r| !listed.contains(&r.thread_id));
            }
            for r in fresh {
                if order.len() < want {
                    order.push(r);
                }
            }
            if exhausted {
                break;
            }
        }
        let more = order.len() == want;
        order.truncate(page.limit as usize);
        let next_cursor = if more {
            order
                .last()
                .map(|r| DatePage::cursor_at(r.internal_date, r.id))
        } else if !exhausted {
            // The scan stopped early: go on from where it stopped.
            pos.map(|(d, id)| DatePage::cursor_at(d, id))
        } else {
            None
        };
        let items = self.thread_summaries(order).await?;
        Ok(Page { items, next_cursor })
    }

    async fn thread_summaries(&self, latest: Vec<MessageRow>) -> Result<Vec<ThreadSummary>> {
        use messages::Column as C;
        if latest.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.store.db();
        // The threads come from this mailbox's rows; filtering on the thread ids alone (and
        // the tenant) lets SQLite's planner take the thread index instead of walking the
        // mailbox.
        let ids: Vec<Uuid> = latest.iter().map(|r| r.thread_id).collect();
        let counts: HashMap<Uuid, (i64, i64)> = self
            .find::<messages::Entity>()
            .select_only()
            .column(C::ThreadId)
            .column_as(C::Id.count(), "n")
            .column_as(
                Expr::cust("SUM(CASE WHEN (flags & 1) = 0 THEN 1 ELSE 0 END)"),
                "unread",
            )
            .filter(C::ThreadId.is_in(ids.clone()))
            .group_by(C::ThreadId)
            .into_tuple::<(Uuid, i64, i64)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(t, n, u)| (t, (n, u)))
            .collect();
        let senders: Vec<(Uuid, String)> = self
            .find::<messages::Entity>()
            .select_only()
            .column(C::ThreadId)
            .column(C::FromAddr)
            .filter(C::ThreadId.is_in(ids))
            .order_by_desc(C::InternalDate)
            .limit(2000)
            .into_tuple()
            .all(db)
            .await?;
        let mut people: HashMap<Uuid, Vec<String>> = HashMap::new();
        for (t, from) in senders {
            let list = people.entry(t).or_default();
            if !from.is_empty() && list.len() < MAX_PARTICIPANTS && !list.contains(&from) {
                list.push(from);
            }
        }
        Ok(latest
            .into_iter()
            .map(|r| {
                let (n, u) = counts.get(&r.thread_id).copied().unwrap_or((1, 0));
                ThreadSummary {
                    id: r.thread_id,
                    message_count: n,
                    unread_count: u,
                    participants: people.remove(&r.thread_id).unwrap_or_default(),
                    latest: r,
                }
            })
            .collect())
    }

    /// The messages of one conversation across folders, oldest first. An unknown thread (or
    /// one of another mailbox) is not found.
    pub async fn thread_messages(
        &self,
        mailbox: Uuid,
        thread: Uuid,
        page: DatePage,
    ) -> Result<Page<MessageRow>> {
        self.mailbox(mailbox).await?;
        let q = self
            .in_mailbox(mailbox)
            .filter(messages::Column::ThreadId.eq(thread));
        let rows = date_page(&self.store, q, page, Sort::Oldest).await?;
        if rows.items.is_empty() && page.after.is_none() {
            return Err(Error::NotFound);
        }
        Ok(rows)
    }

    /// Messages of a mailbox matching a query, newest first (see [`crate::mail::search`]).
    /// Words use the full-text index on Postgres and a scan of the stored words on SQLite; both
    /// match whole words.
    pub async fn search(
        &self,
        mailbox: Uuid,
        query: &Query,
        page: DatePage,
    ) -> Result<Page<MessageRow>> {
        use messages::Column as C;
        self.mailbox(mailbox).await?;
        let mut q = self.in_mailbox(mailbox);
        if let Some(name) = &query.folder {
            let f = self.folder_by_name(mailbox, name).await?;
            q = q.filter(C::FolderId.eq(f.id));
        }
        if !query.words.is_empty() {
            q = q.filter(if self.store.is_postgres() {
                // A semi-join the planner may run either way round, from the statistics it
                // has of the words (kept current, see `store::stats`): a rare word from the
                // full-text index to the mailbox's copies (18 ms for 550 hits in 55,000
                // messages), a common one by walking the mailbox newest first and checking
                // each blob until the page is full (2 ms). Fencing the sub-query (OFFSET 0)
                // forced the first way, 420 ms for a common word; without statistics at all
                // either way costs about a second per 100,000 messages, not minutes.
                Expr::cust_with_values(
                    "messages.blob_hash IN (SELECT b.hash FROM blobs b \
                     WHERE b.search_tsv @@ plainto_tsquery('simple', $1))",
                    [query.words.join(" ")],
                )
            } else {
                let cond = vec!["b.search_text LIKE ?"; query.words.len()].join(" AND ");
                Expr::cust_with_values(
                    format!(
                        "EXISTS (SELECT 1 FROM blobs b WHERE b.hash = messages.blob_hash \
                         AND {cond})"
                    ),
                    query.words.iter().map(|w| format!("% {w} %")),
                )
            });
        }
        for (col, values) in [
            (C::FromAddr, &query.from),
            (C::ToAddrs, &query.to),
            (C::Subject, &query.subject),
        ] {
            for v in values {
                q = q.filter(contains(self.store.is_postgres(), col, v));
            }
        }
        if query.has_attachment {
            q = q.filter(C::HasAttachments.eq(true));
        }
        if let Some(u) = query.unread {
            q = q.filter(flag_is(flags::SEEN, !u));
        }
        if query.flagged {
            q = q.filter(flag_is(flags::FLAGGED, true));
        }
        if let Some(a) = query.after {
            q = q.filter(C::InternalDate.gte(a));
        }
        if let Some(b) = query.before {
            q = q.filter(C::InternalDate.lt(b));
        }
        date_page(&self.store, q, page, Sort::Newest).await
    }
}

/// `LOWER(col) LIKE '%value%'`, with `%`, `_` and `\` in the value taken literally.
/// (Custom SQL placeholders are numbered on Postgres and plain `?` on SQLite.)
fn contains(postgres: bool, col: messages::Column, value: &str) -> Expr {
    let escaped: String = value
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let sql = if postgres {
        "LOWER($1) LIKE $2 ESCAPE '\\'"
    } else {
        "LOWER(?) LIKE ? ESCAPE '\\'"
    };
    Expr::cust_with_exprs(sql, [Expr::col(col), Expr::val(format!("%{escaped}%"))])
}
