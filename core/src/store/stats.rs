//! Planner statistics on Postgres, kept by Mailroom itself.
//!
//! Postgres plans a query from the statistics `ANALYZE` gathers. Autovacuum gathers them in
//! production, but only after a minute's nap, and not at all where it is turned off. A mailbox
//! imported in bulk was then planned as the empty table it had been: a word search re-read the
//! matching blobs for every message of the mailbox (82 s for 38,000 messages) instead of
//! walking them once.
//!
//! So statistics follow the data here, whatever autovacuum does:
//! - every [`MIN_CHANGES`] messages this process stores wake the keeper, which analyses the
//!   tables a delivery writes once they grew by more than [`SHARE`] since their last
//!   analysis: during a bulk import, statistics stay within about a tenth of the truth;
//! - every [`PERIOD`], and at start-up, any table of Mailroom's schema changed that much (by
//!   another replica, a migration, a restore) since its last analysis, or of some size and never
//!   analysed, is analysed too.
//!
//! One replica at a time analyses (an advisory lock); the others skip the round.

use super::Store;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How often the tables' change counts are looked at.
const PERIOD: Duration = Duration::from_secs(10);
/// The least time between two rounds.
const MIN_GAP: Duration = Duration::from_secs(1);
/// Changes since the last analysis below which a table is left alone.
const MIN_CHANGES: usize = 500;
/// Share of a table's rows that must have changed since its last analysis.
const SHARE: f64 = 0.1;
/// Advisory lock key: one analysing replica at a time ("mr-stats").
const LOCK_KEY: i64 = 0x6d72_2d73_7461_7473;
/// The tables one delivery writes rows into.
const DELIVERY_TABLES: [&str; 4] = ["messages", "blobs", "threads", "thread_refs"];

/// Messages stored by this process since the keeper last looked.
#[derive(Default)]
pub(crate) struct Written {
    count: AtomicUsize,
    wake: Notify,
}

impl Written {
    /// Counts `n` stored messages; wakes the keeper every [`MIN_CHANGES`].
    pub(crate) fn add(&self, n: usize) {
        let before = self.count.fetch_add(n, Ordering::Relaxed);
        if before / MIN_CHANGES != (before + n) / MIN_CHANGES {
            self.wake.notify_one();
        }
    }
}

impl Store {
    /// On Postgres, keeps the planner statistics of Mailroom's tables current until
    /// `shutdown` turns true; returns at once on SQLite, whose planner reads no statistics
    /// Mailroom does not keep current (`sqlite_stat1` is never written).
    pub async fn keep_statistics(self, mut shutdown: watch::Receiver<bool>) {
        if !self.is_postgres() {
            return;
        }
        // Messages stored since the delivery tables were last analysed (by this process).
        let mut since = 0usize;
        loop {
            since += self.written.count.swap(0, Ordering::Relaxed);
            match self.analyze_changed(since).await {
                Ok(done) if done.iter().any(|t| t == "messages") => since = 0,
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "statistics round skipped"),
            }
            tokio::select! {
                _ = tokio::time::sleep(PERIOD) => {}
                _ = self.written.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(MIN_GAP) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Analyses the tables that changed enough (see the module documentation), counting
    /// `stored` messages this process stored since its last analysis of the delivery tables;
    /// returns the tables analysed.
    pub(crate) async fn analyze_changed(&self, stored: usize) -> crate::error::Result<Vec<String>> {
        let rows = self
            .db()
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT s.relname::text AS name, s.n_mod_since_analyze AS changed, \
                 GREATEST(c.reltuples, 0)::float8 AS known, c.reltuples < 0 AS never, \
                 pg_relation_size(s.relid) AS bytes \
                 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
                 WHERE s.schemaname = current_schema()",
            ))
            .await?;
        let mut stale = Vec::new();
        for r in rows {
            let name: String = r.try_get("", "name")?;
            let known: f64 = r.try_get("", "known")?;
            let mut changed = r.try_get::<i64>("", "changed")?.max(0) as f64;
            if DELIVERY_TABLES.contains(&name.as_str()) {
                // The shared counters lag (backends report them every second or more).
                changed = changed.max(stored as f64);
            }
            let never = r.try_get::<bool>("", "never")? && r.try_get::<i64>("", "bytes")? > 65536;
            if never || (changed > MIN_CHANGES as f64 && changed > SHARE * known) {
                stale.push(name);
            }
        }
        if stale.is_empty() {
            return Ok(stale);
        }
        let tx = self.db().begin().await?;
        let got = tx
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock($1) AS got",
                [LOCK_KEY.into()],
            ))
            .await?
            .and_then(|r| r.try_get::<bool>("", "got").ok())
            .unwrap_or(false);
        if !got {
            return Ok(Vec::new());
        }
        let started = std::time::Instant::now();
        let names = stale
            .iter()
            .map(|n| format!("\"{}\"", n.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(", ");
        tx.execute_unprepared(&format!("ANALYZE {names}")).await?;
        tx.commit().await?;
        tracing::info!(
            tables = %stale.join(","),
            ms = started.elapsed().as_millis() as u64,
            "planner statistics refreshed"
        );
        Ok(stale)
    }
}
