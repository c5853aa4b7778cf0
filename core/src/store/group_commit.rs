//! Group commit of deliveries: messages that arrive while a transaction is being written wait
//! for it and then go to the database together, in one transaction (one flush to disk, and a
//! fixed number of statements for the batch, see `delivery.rs`).
//!
//! Nothing waits on purpose: a committer takes whatever is queued the moment it is free, so
//! one delivery alone is stored at once, and under load batches grow by themselves. A caller
//! hears back only after the transaction holding its message committed, so `250` still means
//! stored. When a batch fails, each of its messages is stored again on its own: one message
//! that cannot be stored does not fail the others. Messages users send (their copy in Sent,
//! with the outbound queue rows as extra writes) are batched the same way.

use super::delivery::{InBatch, Item};
use super::new_message::StoredCopy;
use super::new_message::{NewCopy, NewMessage};
use super::{Store, Tx};
use crate::error::{Error, Result};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// Messages per transaction, at most.
pub const MAX_BATCH_MESSAGES: usize = 64;
/// Message bytes per transaction, at most (a larger message goes alone).
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// Transactions written at once: while one waits for its flush, the next is being built.
pub const COMMITTERS: usize = 4;
/// Deliveries waiting for a committer, at most; senders beyond wait for room.
const QUEUE: usize = 1024;

/// What became of one message: its copies, and each copy's (mailbox, tenant).
pub type Outcome = (Vec<StoredCopy>, Vec<(uuid::Uuid, uuid::Uuid)>);

/// More writes that commit with one message's copies (the queue rows of a sent message).
pub(crate) trait WithCopies: Send + Sync {
    /// Writes on `tx`, knowing where the message's copies went.
    fn write<'a>(&'a self, tx: &'a Tx, stored: &'a Outcome) -> BoxFuture<'a, Result<()>>;
}

struct Job {
    msg: NewMessage<'static>,
    copies: Vec<NewCopy>,
    /// Set for a tenant's own message (its copies must be live mailboxes of the tenant, held
    /// to their quota).
    tenant: Option<uuid::Uuid>,
    extra: Option<Box<dyn WithCopies>>,
    reply: oneshot::Sender<Result<Outcome>>,
}

/// The extra writes of a batch's jobs, each with its own outcome.
struct Extras<'j>(&'j [Job]);

impl InBatch for Extras<'_> {
    fn write<'a>(&'a self, tx: &'a Tx, stored: &'a [Outcome]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            for (job, out) in self.0.iter().zip(stored) {
                if let Some(extra) = &job.extra {
                    extra.write(tx, out).await?;
                }
            }
            Ok(())
        })
    }
}

/// The queue in front of the committers. Cheap to clone.
#[derive(Clone)]
pub struct GroupCommitter {
    queue: mpsc::Sender<Job>,
}

impl GroupCommitter {
    /// Starts [`COMMITTERS`] committers on the current Tokio runtime. They stop when every
    /// clone of the returned handle is dropped and the queue is empty.
    pub fn start(store: Store) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..COMMITTERS {
            tokio::spawn(run(store.clone(), rx.clone()));
        }
        Self { queue }
    }

    /// Stores one message's copies (the MX path: no tenant scope); returns when they are
    /// committed, or with the error that kept them out: the copies (in mailbox-id order;
    /// none for mailboxes deleted meanwhile) and each copy's (mailbox, tenant).
    pub async fn store(&self, msg: NewMessage<'static>, copies: Vec<NewCopy>) -> Result<Outcome> {
        let stopped = || Error::Internal("the group committer stopped".into());
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job {
                msg,
                copies,
                tenant: None,
                extra: None,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Stores a tenant's message (copies held to their mailboxes' quota) with `extra` written
    /// in the same transaction; batched with whatever else is being stored.
    pub(crate) async fn store_with(
        &self,
        tenant: uuid::Uuid,
        msg: NewMessage<'static>,
        copies: Vec<NewCopy>,
        extra: Box<dyn WithCopies>,
    ) -> Result<Outcome> {
        let stopped = || Error::Internal("the group committer stopped".into());
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job {
                msg,
                copies,
                tenant: Some(tenant),
                extra: Some(extra),
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Takes what is queued (up to the bounds), stores it, answers; until the queue closes.
async fn run(store: Store, rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let batch = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut bytes = first.msg.body.len();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH_MESSAGES && bytes < MAX_BATCH_BYTES {
                match rx.try_recv() {
                    Ok(job) => {
                        bytes += job.msg.body.len();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        commit(&store, batch).await;
    }
}

async fn commit(store: &Store, batch: Vec<Job>) {
    let items: Vec<Item<'_>> = batch.iter().map(item).collect();
    let result = store.store_batch_with(&items, &Extras(&batch)).await;
    drop(items);
    match result {
        Ok(outcomes) => {
            for (job, outcome) in batch.into_iter().zip(outcomes) {
                let _ = job.reply.send(Ok(outcome));
            }
        }
        Err(e) if batch.len() > 1 => {
            store.report_failure(&e);
            tracing::warn!(error = %e, messages = batch.len(), "delivery batch failed; storing its messages one by one");
            for job in batch {
                let r = store
                    .store_batch_with(&[item(&job)], &Extras(std::slice::from_ref(&job)))
                    .await
                    .and_then(|mut o| o.pop().ok_or_else(|| Error::Internal("empty batch".into())));
                if let Err(e) = &r {
                    store.report_failure(e);
                }
                let _ = job.reply.send(r);
            }
        }
        Err(e) => {
            store.report_failure(&e);
            if let Some(job) = batch.into_iter().next() {
                let _ = job.reply.send(Err(e));
            }
        }
    }
}

fn item(job: &Job) -> Item<'_> {
    Item {
        tenant: job.tenant,
        msg: &job.msg,
        copies: &job.copies,
    }
}
