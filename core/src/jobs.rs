//! The job queue: rows in the `jobs` table.
//!
//! A job is enqueued in the same transaction as the change that causes it, so the two commit
//! or fail together. Workers claim due jobs with a lease (`FOR UPDATE SKIP LOCKED` on Postgres;
//! SQLite has a single writer, so its `UPDATE … RETURNING` is atomic on its own). A worker that
//! dies loses its lease and the job is claimed again: handlers must be idempotent.

use crate::error::Result;
use crate::ids::new_id;
use crate::store::SystemStore;
use crate::store::entities::jobs;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, ExprTrait, QueryFilter,
    Set, Statement,
};
use std::time::Duration;
use uuid::Uuid;

/// Purges a deleted tenant's data. Payload: `{"tenant_id": "…"}`.
pub const TENANT_PURGE: &str = "tenant.purge";
/// Re-checks a domain's DNS records. Payload: `{"domain_id": "…"}`; the job's tenant is set.
pub const DOMAIN_CHECK: &str = "domain.check";
/// Purges a deleted mailbox's data. Payload: `{"mailbox_id": "…"}`.
pub const MAILBOX_PURGE: &str = "mailbox.purge";
/// Default attempts before a job is dead.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 10;

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The handler's name, such as [`TENANT_PURGE`].
    pub kind: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// The tenant it works for, if any.
    pub tenant_id: Option<Uuid>,
    /// When it becomes due.
    pub run_at: DateTime<Utc>,
    /// Attempts before it is dead.
    pub max_attempts: i32,
}

impl NewJob {
    /// A job due now.
    pub fn new(kind: &str, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
            tenant_id: None,
            run_at: Utc::now(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// For this tenant.
    pub fn tenant(mut self, id: Uuid) -> Self {
        self.tenant_id = Some(id);
        self
    }

    /// Due at this time.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = at;
        self
    }

    /// With this many attempts.
    pub fn max_attempts(mut self, n: i32) -> Self {
        self.max_attempts = std::cmp::max(n, 1);
        self
    }
}

/// What became of a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// It will run again at the given Unix milliseconds.
    Retry(i64),
    /// It ran out of attempts.
    Dead,
    /// This worker no longer held it (its lease lapsed and another worker took it).
    LostLease,
}

/// Enqueues a job on `c` (usually the transaction of the change that causes it).
pub(crate) async fn enqueue<C: ConnectionTrait>(c: &C, job: NewJob) -> Result<Uuid> {
    let now = Utc::now();
    let row = jobs::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(job.tenant_id),
        kind: Set(job.kind),
        payload: Set(job.payload.to_string()),
        status: Set("queued".into()),
        attempts: Set(0),
        max_attempts: Set(job.max_attempts),
        run_at: Set(job.run_at.timestamp_millis()),
        locked_by: Set(None),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        finished_at: Set(None),
    }
    .insert(c)
    .await?;
    Ok(row.id)
}

impl SystemStore {
    /// Enqueues a job on its own.
    pub async fn enqueue_job(&self, job: NewJob) -> Result<Uuid> {
        let w = self.store.writer_quiet().await;
        enqueue(&*w, job).await
    }

