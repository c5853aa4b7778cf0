//! Greylisting (optional per tenant): the first time a client network sends from an envelope
//! sender to a recipient, the recipient is refused with a temporary error (`451 4.7.1`); a real
//! mail server retries, and a retry at least the tenant's delay later passes. From then on the
//! same triplet passes at once for [`PASS_TTL`] (renewed while mail keeps coming). Much
//! bulk-sending malware never retries.
//!
//! The triplet is the client's network (IPv4 /24, IPv6 /64: big senders retry from another
//! address of the same pool), the envelope sender and the recipient, lower-cased and hashed.
//! With Redis configured the triplets live in Redis (losing them only greylists again);
//! otherwise in the database (`greylist`, swept by the job runner).
//!
//! Senders on the organisation's or the mailbox's allow list are never greylisted. A failure of
//! the store lets the mail through: greylisting is not worth refusing mail for.

use super::stage::Judges;
use crate::redis_link::RedisLink;
use crate::store::{SystemStore, spam_list_covers};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use uuid::Uuid;

/// How long a first sighting waits for its retry; a retry after that starts over.
pub const RETRY_WINDOW: chrono::Duration = chrono::Duration::hours(24);
/// How long a triplet that passed keeps passing without being greylisted again.
pub const PASS_TTL: chrono::Duration = chrono::Duration::days(36);

/// The greylisting decision for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grey {
    /// Accept the recipient.
    Pass,
    /// Refuse it for now; retrying after this long will pass.
    Wait(chrono::Duration),
}

/// The client's network as greylisting sees it: its /24 (IPv4) or /64 (IPv6).
pub fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// The hashed triplet of a client address, an envelope sender and a recipient.
pub fn triplet(ip: IpAddr, sender: &str, recipient: &str) -> String {
    let mut h = Sha256::new();
    h.update(network(ip).as_bytes());
    h.update([0]);
    h.update(sender.trim().to_lowercase().as_bytes());
    h.update([0]);
    h.update(recipient.trim().to_lowercase().as_bytes());
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where the triplets live.
enum Backend {
    Database,
    Redis {
        link: Box<RedisLink>,
        prefix: String,
    },
}

/// Greylisting for the SMTP server (MX port only).
pub struct Greylist {
    sys: SystemStore,
    judges: Judges,
    backend: Backend,
}

impl Greylist {
    /// Triplets in Redis when `redis` is given, in the database otherwise.
    pub fn new(sys: SystemStore, redis: Option<(RedisLink, &str)>) -> Self {
        Self {
            judges: Judges::new(sys.clone()),
            sys,
            backend: match redis {
                None => Backend::Database,
                Some((link, prefix)) => Backend::Redis {
                    link: Box::new(link),
                    prefix: format!("{prefix}gl:"),
                },
            },
        }
    }

    /// The decision for mail from `ip` and `sender` to `recipient`, which reaches `mailbox`
    /// (one of the mailboxes it resolved to: they all belong to one tenant).
    pub async fn check(&self, mailbox: Uuid, ip: IpAddr, sender: &str, recipient: &str) -> Grey {
        let judge = match self.judges.of(mailbox).await {
            Ok(Some(j)) => j,
            Ok(None) => return Grey::Pass,
            Err(e) => {
                tracing::warn!(error = %e, "greylisting skipped: settings unreadable");
                return Grey::Pass;
            }
        };
        let s = &judge.settings;
        if !s.enabled || !s.greylist {
            return Grey::Pass;
        }
        if !sender.is_empty()
            && judge
                .entries
                .iter()
                .any(|e| e.kind == "allow" && spam_list_covers(&e.pattern, sender))
        {
            return Grey::Pass;
        }
        let delay = chrono::Duration::seconds(i64::from(s.greylist_delay_secs));
        let key = triplet(ip, sender, recipient);
        let now = Utc::now();
        match &self.backend {
            Backend::Database => {
                match self
                    .sys
                    .spam_store(judge.tenant)
                    .greylist_db(&key, delay, now)
                    .await
                {
                    Ok(g) => g,
                    Err(e) => {
                        tracing::warn!(error = %e, "greylisting skipped: database unavailable");
                        Grey::Pass
                    }
                }
            }
            Backend::Redis { link, prefix } => {
                let k = format!("{prefix}{}:{key}", judge.tenant);
                link.run(|c| redis_check(c, k, delay, now))
                    .await
                    .unwrap_or(Grey::Pass)
            }
        }
    }
}

/// One triplet in Redis: `p` once passed (kept [`PASS_TTL`]), else when it was first seen
/// (kept [`RETRY_WINDOW`]).
async fn redis_check(
    mut c: redis::aio::ConnectionManager,
    k: String,
    delay: chrono::Duration,
    now: DateTime<Utc>,
) -> redis::RedisResult<Grey> {
    let seen: Option<String> = redis::cmd("GET").arg(&k).query_async(&mut c).await?;
    let pass_ttl = PASS_TTL.num_seconds();
    match seen.as_deref() {
        Some("p") => {
            let _: i64 = redis::cmd("EXPIRE")
                .arg(&k)
                .arg(pass_ttl)
                .query_async(&mut c)
                .await?;
            Ok(Grey::Pass)
        }
        Some(first) if first.parse::<i64>().is_ok() => {
            let first = first.parse::<i64>().unwrap_or_default();
            let waited = chrono::Duration::seconds(now.timestamp() - first);
            if waited < delay {
                return Ok(Grey::Wait(delay - waited));
            }
            let _: () = redis::cmd("SET")
                .arg(&k)
                .arg("p")
                .arg("EX")
                .arg(pass_ttl)
                .query_async(&mut c)
                .await?;
            Ok(Grey::Pass)
        }
        _ => {
            // New (or unreadable): first seen now; a concurrent first sighting keeps its own.
            let _: Option<String> = redis::cmd("SET")
                .arg(&k)
                .arg(now.timestamp())
                .arg("NX")
                .arg("EX")
                .arg(RETRY_WINDOW.num_seconds())
                .query_async(&mut c)
                .await?;
            Ok(Grey::Wait(delay))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_triplet_keys_on_the_network_and_ignores_case() {
        let a: IpAddr = "192.0.2.10".parse().unwrap();
        let b: IpAddr = "192.0.2.200".parse().unwrap();
        let c: IpAddr = "192.0.3.10".parse().unwrap();
        assert_eq!(network(a), "192.0.2.0/24");
        assert_eq!(
            triplet(a, "Bea@Client.example", "ana@acme.example"),
            triplet(b, "bea@client.example", "ANA@acme.example")
        );
        assert_ne!(
            triplet(a, "bea@client.example", "ana@acme.example"),
            triplet(c, "bea@client.example", "ana@acme.example")
        );
        assert_ne!(
            triplet(a, "bea@client.example", "ana@acme.example"),
            triplet(a, "", "ana@acme.example")
        );
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(network(v6), "2001:db8:1:2::/64");
    }
}
