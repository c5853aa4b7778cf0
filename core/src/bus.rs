//! The event bus: "something changed in this mailbox", for IMAP IDLE and live frontends.
//!
//! Events are notifications, never the record: everything they say is already committed in
//! the database, so a lost event costs a listener a refresh, never a message. In-process by
//! default (a broadcast channel); with Redis, events are published on
//! `<prefix>mailbox:<mailbox id>` and every process re-broadcasts what it hears to its own
//! subscribers, so a delivery on one worker wakes an IDLE on another.

use crate::redis_link::RedisLink;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Events buffered per subscriber before the slowest loses the oldest.
const CAPACITY: usize = 4096;

/// A committed change in one folder of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxEvent {
    /// The tenant.
    pub tenant_id: Uuid,
    /// The mailbox.
    pub mailbox_id: Uuid,
    /// The folder.
    pub folder_id: Uuid,
    /// `appended`, `flags`, `expunged`, or [`RESYNC`].
    pub kind: String,
    /// The UID concerned.
    pub uid: i64,
    /// The folder's modseq after the change.
    pub modseq: i64,
}

/// The kind of the event that tells subscribers notifications may have been lost (the Redis
/// subscription was down): re-read what changed from the change log by MODSEQ.
pub const RESYNC: &str = "resync";

impl MailboxEvent {
    /// A [`RESYNC`] event (no tenant, mailbox or folder: it concerns every one).
    pub fn resync() -> Self {
        Self {
            tenant_id: Uuid::nil(),
            mailbox_id: Uuid::nil(),
            folder_id: Uuid::nil(),
            kind: RESYNC.into(),
            uid: 0,
            modseq: 0,
        }
    }
}

async fn subscribe(
    client: &redis::Client,
    pattern: &str,
) -> redis::RedisResult<redis::aio::PubSub> {
    let mut ps = client.get_async_pubsub().await?;
    ps.psubscribe(pattern).await?;
    Ok(ps)
}

/// Publishes and subscribes to mailbox events. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    local: broadcast::Sender<MailboxEvent>,
    redis: Option<(RedisLink, String)>,
}

impl Bus {
    /// An in-process bus.
    pub fn memory() -> Self {
        let (local, _) = broadcast::channel(CAPACITY);
        Self { local, redis: None }
    }

    /// A bus over Redis pub/sub. Starts whether or not Redis answers: the subscription
    /// (re)connects in the background, with a back-off, and after each reconnection every
    /// subscriber gets a [`RESYNC`] event, because notifications may have been lost meanwhile.
    pub async fn redis(link: RedisLink, prefix: &str) -> Self {
        let (local, _) = broadcast::channel(CAPACITY);
        let pattern = format!("{prefix}mailbox:*");
        let client = link.client().clone();
        // Subscribe before returning when Redis answers, so an event published right after
        // start is heard; otherwise the background task keeps trying.
        let first = match tokio::time::timeout(Duration::from_secs(2), subscribe(&client, &pattern))
            .await
        {
            Ok(Ok(ps)) => Some(ps),
            Ok(Err(e)) => {
                link.failed(&e);
                None
            }
            Err(_) => {
                link.failed(&"no answer within 2 s");
                None
            }
        };
        let tx = local.clone();
        let sub_link = link.clone();
        tokio::spawn(async move {
            // Without a first subscription, notifications published meanwhile were dropped.
            let mut lost = first.is_none();
            let mut pubsub = first;
            let mut backoff = Duration::from_millis(200);
            loop {
                let ps = match pubsub.take() {
                    Some(p) => p,
                    None => match subscribe(&client, &pattern).await {
                        Ok(p) => p,
                        Err(e) => {
                            sub_link.failed(&e);
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(10));
                            continue;
                        }
                    },
                };
                backoff = Duration::from_millis(200);
                sub_link.ok();
                if lost {
                    // Whatever was published while we were away is gone: listeners re-read.
                    let _ = tx.send(MailboxEvent::resync());
                }
                let mut ps = ps;
                let mut stream = ps.on_message();
                while let Some(msg) = stream.next().await {
                    let payload: Vec<u8> = msg.get_payload_bytes().to_vec();
                    match serde_json::from_slice::<MailboxEvent>(&payload) {
                        Ok(ev) => {
                            let _ = tx.send(ev);
                        }
                        Err(e) => tracing::warn!(error = %e, "event bus: unreadable event"),
                    }
                }
                lost = true;
                sub_link.failed(&"the Redis subscription ended");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self {
            local,
            redis: Some((link, prefix.to_string())),
        }
    }

    /// Publishes committed changes. Never fails and never waits on a down Redis: while Redis
    /// is down (or backing off after a failure) the notifications are dropped; listeners
    /// re-read from the change log when they get [`RESYNC`].
    pub async fn publish(&self, events: &[MailboxEvent]) {
        match &self.redis {
            None => {
                for ev in events {
                    let _ = self.local.send(ev.clone());
                }
            }
            Some((link, prefix)) => {
                if events.is_empty() {
                    return;
                }
                let mut pipe = redis::pipe();
                for ev in events {
                    let Ok(body) = serde_json::to_string(ev) else {
                        continue;
                    };
                    pipe.publish(format!("{prefix}mailbox:{}", ev.mailbox_id), body)
                        .ignore();
                }
                link.run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
                    .await;
            }
        }
    }

    /// Every event published from now on (by any process sharing the Redis, with Redis).
    pub fn subscribe(&self) -> broadcast::Receiver<MailboxEvent> {
        self.local.subscribe()
    }
}
