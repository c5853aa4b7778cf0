//! The event bus: "something changed in this mailbox", for IMAP IDLE and live frontends.
//!
//! Events are notifications, never the record: everything they say is already committed in
//! the database, so a lost event costs a listener a refresh, never a message. In-process by
//! default (a broadcast channel); with Redis, events are published on
//! `<prefix>mailbox:<mailbox id>` and every process re-broadcasts what it hears to its own
//! subscribers, so a delivery on one worker wakes an IDLE on another.

use crate::error::Result;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
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
    /// `appended`, `flags`, `expunged`.
    pub kind: String,
    /// The UID concerned.
    pub uid: i64,
    /// The folder's modseq after the change.
    pub modseq: i64,
}

/// Publishes and subscribes to mailbox events. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    local: broadcast::Sender<MailboxEvent>,
    redis: Option<(ConnectionManager, String)>,
}

impl Bus {
    /// An in-process bus.
    pub fn memory() -> Self {
        let (local, _) = broadcast::channel(CAPACITY);
        Self { local, redis: None }
    }

    /// A bus over Redis pub/sub. Fails when Redis cannot be reached now; later outages lose
    /// notifications only (and are logged), and the subscription reconnects by itself.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self> {
        let client = redis::Client::open(url)?;
        let conn = crate::ratelimit::redis_manager(&client).await?;
        let (local, _) = broadcast::channel(CAPACITY);
        let pattern = format!("{prefix}mailbox:*");
        // Subscribe before returning, so an event published right after start is heard.
        let first = client.get_async_pubsub().await?;
        let tx = local.clone();
        tokio::spawn(async move {
            let mut pubsub = Some(first);
            loop {
                let mut ps = match pubsub.take() {
                    Some(p) => p,
                    None => match client.get_async_pubsub().await {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::warn!(error = %e, "event bus: cannot reach Redis; retrying");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            continue;
                        }
                    },
                };
                if let Err(e) = ps.psubscribe(&pattern).await {
                    tracing::warn!(error = %e, "event bus: subscribe failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
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
                tracing::warn!("event bus: Redis subscription ended; reconnecting");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Ok(Self {
            local,
            redis: Some((conn, prefix.to_string())),
        })
    }

    /// Publishes committed changes. Never fails: a lost notification is logged.
    pub async fn publish(&self, events: &[MailboxEvent]) {
        match &self.redis {
            None => {
                for ev in events {
                    let _ = self.local.send(ev.clone());
                }
            }
            Some((conn, prefix)) => {
                let mut pipe = redis::pipe();
                for ev in events {
                    let Ok(body) = serde_json::to_string(ev) else {
                        continue;
                    };
                    pipe.publish(format!("{prefix}mailbox:{}", ev.mailbox_id), body)
                        .ignore();
                }
                let mut c = conn.clone();
                let r: redis::RedisResult<()> = pipe.query_async(&mut c).await;
                if let Err(e) = r {
                    tracing::warn!(error = %e, "event bus: publish failed; listeners refresh later");
                }
            }
        }
    }

    /// Every event published from now on (by any process sharing the Redis, with Redis).
    pub fn subscribe(&self) -> broadcast::Receiver<MailboxEvent> {
        self.local.subscribe()
    }
}
