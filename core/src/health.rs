//! What is up and what is down: the database, its writes, the data directory's free space and
//! Redis.
//!
//! Each part's outage is logged twice: once when it starts (with the first error) and once
//! when it ends (with how long it lasted and how many operations failed meanwhile), never once
//! per failed operation. `/readyz` and `/metrics` read the same state: a process is ready while
//! the database answers and takes writes; Redis being down only degrades it (rate limits count
//! in process, notifications are dropped), because Redis holds nothing that may not be lost.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A part whose availability is tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The database answers at all.
    Database,
    /// Writes commit (a full disk or tablespace, a read-only database fail them).
    Writes,
    /// The data directory has at least `storage.min_free_bytes` free.
    Disk,
    /// Redis answers (optional: down only degrades).
    Redis,
}

impl Part {
    /// Every part, in report order.
    pub const ALL: [Part; 4] = [Part::Database, Part::Writes, Part::Disk, Part::Redis];

    /// Its name in logs, `/readyz` and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Part::Database => "database",
            Part::Writes => "writes",
            Part::Disk => "disk",
            Part::Redis => "redis",
        }
    }

    /// Whether the process can serve without it.
    pub fn optional(self) -> bool {
        self == Part::Redis
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Default, Clone)]
struct Outage {
    started: Option<(Instant, DateTime<Utc>)>,
    failures: u64,
    error: String,
}

/// One part's state, as `/readyz` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PartStatus {
    /// `ok` or `down`.
    pub status: &'static str,
    /// When the outage started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Operations that failed since it started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<u64>,
    /// The latest error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The shared health state of one process's store and Redis. Cheap to clone.
#[derive(Clone, Default)]
pub struct Health(Arc<Mutex<[Outage; 4]>>);

impl Health {
    /// A part failed. Logs when this starts an outage; otherwise only counts.
    pub fn failed(&self, part: Part, error: &dyn std::fmt::Display) {
        let Ok(mut parts) = self.0.lock() else {
            return;
        };
        let o = &mut parts[part.index()];
        o.failures += 1;
        o.error = error.to_string();
        if o.started.is_none() {
            o.started = Some((Instant::now(), Utc::now()));
            if part.optional() {
                tracing::warn!(part = part.name(), error = %o.error, "{} unavailable; working without it (further failures are counted, not logged)", part.name());
            } else {
                tracing::error!(part = part.name(), error = %o.error, "{} unavailable (further failures are counted, not logged)", part.name());
            }
        }
    }

    /// A part works. Logs when this ends an outage.
    pub fn ok(&self, part: Part) {
        let Ok(mut parts) = self.0.lock() else {
            return;
        };
        let o = &mut parts[part.index()];
        if let Some((started, _)) = o.started.take() {
            tracing::warn!(
                part = part.name(),
                seconds = started.elapsed().as_secs(),
                failures = o.failures,
                "{} available again after {} s; {} operations failed meanwhile",
                part.name(),
                started.elapsed().as_secs(),
                o.failures
            );
        }
        o.failures = 0;
        o.error.clear();
    }

    /// Whether the part is in an outage.
    pub fn is_down(&self, part: Part) -> bool {
        self.0
            .lock()
            .map(|p| p[part.index()].started.is_some())
            .unwrap_or(false)
    }

    /// The state of every part.
    pub fn report(&self) -> Vec<(Part, PartStatus)> {
        let Ok(parts) = self.0.lock() else {
            return Vec::new();
        };
        Part::ALL
            .iter()
            .map(|p| {
                let o = &parts[p.index()];
                let status = match o.started {
                    None => PartStatus {
                        status: "ok",
                        since: None,
                        failures: None,
                        error: None,
                    },
                    Some((_, since)) => PartStatus {
                        status: "down",
                        since: Some(since),
                        failures: Some(o.failures),
                        error: Some(o.error.clone()),
                    },
                };
                (*p, status)
            })
            .collect()
    }

    /// Ready to serve: every part that is not optional is up.
    pub fn ready(&self) -> bool {
        Part::ALL.iter().all(|p| p.optional() || !self.is_down(*p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_counted_and_cleared() {
        let h = Health::default();
        assert!(h.ready());
        h.failed(Part::Writes, &"disk full");
        h.failed(Part::Writes, &"disk full again");
        assert!(!h.ready() && h.is_down(Part::Writes));
        let (_, s) = h.report()[Part::Writes.index()].clone();
        assert_eq!((s.status, s.failures), ("down", Some(2)));
        assert_eq!(s.error.as_deref(), Some("disk full again"));
        h.ok(Part::Writes);
        assert!(h.ready());
        h.failed(Part::Redis, &"refused");
        assert!(h.ready(), "Redis is optional");
    }
}
