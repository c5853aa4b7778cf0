//! Threads of a batch's copies (see [`Threader`]).

use super::{INSERT_CHUNK, Item, Planned, cut};
use crate::error::Result;
use crate::ids::new_id;
use crate::mail::summary::{Summary, normalize_subject};
use crate::store::NewMessage;
use crate::store::Tx;
use crate::store::entities::{messages, thread_refs, threads};
use crate::store::scope::all_tenants;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// How long after its latest message a thread still takes a reply matched by subject only.
pub const SUBJECT_THREAD_WINDOW_DAYS: i64 = 7;
/// Message-IDs of one message taken into account for threading.
const MAX_THREAD_IDS: usize = 50;

/// The Message-IDs a message names for threading: its own, In-Reply-To, then References from
/// the nearest, without repeats, at most [`MAX_THREAD_IDS`].
fn thread_ids(s: &Summary) -> Vec<String> {
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
    ids
}

/// A thread created in this batch.
struct NewThread {
    tenant_id: Uuid,
    mailbox_id: Uuid,
    subject_key: String,
    last_message_at: DateTime<Utc>,
}

/// Assigns threads to a batch's copies: by Message-ID / In-Reply-To / References (merging
/// threads a message proves to be one), else by subject for replies within
/// [`SUBJECT_THREAD_WINDOW_DAYS`], else a new thread; and registers every id a message names.
/// What the database knows is read once for the batch; what the batch adds is kept here, so a
/// reply threads with a parent earlier in the same batch.
pub(super) struct Threader {
    /// (mailbox, Message-ID) → thread, from the database and from this batch.
    refs: HashMap<(Uuid, String), Uuid>,
    /// References to insert: (mailbox, Message-ID).
    new_refs: Vec<(Uuid, Uuid, String)>,
    /// Threads created in this batch.
    new_threads: BTreeMap<Uuid, NewThread>,
    /// Existing threads whose latest message becomes later: thread → date.
    bumps: HashMap<Uuid, DateTime<Utc>>,
}

