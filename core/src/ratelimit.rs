//! Fixed-window rate limiting, in process or in Redis behind one type. Counters are the kind of
//! state DESIGN.md allows to be lost: Redis down or flushed only resets them.

use crate::error::{Error, Result};
use crate::redis_link::RedisLink;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counters kept in process before expired ones are swept.
const MEMORY_SWEEP_AT: usize = 10_000;

/// The outcome of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The action may go ahead.
    pub allowed: bool,
    /// Seconds until the window resets.
    pub retry_after_secs: u64,
}

impl Decision {
    /// `Err(RateLimited)` when not allowed.
    pub fn check(self) -> Result<()> {
        if self.allowed {
            Ok(())
        } else {
            Err(Error::RateLimited {
                retry_after_secs: self.retry_after_secs.max(1),
            })
        }
    }
}

type Counters = Arc<Mutex<HashMap<String, (u64, Instant)>>>;

/// A rate limiter shared by every request of a process (in-process) or of a deployment (Redis).
///
/// When Redis fails, the Redis limiter counts in process instead: an outage of Redis must not
/// turn every login into an error. The outage is logged once and `/readyz` reports it.
#[derive(Clone)]
pub enum RateLimiter {
    /// Counters in this process.
    Memory(Counters),
    /// Counters in Redis, shared by replicas.
    Redis {
        /// The connection (reconnects by itself; skipped for a while after a failure).
        link: Box<RedisLink>,
        /// Prefix of every key.
        prefix: String,
        /// Counters used while Redis does not answer.
        fallback: Counters,
    },
}

impl RateLimiter {
    /// An in-process limiter.
    pub fn memory() -> Self {
        RateLimiter::Memory(Arc::default())
    }

    /// A limiter over Redis (which need not answer yet).
    pub fn redis(link: RedisLink, prefix: &str) -> Self {
        RateLimiter::Redis {
            link: Box::new(link),
            prefix: format!("{prefix}rl:"),
            fallback: Arc::default(),
        }
    }

    /// Counts one event for `key` and says whether it is within `limit` per `window_secs`.
    pub async fn hit(&self, key: &str, limit: u64, window_secs: u64) -> Result<Decision> {
        let (count, ttl) = match self {
            RateLimiter::Memory(m) => memory_hit(m, key, window_secs)?,
            RateLimiter::Redis {
                link,
                prefix,
                fallback,
            } => {
                let k = format!("{prefix}{key}");
                let r = link
                    .run(|mut c| async move {
                        redis::pipe()
                            .atomic()
                            .incr(&k, 1)
                            .cmd("EXPIRE")
                            .arg(&k)
                            .arg(window_secs)
                            .arg("NX")
                            .ignore()
                            .ttl(&k)
                            .query_async::<(u64, i64)>(&mut c)
                            .await
                    })
                    .await;
                match r {
                    Some((count, ttl)) => (count, ttl.max(0) as u64),
                    None => memory_hit(fallback, key, window_secs)?,
                }
            }
        };
        Ok(Decision {
            allowed: count <= limit,
            retry_after_secs: ttl,
        })
    }

    /// Says whether `key` is still under `limit` without counting.
    pub async fn peek(&self, key: &str, limit: u64, _window_secs: u64) -> Result<Decision> {
        let (count, ttl) = match self {
            RateLimiter::Memory(m) => memory_peek(m, key)?,
            RateLimiter::Redis {
                link,
                prefix,
                fallback,
            } => {
                let k = format!("{prefix}{key}");
                let r = link
                    .run(|mut c| async move {
                        redis::pipe()
                            .get(&k)
                            .ttl(&k)
                            .query_async::<(Option<u64>, i64)>(&mut c)
                            .await
                    })
                    .await;
                match r {
                    Some((count, ttl)) => (count.unwrap_or(0), ttl.max(0) as u64),
                    None => memory_peek(fallback, key)?,
                }
            }
        };
        Ok(Decision {
            allowed: count < limit,
            retry_after_secs: ttl,
        })
    }

    /// Forgets the counter of `key`.
    pub async fn reset(&self, key: &str) -> Result<()> {
        match self {
            RateLimiter::Memory(m) => {
                lock(m)?.remove(key);
            }
            RateLimiter::Redis {
                link,
                prefix,
                fallback,
            } => {
                lock(fallback)?.remove(key);
                let k = format!("{prefix}{key}");
                link.run(|mut c| async move {
                    redis::cmd("DEL").arg(&k).query_async::<()>(&mut c).await
                })
                .await;
            }
        }
        Ok(())
    }

    /// Whether counters live in Redis.
    pub fn is_redis(&self) -> bool {
        matches!(self, RateLimiter::Redis { .. })
    }

    /// Asks Redis whether it answers, past any back-off (always fine in process); the
    /// answer updates the health state.
    pub async fn ping(&self) -> Result<()> {
        if let RateLimiter::Redis { link, .. } = self {
            let mut c = link.conn_now();
            match redis::cmd("PING").query_async::<String>(&mut c).await {
                Ok(_) => link.ok(),
                Err(e) => {
                    link.failed(&e);
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }
}

fn lock(m: &Counters) -> Result<std::sync::MutexGuard<'_, HashMap<String, (u64, Instant)>>> {
    m.lock()
        .map_err(|_| Error::Internal("rate limiter poisoned".into()))
}

fn memory_hit(m: &Counters, key: &str, window_secs: u64) -> Result<(u64, u64)> {
    let mut map = lock(m)?;
    let now = Instant::now();
    if map.len() >= MEMORY_SWEEP_AT {
        map.retain(|_, (_, reset)| *reset > now);
    }
    let entry = map
        .entry(key.to_string())
        .or_insert((0, now + Duration::from_secs(window_secs)));
    if entry.1 <= now {
        *entry = (0, now + Duration::from_secs(window_secs));
    }
    entry.0 += 1;
    Ok((entry.0, entry.1.saturating_duration_since(now).as_secs()))
}

fn memory_peek(m: &Counters, key: &str) -> Result<(u64, u64)> {
    let map = lock(m)?;
    let now = Instant::now();
    Ok(match map.get(key) {
        Some((n, reset)) if *reset > now => (*n, reset.saturating_duration_since(now).as_secs()),
        _ => (0, 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_window_counts_and_resets() {
        let rl = RateLimiter::memory();
        for _ in 0..3 {
            assert!(rl.hit("k", 3, 60).await.unwrap().allowed);
        }
        let d = rl.hit("k", 3, 60).await.unwrap();
        assert!(!d.allowed && d.retry_after_secs > 0);
        assert!(!rl.peek("k", 3, 60).await.unwrap().allowed);
        rl.reset("k").await.unwrap();
        assert!(rl.peek("k", 3, 60).await.unwrap().allowed);
    }
}