    /// Claims up to `n` due jobs for `worker`, each leased for `lease`. A job is due when it is
    /// queued and its time has come, or when it is running under a lapsed lease with attempts
    /// left. Every claim counts an attempt.
    pub async fn claim_jobs(
        &self,
        worker: &str,
        n: u64,
        lease: Duration,
    ) -> Result<Vec<jobs::Model>> {
        let now = Utc::now();
        let now_ms = now.timestamp_millis();
        let until = now_ms + lease.as_millis() as i64;
        let (backend, sql) = if self.store.is_postgres() {
            (
                DbBackend::Postgres,
                // The CTE is evaluated once and its rows stay locked until commit; an `IN (…)`
                // subquery could be re-run when a row is rechecked, and claim rows twice.
                "WITH due AS (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $4) \
                 OR (status = 'running' AND locked_until < $4 AND attempts < max_attempts) \
                 ORDER BY run_at LIMIT $5 FOR UPDATE SKIP LOCKED) \
                 UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, locked_by = $1, \
                 locked_until = $2, updated_at = $3 FROM due WHERE jobs.id = due.id RETURNING jobs.*",
            )
        } else {
            (
                DbBackend::Sqlite,
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = ?1, locked_until = ?2, \
                 updated_at = ?3 WHERE id IN (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= ?4) \
                 OR (status = 'running' AND locked_until < ?4 AND attempts < max_attempts) \
                 ORDER BY run_at LIMIT ?5) RETURNING *",
            )
        };
        let stmt = Statement::from_sql_and_values(
            backend,
            sql,
            [
                worker.into(),
                until.into(),
                now.into(),
                now_ms.into(),
                (n as i64).into(),
            ],
        );
        let tx = self.store.tx_quiet().await?;
        let rows = jobs::Entity::find().from_raw_sql(stmt).all(&*tx).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Marks jobs dead whose lease lapsed after their last attempt (their worker died every
    /// time). Returns how many.
    pub async fn bury_abandoned_jobs(&self) -> Result<u64> {
        let now = Utc::now();
        let w = self.store.writer_quiet().await;
        let r = jobs::Entity::update_many()
            .col_expr(jobs::Column::Status, Expr::value("dead"))
            .col_expr(
                jobs::Column::LastError,
                Expr::value(Some("worker lost the job on its last attempt".to_string())),
            )
            .col_expr(jobs::Column::LockedBy, Expr::value(Option::<String>::None))
            .col_expr(jobs::Column::LockedUntil, Expr::value(Option::<i64>::None))
            .col_expr(jobs::Column::FinishedAt, Expr::value(Some(now)))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .filter(jobs::Column::Status.eq("running"))
            .filter(jobs::Column::LockedUntil.lt(now.timestamp_millis()))
            .filter(Expr::col(jobs::Column::Attempts).gte(Expr::col(jobs::Column::MaxAttempts)))
            .exec(&*w)
            .await?;
        Ok(r.rows_affected)
    }

    /// Marks a job done; false when `worker` no longer held it. `locked_by` keeps the name of
    /// the worker that ran it.
    pub async fn complete_job(&self, id: Uuid, worker: &str) -> Result<bool> {
        let now = Utc::now();
        let w = self.store.writer_quiet().await;
        let r = jobs::Entity::update_many()
            .col_expr(jobs::Column::Status, Expr::value("done"))
            .col_expr(jobs::Column::LockedUntil, Expr::value(Option::<i64>::None))
            .col_expr(jobs::Column::LastError, Expr::value(Option::<String>::None))
            .col_expr(jobs::Column::FinishedAt, Expr::value(Some(now)))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .filter(jobs::Column::Id.eq(id))
            .filter(jobs::Column::Status.eq("running"))
            .filter(jobs::Column::LockedBy.eq(worker))
            .exec(&*w)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Records a failure: the job runs again after `retry_in`, or is dead when it has no
    /// attempts left or `permanent` is set.
    pub async fn fail_job(
        &self,
        job: &jobs::Model,
        worker: &str,
        error: &str,
        retry_in: Duration,
        permanent: bool,
    ) -> Result<FailOutcome> {
        let now = Utc::now();
        let dead = permanent || job.attempts >= job.max_attempts;
        let next = now.timestamp_millis() + retry_in.as_millis() as i64;
        let error: String = error.chars().take(4000).collect();
        let mut q = jobs::Entity::update_many()
            .col_expr(
                jobs::Column::Status,
                Expr::value(if dead { "dead" } else { "queued" }),
            )
            .col_expr(jobs::Column::LockedBy, Expr::value(Option::<String>::None))
            .col_expr(jobs::Column::LockedUntil, Expr::value(Option::<i64>::None))
            .col_expr(jobs::Column::LastError, Expr::value(Some(error)))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now));
        q = if dead {
            q.col_expr(jobs::Column::FinishedAt, Expr::value(Some(now)))
        } else {
            q.col_expr(jobs::Column::RunAt, Expr::value(next))
        };
        let w = self.store.writer_quiet().await;
        let r = q
            .filter(jobs::Column::Id.eq(job.id))
            .filter(jobs::Column::Status.eq("running"))
            .filter(jobs::Column::LockedBy.eq(worker))
            .exec(&*w)
            .await?;
        Ok(match (r.rows_affected, dead) {
            (0, _) => FailOutcome::LostLease,
            (_, true) => FailOutcome::Dead,
            (_, false) => FailOutcome::Retry(next),
        })
    }
}

/// Exponential backoff: `base · 2^(attempt-1)`, capped at `max`, with up to 20% jitter so
/// failing jobs do not retry in lockstep.
pub fn backoff(attempt: i32, base: Duration, max: Duration) -> Duration {
    let exp = attempt.clamp(1, 30) as u32 - 1;
    let raw = base.saturating_mul(2u32.saturating_pow(exp)).min(max);
    let jitter = crate::secrets::random_bytes::<2>()
        .map(|b| u16::from_le_bytes(b) as u64)
        .unwrap_or(0);
    let extra = raw.as_millis() as u64 * (jitter % 200) / 1000;
    raw + Duration::from_millis(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let (b, m) = (Duration::from_secs(10), Duration::from_secs(3600));
        assert!(backoff(1, b, m) >= b && backoff(1, b, m) < Duration::from_secs(13));
        assert!(backoff(3, b, m) >= Duration::from_secs(40));
        assert!(backoff(30, b, m) <= Duration::from_secs(4320));
    }
}
