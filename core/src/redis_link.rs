//! The one Redis connection of a process, shared by the rate limiter and the event bus.
//!
//! Redis holds only what may be lost, so it must never hold anything up: the process starts
//! while Redis is down (the connection is made on first use), and after a failure callers are
//! told to do without Redis (count in process, drop a notification) until a back-off has
//! passed, instead of each waiting for a connection time-out. The outage is logged once, when
//! it starts and when it ends, through the health state.

use crate::error::Result;
use crate::health::{Health, Part};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// First wait after a failure; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between two attempts while Redis is down.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Gate {
    /// While set and in the future, do without Redis.
    retry_at: Option<Instant>,
    backoff: Duration,
}

/// A lazily connected, self-reconnecting Redis connection with a back-off gate. Cheap to clone.
#[derive(Clone)]
pub struct RedisLink {
    client: redis::Client,
    conn: ConnectionManager,
    health: Health,
    gate: Arc<Mutex<Gate>>,
}

impl RedisLink {
    /// A link to `url`; connects on first use, so it succeeds while Redis is down (it fails
    /// only on a malformed URL).
    pub fn open(url: &str, health: Health) -> Result<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self {
            client,
            conn,
            health,
            gate: Arc::default(),
        })
    }

    /// The connection, or `None` while a recent failure says to do without Redis.
    pub fn conn(&self) -> Option<ConnectionManager> {
        let gate = self.gate.lock().ok()?;
        match gate.retry_at {
            Some(at) if Instant::now() < at => None,
            _ => Some(self.conn.clone()),
        }
    }

    /// The connection whatever the back-off says (for health checks).
    pub fn conn_now(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The client, for connections of their own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// A command worked: Redis is up.
    pub fn ok(&self) {
        if let Ok(mut g) = self.gate.lock()
            && g.retry_at.is_some()
        {
            *g = Gate::default();
        }
        self.health.ok(Part::Redis);
    }

    /// A command failed: do without Redis for a while (longer after each failure in a row).
    pub fn failed(&self, e: &dyn std::fmt::Display) {
        if let Ok(mut g) = self.gate.lock() {
            g.backoff = (g.backoff * 2).clamp(MIN_BACKOFF, MAX_BACKOFF);
            g.retry_at = Some(Instant::now() + g.backoff);
        }
        self.health.failed(Part::Redis, e);
    }

    /// Runs a command: `None` when Redis is skipped or the command failed (both recorded).
    pub async fn run<T, F, Fut>(&self, f: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.conn()?;
        match f(conn).await {
            Ok(v) => {
                self.ok();
                Some(v)
            }
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_down_redis_is_skipped_until_the_back_off_passes() {
        // Nothing listens on port 1: the first command fails within the connection time-out,
        // the next ones are skipped at once.
        let health = Health::default();
        let link = RedisLink::open("redis://127.0.0.1:1", health.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let ping = |mut c: ConnectionManager| async move {
            redis::cmd("PING").query_async::<String>(&mut c).await
        };
        assert!(link.run(ping).await.is_none());
        assert!(health.is_down(Part::Redis));
        let started = Instant::now();
        for _ in 0..100 {
            assert!(link.run(ping).await.is_none());
        }
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "{:?}",
            started.elapsed()
        );
    }
}
