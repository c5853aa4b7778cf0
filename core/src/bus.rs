//! The event bus: "something changed in this mailbox", for IMAP IDLE and live frontends.
//!
//! Events are notifications, never the record: everything they say is already committed in
//! the database, so a lost event costs a listener a refresh, never a message. In-process by
//! default (a broadcast channel); with Redis, events are published on
//! `<prefix>mailbox:<mailbox id>` and every process re-broadcasts what it hears to its own
//! subscribers, so a delivery on one worker wakes an IDLE on another. A subscriber takes every
//! event ([`Bus::subscribe`]) or one mailbox's ([`Bus::subscribe_mailbox`]).

use crate::epoch::AuthEpoch;
use crate::redis_link::RedisLink;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
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
    auth_channel: &str,
) -> redis::RedisResult<redis::aio::PubSub> {
    let mut ps = client.get_async_pubsub().await?;
    ps.psubscribe(pattern).await?;
    ps.subscribe(auth_channel).await?;
    Ok(ps)
}

/// The auth epoch a Redis bus relays, once [`Bus::relay_auth_epoch`] named it.
#[derive(Default)]
struct AuthRelay {
    epoch: OnceLock<Arc<AuthEpoch>>,
    /// This process's id in the notices it publishes, so it ignores its own.
    node: String,
}

impl AuthRelay {
    /// Another process moved its epoch (or notices may have been lost): move ours on.
    fn heard(&self) {
        if let Some(e) = self.epoch.get() {
            e.heard();
        }
    }
}

/// Events buffered per subscriber of one mailbox.
const MAILBOX_CAPACITY: usize = 256;

/// Where events go in this process: every subscriber of all events, and the subscribers of
/// each mailbox (an IMAP IDLE hears its own mailbox only).
struct Fanout {
    all: broadcast::Sender<MailboxEvent>,
    by_mailbox: Mutex<HashMap<Uuid, broadcast::Sender<MailboxEvent>>>,
}

impl Fanout {
    fn new() -> Arc<Self> {
        let (all, _) = broadcast::channel(CAPACITY);
        Arc::new(Self {
            all,
            by_mailbox: Mutex::new(HashMap::new()),
        })
    }

    /// Hands `ev` to the subscribers of all events and to those of its mailbox (a
    /// [`RESYNC`] to every mailbox's); forgets mailboxes nobody listens to any more.
    fn send(&self, ev: MailboxEvent) {
        if let Ok(mut map) = self.by_mailbox.lock() {
            if ev.kind == RESYNC {
                map.retain(|_, tx| tx.send(ev.clone()).is_ok());
            } else if let Some(tx) = map.get(&ev.mailbox_id)
                && tx.send(ev.clone()).is_err()
            {
                // Nobody listens to this mailbox any more.
                map.remove(&ev.mailbox_id);
            }
        }
        let _ = self.all.send(ev);
    }

    fn subscribe_mailbox(&self, mailbox: Uuid) -> broadcast::Receiver<MailboxEvent> {
        match self.by_mailbox.lock() {
            Ok(mut map) => {
                // Mailboxes whose listeners all left and that had no event since.
                if map.len() % 1024 == 1023 && !map.contains_key(&mailbox) {
                    map.retain(|_, tx| tx.receiver_count() > 0);
                }
                map.entry(mailbox)
                    .or_insert_with(|| broadcast::channel(MAILBOX_CAPACITY).0)
                    .subscribe()
            }
            // A poisoned map: a receiver that hears nothing but never errs (the listener
            // still catches up from the change log on its own schedule).
            Err(_) => broadcast::channel(1).0.subscribe(),
        }
    }
}

/// Publishes and subscribes to mailbox events. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    local: Arc<Fanout>,
    redis: Option<(RedisLink, String)>,
    auth: Arc<AuthRelay>,
}

impl Bus {
    /// An in-process bus.
    pub fn memory() -> Self {
        Self {
            local: Fanout::new(),
            redis: None,
            auth: Arc::default(),
        }
    }

