//! The health monitor: once a second it asks whether the database answers, whether the data
//! directory has room, and, while writes are failing, whether a write works again, so an outage
//! ends by itself (`/readyz` turns ready, MAIL is accepted again) without a restart or a
//! delivery to prove it.

use super::Store;
use crate::error::{Error, Result};
use crate::health::Part;
use sea_orm::{ConnectionTrait, Statement};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// How often the monitor looks.
const PERIOD: Duration = Duration::from_secs(1);
/// The longest a check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Free bytes for unprivileged writers on the filesystem holding `dir` (or, while `dir` does
/// not exist yet, its nearest existing ancestor).
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let existing = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or_else(|| Path::new("."));
    let s = rustix::fs::statvfs(existing)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

impl Store {
    /// Runs the monitor until `shutdown` turns true. `min_free` 0 turns the disk check off.
    pub async fn watch(
        self,
        data_dir: PathBuf,
        min_free: u64,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let probe_id = format!("{}:{}", std::process::id(), uuid::Uuid::now_v7().simple());
        loop {
            self.check_once(&data_dir, min_free, &probe_id).await;
            tokio::select! {
                _ = tokio::time::sleep(PERIOD) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn check_once(&self, data_dir: &Path, min_free: u64, probe_id: &str) {
        let health = self.health();
        match tokio::time::timeout(CHECK_TIMEOUT, self.ping()).await {
            Ok(Ok(())) => health.ok(Part::Database),
            Ok(Err(e)) => health.failed(Part::Database, &e),
            Err(_) => health.failed(Part::Database, &"no answer within 5 s"),
        }
        if min_free > 0 {
            match free_bytes(data_dir) {
                Ok(free) if free < min_free => health.failed(
                    Part::Disk,
                    &format!(
                        "{} MiB free in {}, below storage.min_free_bytes ({} MiB)",
                        free >> 20,
                        data_dir.display(),
                        min_free >> 20
                    ),
                ),
                Ok(_) => health.ok(Part::Disk),
                Err(e) => health.failed(
                    Part::Disk,
                    &format!("cannot read the free space of {}: {e}", data_dir.display()),
                ),
            }
        }
        if health.is_down(Part::Writes) {
            match tokio::time::timeout(CHECK_TIMEOUT, self.probe_write(probe_id)).await {
                // A committed probe marks writes up (Tx::commit does it).
                Ok(Ok(())) => {}
                Ok(Err(e)) => health.failed(Part::Writes, &e),
                Err(_) => health.failed(Part::Writes, &"a write took longer than 5 s"),
            }
        }
    }

    /// Rewrites this process's row of `health_probes` in a write transaction.
    async fn probe_write(&self, id: &str) -> Result<()> {
        let tx = self.tx_quiet().await?;
        let backend = tx.get_database_backend();
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                "INSERT INTO health_probes (id, probed_at) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at"
            }
            _ => {
                "INSERT INTO health_probes (id, probed_at) VALUES (?, ?) \
                 ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at"
            }
        };
        tx.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [id.into(), chrono::Utc::now().into()],
        ))
        .await
        .map_err(Error::from)?;
        tx.commit().await
    }
}