impl Threader {
    pub(super) async fn load(tx: &Tx, items: &[Item<'_>], planned: &[Planned]) -> Result<Self> {
        let mut mailbox_ids = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for c in planned {
            mailbox_ids.insert(c.mailbox_id);
            ids.extend(thread_ids(&items[c.item].msg.summary));
        }
        let mut refs = HashMap::new();
        if !ids.is_empty() {
            let ids: Vec<String> = ids.into_iter().collect();
            for part in ids.chunks(INSERT_CHUNK * 2) {
                for r in all_tenants::find::<thread_refs::Entity>()
                    .filter(thread_refs::Column::MailboxId.is_in(mailbox_ids.iter().copied()))
                    .filter(thread_refs::Column::MessageIdHeader.is_in(part.to_vec()))
                    .all(&**tx)
                    .await?
                {
                    refs.insert((r.mailbox_id, r.message_id_header), r.thread_id);
                }
            }
        }
        Ok(Self {
            refs,
            new_refs: Vec::new(),
            new_threads: BTreeMap::new(),
            bumps: HashMap::new(),
        })
    }

    pub(super) async fn assign(
        &mut self,
        tx: &Tx,
        planned: &mut [Planned],
        k: usize,
        msg: &NewMessage<'_>,
    ) -> Result<Uuid> {
        let mailbox = planned[k].mailbox_id;
        let s = &msg.summary;
        let date = msg.internal_date;
        let ids = thread_ids(s);
        let mut found: Vec<Uuid> = ids
            .iter()
            .filter_map(|i| self.refs.get(&(mailbox, i.clone())).copied())
            .collect();
        found.sort();
        found.dedup();
        let subject = s.subject.as_deref().unwrap_or("");
        let key = cut(&normalize_subject(subject), 255);
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
                self.by_subject(tx, mailbox, &key, date).await?
            } else {
                None
            };
            match by_subject {
                Some(t) => t,
                None => {
                    let id = new_id();
                    self.new_threads.insert(
                        id,
                        NewThread {
                            tenant_id: planned[k].tenant_id,
                            mailbox_id: mailbox,
                            subject_key: key,
                            last_message_at: date,
                        },
                    );
                    id
                }
            }
        } else {
            // Threads already stored win over threads of this batch (rows of other messages
            // point at them); among them the oldest (smallest UUIDv7).
            let winner = found
                .iter()
                .copied()
                .find(|t| !self.new_threads.contains_key(t))
                .unwrap_or(found[0]);
            let losers: Vec<Uuid> = found.into_iter().filter(|t| *t != winner).collect();
            self.merge(tx, planned, mailbox, winner, &losers).await?;
            winner
        };
        for id in ids {
            if let std::collections::hash_map::Entry::Vacant(v) = self.refs.entry((mailbox, id)) {
                self.new_refs
                    .push((planned[k].tenant_id, mailbox, v.key().1.clone()));
                v.insert(thread);
            }
        }
        match self.new_threads.get_mut(&thread) {
            Some(t) => t.last_message_at = Ord::max(t.last_message_at, date),
            None => {
                let b = self.bumps.entry(thread).or_insert(date);
                *b = Ord::max(*b, date);
            }
        }
        Ok(thread)
    }

    /// The newest thread of the mailbox with this subject key whose latest message is within
    /// the window: one created in this batch, else a stored one.
    async fn by_subject(
        &self,
        tx: &Tx,
        mailbox: Uuid,
        key: &str,
        date: DateTime<Utc>,
    ) -> Result<Option<Uuid>> {
        let since = date - Duration::days(SUBJECT_THREAD_WINDOW_DAYS);
        if let Some((id, _)) = self
            .new_threads
            .iter()
            .filter(|(_, t)| t.mailbox_id == mailbox && t.subject_key == key)
            .filter(|(_, t)| t.last_message_at > since)
            .max_by_key(|(_, t)| t.last_message_at)
        {
            return Ok(Some(*id));
        }
        Ok(all_tenants::find::<threads::Entity>()
            .filter(threads::Column::MailboxId.eq(mailbox))
            .filter(threads::Column::SubjectKey.eq(key))
            .filter(threads::Column::LastMessageAt.gt(since))
            .order_by_desc(threads::Column::LastMessageAt)
            .one(&**tx)
            .await?
            .map(|t| t.id))
    }

    /// Makes `losers` one thread with `winner`: rows already stored are updated, the batch's
    /// own copies, references and threads are changed here.
    async fn merge(
        &mut self,
        tx: &Tx,
        planned: &mut [Planned],
        mailbox: Uuid,
        winner: Uuid,
        losers: &[Uuid],
    ) -> Result<()> {
        if losers.is_empty() {
            return Ok(());
        }
        let stored: Vec<Uuid> = losers
            .iter()
            .copied()
            .filter(|t| !self.new_threads.contains_key(t))
            .collect();
        if !stored.is_empty() {
            all_tenants::update_many::<messages::Entity>()
                .col_expr(messages::Column::ThreadId, Expr::value(winner))
                .filter(messages::Column::MailboxId.eq(mailbox))
                .filter(messages::Column::ThreadId.is_in(stored.clone()))
                .exec(&**tx)
                .await?;
            all_tenants::update_many::<thread_refs::Entity>()
                .col_expr(thread_refs::Column::ThreadId, Expr::value(winner))
                .filter(thread_refs::Column::MailboxId.eq(mailbox))
                .filter(thread_refs::Column::ThreadId.is_in(stored.clone()))
                .exec(&**tx)
                .await?;
            all_tenants::delete_many::<threads::Entity>()
                .filter(threads::Column::MailboxId.eq(mailbox))
                .filter(threads::Column::Id.is_in(stored))
                .exec(&**tx)
                .await?;
        }
        let mut latest = None;
        for l in losers {
            if let Some(t) = self.new_threads.remove(l) {
                latest = Ord::max(latest, Some(t.last_message_at));
            }
            if let Some(d) = self.bumps.remove(l) {
                latest = Ord::max(latest, Some(d));
            }
        }
        for t in self.refs.values_mut() {
            if losers.contains(t) {
                *t = winner;
            }
        }
        for c in planned.iter_mut() {
            if losers.contains(&c.thread_id) {
                c.thread_id = winner;
            }
        }
        if let Some(d) = latest {
            match self.new_threads.get_mut(&winner) {
                Some(t) => t.last_message_at = Ord::max(t.last_message_at, d),
                None => {
                    let b = self.bumps.entry(winner).or_insert(d);
                    *b = Ord::max(*b, d);
                }
            }
        }
        Ok(())
    }

    /// Writes the batch's threads and references, and moves stored threads' dates.
    pub(super) async fn write(self, tx: &Tx) -> Result<()> {
        let now = Utc::now();
        let new_threads: Vec<(&Uuid, &NewThread)> = self.new_threads.iter().collect();
        for part in new_threads.chunks(INSERT_CHUNK) {
            threads::Entity::insert_many(part.iter().map(|(id, t)| threads::ActiveModel {
                id: Set(**id),
                tenant_id: Set(t.tenant_id),
                mailbox_id: Set(t.mailbox_id),
                subject_key: Set(t.subject_key.clone()),
                last_message_at: Set(t.last_message_at),
                created_at: Set(now),
            }))
            .exec_without_returning(&**tx)
            .await?;
        }
        for part in self.new_refs.chunks(INSERT_CHUNK) {
            thread_refs::Entity::insert_many(part.iter().map(|(tenant, mailbox, mid)| {
                thread_refs::ActiveModel {
                    id: Set(new_id()),
                    tenant_id: Set(*tenant),
                    mailbox_id: Set(*mailbox),
                    message_id_header: Set(mid.clone()),
                    thread_id: Set(self.refs[&(*mailbox, mid.clone())]),
                }
            }))
            .exec_without_returning(&**tx)
            .await?;
        }
        let mut bumps: Vec<(Uuid, DateTime<Utc>)> = self.bumps.into_iter().collect();
        bumps.sort();
        for (thread, date) in bumps {
            all_tenants::update_many::<threads::Entity>()
                .col_expr(threads::Column::LastMessageAt, Expr::value(date))
                .filter(threads::Column::Id.eq(thread))
                .filter(threads::Column::LastMessageAt.lt(date))
                .exec(&**tx)
                .await?;
        }
        Ok(())
    }
}
