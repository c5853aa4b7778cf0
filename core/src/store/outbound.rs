//! The outbound queue's rows: a sent message and its recipients, queued in one transaction
//! with one `outbound.deliver` job per recipient domain; each attempt's outcome recorded with
//! the next job (when a recipient is still deferred) in one transaction, so a worker that
//! stops between two attempts loses nothing and repeats nothing that was recorded.

use super::entities::kinds::{DeliveryStatus, DomainStatus};
use super::entities::{domains, outbound, outbound_recipients, suppressions};
use super::group_commit::{Outcome, WithCopies};
use super::jobs::enqueue;
use super::{GroupCommitter, NewCopy, NewMessage, StoredCopy, TenantStore, Tx, events_of};
use crate::bus::MailboxEvent;
use crate::error::{Error, Result};
use crate::ids::new_id;
use crate::jobs::{NewJob, OUTBOUND_DELIVER};
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    /// The mailbox sending it.
    pub mailbox_id: Uuid,
    /// The envelope sender.
    pub sender: String,
    /// The recipients, each once.
    pub recipients: Vec<String>,
    /// The message as it goes out (signed).
    pub data: Vec<u8>,
    /// Its `Message-ID`.
    pub message_id: String,
    /// Its subject.
    pub subject: String,
    /// When deferred recipients give up.
    pub expires_at: DateTime<Utc>,
    /// The REST client's `Idempotency-Key`, if any.
    pub idempotency_key: Option<String>,
}

/// The outcome of one attempt for one recipient.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The recipient row.
    pub id: Uuid,
    /// Where it stands now.
    pub status: DeliveryStatus,
    /// The reply code, when a server answered.
    pub code: Option<i32>,
    /// The reply, or what went wrong.
    pub reply: String,
    /// When a deferred recipient is tried again.
    pub next_attempt_at: DateTime<Utc>,
    /// The sender has now been told the delivery is late.
    pub delay_notified: bool,
}

/// The domain part of an address, lower case.
pub fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default()
}

impl TenantStore {
    /// Whether `mailbox` may send as `address`: one of its identities (its own address
    /// among them), compared without regard to case.
    pub async fn may_send_from(&self, mailbox: Uuid, address: &str) -> Result<bool> {
        let address = address.trim();
        Ok(self
            .list_identities(mailbox)
            .await?
            .iter()
            .any(|i| i.email.eq_ignore_ascii_case(address)))
    }

    /// The tenant's verified domain called `name` (ASCII, lower case), if any.
    pub async fn verified_domain_named(&self, name: &str) -> Result<Option<domains::Model>> {
        Ok(self
            .find::<domains::Entity>()
            .filter(domains::Column::Name.eq(name.to_ascii_lowercase()))
            .filter(domains::Column::Status.eq(DomainStatus::Verified))
            .one(self.store.db())
            .await?)
    }

    /// Queues a message: the sender's copy in Sent (`sent`, `copy`), the message's row, a row
    /// per recipient and one delivery job per recipient domain, all in one transaction of the
    /// group `committer` (batched with other messages being stored; the copy is held to the
    /// mailbox's quota). Returns the queue id, the copy and the events to publish.
    pub async fn queue_outbound(
        &self,
        committer: &GroupCommitter,
        m: NewOutbound,
        sent: NewMessage<'static>,
        copy: NewCopy,
    ) -> Result<(Uuid, StoredCopy, Vec<MailboxEvent>)> {
        if m.recipients.is_empty() {
            return Err(Error::invalid("recipients", "at least one recipient"));
        }
        self.mailbox(m.mailbox_id).await?;
        let id = new_id();
        let mailbox_id = m.mailbox_id;
        let rows = QueueRows {
            ts: TenantStore::new(self.store.clone(), self.tenant, self.actor.clone()),
            id,
            m,
        };
        let (stored, tenants) = committer
            .store_with(
                self.tid(),
                sent,
                vec![NewCopy { mailbox_id, ..copy }],
                Box::new(rows),
            )
            .await?;
        let events = events_of(&tenants, &stored);
        let copy = stored
            .into_iter()
            .next()
            .ok_or_else(|| Error::Internal("the Sent copy was not stored".into()))?;
        Ok((id, copy, events))
    }

    /// Queues a message the system sends for `m.mailbox_id` (an auto-reply): no copy in Sent.
    pub async fn queue_outbound_only(&self, m: NewOutbound) -> Result<Uuid> {
        if m.recipients.is_empty() {
            return Err(Error::invalid("recipients", "at least one recipient"));
        }
        self.mailbox(m.mailbox_id).await?;
        let id = new_id();
        let rows = QueueRows {
            ts: TenantStore::new(self.store.clone(), self.tenant, self.actor.clone()),
            id,
            m,
        };
        let tx = self.store.tx().await?;
        rows.write(&tx, &(Vec::new(), Vec::new())).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A queued message.
    pub async fn outbound_of_id(&self, id: Uuid) -> Result<outbound::Model> {
        self.find_by_id::<outbound::Entity>(id)
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)
    }