    /// A bus over Redis pub/sub. Starts whether or not Redis answers: the subscription
    /// (re)connects in the background, with a back-off, and after each reconnection every
    /// subscriber gets a [`RESYNC`] event, because notifications may have been lost meanwhile.
    pub async fn redis(link: RedisLink, prefix: &str) -> Self {
        let local = Fanout::new();
        let pattern = format!("{prefix}mailbox:*");
        let auth_channel = format!("{prefix}auth");
        let auth = Arc::new(AuthRelay {
            epoch: OnceLock::new(),
            node: Uuid::new_v4().to_string(),
        });
        let client = link.client().clone();
        // Subscribe before returning when Redis answers, so an event published right after
        // start is heard; otherwise the background task keeps trying.
        let first = match tokio::time::timeout(
            Duration::from_secs(2),
            subscribe(&client, &pattern, &auth_channel),
        )
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
        let relay = auth.clone();
        tokio::spawn(async move {
            // Without a first subscription, notifications published meanwhile were dropped.
            let mut lost = first.is_none();
            let mut pubsub = first;
            let mut backoff = Duration::from_millis(200);
            loop {
                let ps = match pubsub.take() {
                    Some(p) => p,
                    None => match subscribe(&client, &pattern, &auth_channel).await {
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
                    // Whatever was published while we were away is gone: listeners re-read,
                    // and cached authentications may be stale.
                    tx.send(MailboxEvent::resync());
                    relay.heard();
                }
                let mut ps = ps;
                let mut stream = ps.on_message();
                while let Some(msg) = stream.next().await {
                    let payload: Vec<u8> = msg.get_payload_bytes().to_vec();
                    if msg.get_channel_name() == auth_channel {
                        if payload != relay.node.as_bytes() {
                            relay.heard();
                        }
                        continue;
                    }
                    match serde_json::from_slice::<MailboxEvent>(&payload) {
                        Ok(ev) => tx.send(ev),
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
            auth,
        }
    }

    /// Relays `epoch` between the processes sharing this bus's Redis: each move of this
    /// process's epoch is published (moves made meanwhile count as one), and a move published by
    /// another process, or a possible loss of notices, moves this one on. Nothing to do on
    /// the in-process bus. Call once per process.
    pub fn relay_auth_epoch(&self, epoch: Arc<AuthEpoch>) {
        let Some((link, prefix)) = self.redis.clone() else {
            return;
        };
        if self.auth.epoch.set(epoch.clone()).is_err() {
            return;
        }
        let (channel, node) = (format!("{prefix}auth"), self.auth.node.clone());
        tokio::spawn(async move {
            loop {
                epoch.moved_here().await;
                let (channel, node) = (channel.clone(), node.clone());
                link.run(|mut c| async move {
                    redis::cmd("PUBLISH")
                        .arg(channel)
                        .arg(node)
                        .query_async::<()>(&mut c)
                        .await
                })
                .await;
            }
        });
    }

    /// Publishes committed changes. Never fails and never waits on a down Redis: while Redis
    /// is down (or backing off after a failure) the notifications are dropped; listeners
    /// re-read from the change log when they get [`RESYNC`].
    pub async fn publish(&self, events: &[MailboxEvent]) {
        match &self.redis {
            None => {
                for ev in events {
                    self.local.send(ev.clone());
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
        self.local.all.subscribe()
    }

    /// The events of one mailbox published from now on, and every [`RESYNC`]: what an IMAP
    /// IDLE or a live view of that mailbox listens to. A receiver that lagged (more than 256
    /// events behind) or got a [`RESYNC`] re-reads the change log from its last MODSEQ.
    pub fn subscribe_mailbox(&self, mailbox: Uuid) -> broadcast::Receiver<MailboxEvent> {
        self.local.subscribe_mailbox(mailbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(mailbox: Uuid, uid: i64) -> MailboxEvent {
        MailboxEvent {
            tenant_id: Uuid::nil(),
            mailbox_id: mailbox,
            folder_id: Uuid::nil(),
            kind: "appended".into(),
            uid,
            modseq: uid,
        }
    }

    #[tokio::test]
    async fn a_mailbox_subscriber_hears_its_mailbox_and_resyncs_only() {
        let bus = Bus::memory();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut on_a = bus.subscribe_mailbox(a);
        let mut all = bus.subscribe();
        bus.publish(&[event(b, 1), event(a, 2)]).await;
        bus.local.send(MailboxEvent::resync());
        let got = on_a.recv().await.unwrap();
        assert_eq!((got.mailbox_id, got.uid), (a, 2));
        assert_eq!(on_a.recv().await.unwrap().kind, RESYNC);
        assert!(on_a.try_recv().is_err());
        assert_eq!(all.recv().await.unwrap().mailbox_id, b);
        assert_eq!(all.recv().await.unwrap().mailbox_id, a);
        // A mailbox nobody listens to any more is forgotten at its next event.
        drop(on_a);
        bus.publish(&[event(a, 3)]).await;
        assert!(bus.local.by_mailbox.lock().unwrap().is_empty());
    }
}