    /// The message `mailbox` sent with this `Idempotency-Key`, if any.
    pub async fn outbound_by_key(
        &self,
        mailbox: Uuid,
        key: &str,
    ) -> Result<Option<outbound::Model>> {
        Ok(self
            .find::<outbound::Entity>()
            .filter(outbound::Column::MailboxId.eq(mailbox))
            .filter(outbound::Column::IdempotencyKey.eq(key))
            .one(self.store.db())
            .await?)
    }

    /// The queued message whose sender's copy is `message` (a message of `mailbox`).
    pub async fn outbound_of_sent(&self, mailbox: Uuid, message: Uuid) -> Result<outbound::Model> {
        self.mailbox(mailbox).await?;
        self.find::<outbound::Entity>()
            .filter(outbound::Column::MailboxId.eq(mailbox))
            .filter(outbound::Column::SentMessageId.eq(message))
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)
    }

    /// What `mailbox` sent, newest first.
    pub async fn list_outbound(
        &self,
        mailbox: Uuid,
        page: super::PageRequest,
    ) -> Result<super::Page<outbound::Model>> {
        self.mailbox(mailbox).await?;
        let q = self
            .find::<outbound::Entity>()
            .filter(outbound::Column::MailboxId.eq(mailbox));
        super::page::fetch_page(self.store.db(), q, outbound::Column::Id, page, true, |m| {
            m.id
        })
        .await
    }

    /// The recipients of several queued messages, by message.
    pub async fn recipients_of(
        &self,
        ids: &[Uuid],
    ) -> Result<BTreeMap<Uuid, Vec<outbound_recipients::Model>>> {
        let mut out: BTreeMap<Uuid, Vec<outbound_recipients::Model>> = BTreeMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for r in self
            .find::<outbound_recipients::Entity>()
            .filter(outbound_recipients::Column::OutboundId.is_in(ids.iter().copied()))
            .order_by_asc(outbound_recipients::Column::Recipient)
            .all(self.store.db())
            .await?
        {
            out.entry(r.outbound_id).or_default().push(r);
        }
        Ok(out)
    }

    /// The copy Mailroom filed in `folder` (Sent) of a message this mailbox sent since
    /// `since` with this `Message-ID`, if any: a mail client that saves its own copy of what
    /// it just sent (IMAP APPEND to Sent) gets this one instead of a second.
    pub async fn recent_sent_copy(
        &self,
        mailbox: Uuid,
        folder: Uuid,
        message_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<super::entities::messages::Model>> {
        use super::entities::messages;
        Ok(self
            .find::<messages::Entity>()
            .filter(messages::Column::MailboxId.eq(mailbox))
            .filter(messages::Column::FolderId.eq(folder))
            .filter(messages::Column::MessageIdHeader.eq(message_id))
            .filter(messages::Column::Source.eq(super::entities::kinds::Source::Submission))
            .filter(messages::Column::CreatedAt.gt(since))
            .one(self.store.db())
            .await?)
    }

    /// A queued message and its recipients at `domain` that are due (queued, or deferred
    /// and their time has come); `None` when none is (or the message is gone), without
    /// reading the message's bytes then.
    pub async fn outbound_due(
        &self,
        id: Uuid,
        domain: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(outbound::Model, Vec<outbound_recipients::Model>)>> {
        let due = self
            .find::<outbound_recipients::Entity>()
            .filter(outbound_recipients::Column::OutboundId.eq(id))
            .filter(outbound_recipients::Column::Domain.eq(domain))
            .filter(
                outbound_recipients::Column::Status
                    .is_in([DeliveryStatus::Queued, DeliveryStatus::Deferred]),
            )
            .filter(outbound_recipients::Column::NextAttemptAt.lte(now))
            .order_by_asc(outbound_recipients::Column::Recipient)
            .all(self.store.db())
            .await?;
        if due.is_empty() {
            return Ok(None);
        }
        Ok(self
            .find_by_id::<outbound::Entity>(id)
            .one(self.store.db())
            .await?
            .map(|msg| (msg, due)))
    }

    /// The recipients of a queued message, in address order.
    pub async fn outbound_recipients(&self, id: Uuid) -> Result<Vec<outbound_recipients::Model>> {
        Ok(self
            .recipients_of(&[id])
            .await?
            .remove(&id)
            .unwrap_or_default())
    }

    /// Records one attempt's outcomes and, when a recipient at `domain` is still deferred,
    /// the job that tries it next, in one transaction, which also marks the attempt's job
    /// (`job`, held by `worker`) done. Once every recipient of the message is final its bytes
    /// are dropped.
    pub async fn record_outbound(
        &self,
        id: Uuid,
        domain: &str,
        attempts: &[Attempt],
        job: Option<(Uuid, &str)>,
    ) -> Result<()> {
        let now = Utc::now();
        let tx = self.store.tx().await?;
        if let Some((job, worker)) = job
            && !super::jobs::complete_on(&*tx, job, worker).await?
        {
            tracing::warn!(%job, "delivery recorded after the job's lease lapsed");
        }
        for a in attempts {
            self.update_many::<outbound_recipients::Entity>()
                .col_expr(outbound_recipients::Column::Status, Expr::value(a.status))
                .col_expr(
                    outbound_recipients::Column::Attempts,
                    Expr::col(outbound_recipients::Column::Attempts).add(1),
                )
                .col_expr(outbound_recipients::Column::LastCode, Expr::value(a.code))
                .col_expr(
                    outbound_recipients::Column::LastReply,
                    Expr::value(super::delivery::cut(&a.reply, 1000)),
                )
                .col_expr(
                    outbound_recipients::Column::NextAttemptAt,
                    Expr::value(a.next_attempt_at),
                )
                .col_expr(outbound_recipients::Column::UpdatedAt, Expr::value(now))
                .col_expr(
                    outbound_recipients::Column::DelayNotified,
                    Expr::col(outbound_recipients::Column::DelayNotified).or(a.delay_notified),
                )
                .filter(outbound_recipients::Column::Id.eq(a.id))
                .filter(outbound_recipients::Column::OutboundId.eq(id))
                .exec(&*tx)
                .await?;
        }
        let rows = self
            .find::<outbound_recipients::Entity>()
            .filter(outbound_recipients::Column::OutboundId.eq(id))
            .all(&*tx)
            .await?;
        for a in attempts {
            let Some(r) = rows.iter().find(|r| r.id == a.id) else {
                continue;
            };
            let kind = match a.status {
                DeliveryStatus::Delivered => "message.delivered",
                DeliveryStatus::Bounced => "message.bounced",
                _ => "message.deferred",
            };
            self.record_event(
                &*tx,
                kind,
                "outbound",
                id,
                json!({
                    "mailbox_id": r.mailbox_id,
                    "recipient": r.recipient,
                    "code": a.code,
                    "reply": a.reply,
                    "attempts": r.attempts,
                }),
            )
            .await?;
            // A permanent refusal: later sends skip the address.
            if a.status == DeliveryStatus::Bounced && a.code.is_some_and(|c| c >= 500) {
                self.suppress_on(&*tx, &r.recipient, &a.reply, "bounce")
                    .await?;
            }
        }
        let next = rows
            .iter()
            .filter(|r| r.domain == domain && !r.status.is_final())
            .map(|r| r.next_attempt_at)
            .min();
        if let Some(at) = next {
            enqueue(&*tx, deliver_job(self.tid(), id, domain, at)).await?;
        }
        if rows.iter().all(|r| r.status.is_final()) {
            self.update_many::<outbound::Entity>()
                .col_expr(outbound::Column::Data, Expr::value(Option::<Vec<u8>>::None))
                .filter(outbound::Column::Id.eq(id))
                .exec(&*tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// What a suppressed recipient's delivery says.
pub const SUPPRESSED: &str = "suppressed: this address bounced for good before (remove it from /v1/suppressions to send again)";

impl TenantStore {
    /// Which of `addresses` (lower case) the tenant no longer sends to.
    pub async fn suppressed(&self, addresses: &[String]) -> Result<HashSet<String>> {
        self.suppressed_on(self.store.db(), addresses).await
    }

    async fn suppressed_on<C: sea_orm::ConnectionTrait>(
        &self,
        c: &C,
        addresses: &[String],
    ) -> Result<HashSet<String>> {
        let lower: Vec<String> = addresses.iter().map(|a| a.trim().to_lowercase()).collect();
        if lower.is_empty() {
            return Ok(HashSet::new());
        }
        Ok(self
            .find::<suppressions::Entity>()
            .filter(suppressions::Column::Address.is_in(lower))
            .all(c)
            .await?
            .into_iter()
            .map(|s| s.address)
            .collect())
    }

    async fn suppress_on<C: sea_orm::ConnectionTrait>(
        &self,
        c: &C,
        address: &str,
        reason: &str,
        source: &str,
    ) -> Result<()> {
        suppressions::Entity::insert(suppressions::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            address: Set(address.trim().to_lowercase()),
            reason: Set(super::delivery::cut(reason, 1000)),
            source: Set(source.into()),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([
                suppressions::Column::TenantId,
                suppressions::Column::Address,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
        Ok(())
    }

    /// The tenant's suppression list, in address order.
    pub async fn list_suppressions(
        &self,
        page: super::PageRequest,
    ) -> Result<super::Page<suppressions::Model>> {
        let q = self.find::<suppressions::Entity>();
        super::page::fetch_page(
            self.store.db(),
            q,
            suppressions::Column::Id,
            page,
            false,
            |m| m.id,
        )
        .await
    }

    /// Adds an address to the suppression list by hand.
    pub async fn add_suppression(
        &self,
        address: &str,
        reason: &str,
    ) -> Result<suppressions::Model> {
        let address = address.trim().to_lowercase();
        if !address.contains('@') || domain_of(&address).is_empty() || address.len() > 320 {
            return Err(Error::invalid("address", "is not an email address"));
        }
        if !self
            .suppressed(std::slice::from_ref(&address))
            .await?
            .is_empty()
        {
            return Err(Error::conflict(
                "already_suppressed",
                "this address is on the suppression list already",
            ));
        }
        let w = self.store.writer().await;
        self.suppress_on(&*w, &address, reason, "manual").await?;
        drop(w);
        self.find::<suppressions::Entity>()
            .filter(suppressions::Column::Address.eq(address))
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)
    }

    /// Removes an address from the suppression list: mail to it goes out again.
    pub async fn delete_suppression(&self, id: Uuid) -> Result<()> {
        let r = self
            .delete_many::<suppressions::Entity>()
            .filter(suppressions::Column::Id.eq(id))
            .exec(self.store.db())
            .await?;
        if r.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// Messages the tenant sent since `since` (its daily plan limit counts them).
    pub async fn sent_since(&self, since: DateTime<Utc>) -> Result<u64> {
        Ok(self
            .find::<outbound::Entity>()
            .filter(outbound::Column::CreatedAt.gt(since))
            .count(self.store.db())
            .await?)
    }
}

/// The queue rows of a message, written in the transaction that files its Sent copy.
struct QueueRows {
    ts: TenantStore,
    id: Uuid,
    m: NewOutbound,
}

impl WithCopies for QueueRows {
    fn write<'a>(&'a self, tx: &'a Tx, stored: &'a Outcome) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (ts, m, id) = (&self.ts, &self.m, self.id);
            let now = Utc::now();
            let sent = stored.0.first().map(|c| c.message_id);
            outbound::ActiveModel {
                id: Set(id),
                tenant_id: Set(ts.tid()),
                mailbox_id: Set(m.mailbox_id),
                sender: Set(m.sender.clone()),
                message_id: Set(m.message_id.clone()),
                subject: Set(super::delivery::cut(&m.subject, 500)),
                size: Set(m.data.len() as i64),
                data: Set(Some(m.data.clone())),
                created_at: Set(now),
                expires_at: Set(m.expires_at),
                sent_message_id: Set(sent),
                idempotency_key: Set(m.idempotency_key.clone()),
            }
            .insert(&**tx)
            .await?;
            let suppressed = ts.suppressed_on(&**tx, &m.recipients).await?;
            let mut domains: BTreeMap<String, usize> = BTreeMap::new();
            let mut rows = Vec::with_capacity(m.recipients.len());
            for r in &m.recipients {
                let domain = domain_of(r);
                let skip = suppressed.contains(&r.to_lowercase());
                if !skip {
                    *domains.entry(domain.clone()).or_default() += 1;
                }
                rows.push(outbound_recipients::ActiveModel {
                    id: Set(new_id()),
                    tenant_id: Set(ts.tid()),
                    outbound_id: Set(id),
                    mailbox_id: Set(m.mailbox_id),
                    recipient: Set(r.clone()),
                    domain: Set(domain),
                    status: Set(if skip {
                        DeliveryStatus::Bounced
                    } else {
                        DeliveryStatus::Queued
                    }),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    last_code: Set(None),
                    last_reply: Set(if skip {
                        SUPPRESSED.to_string()
                    } else {
                        String::new()
                    }),
                    delay_notified: Set(false),
                    updated_at: Set(now),
                });
            }
            outbound_recipients::Entity::insert_many(rows)
                .exec_without_returning(&**tx)
                .await?;
            for domain in domains.keys() {
                enqueue(&**tx, deliver_job(ts.tid(), id, domain, now)).await?;
            }
            Ok(())
        })
    }
}

/// The delivery job of a message's recipients at `domain`.
fn deliver_job(tenant: Uuid, id: Uuid, domain: &str, at: DateTime<Utc>) -> NewJob {
    NewJob::new(
        OUTBOUND_DELIVER,
        json!({"outbound_id": id, "domain": domain}),
    )
    .tenant(tenant)
    .run_at(at)
}
