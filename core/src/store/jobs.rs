//! The job queue's rows (see [`crate::jobs`] for its vocabulary): enqueue inside the
//! transaction of the change that causes a job, claim under a lease, complete, fail with
//! backoff, bury abandoned jobs.

use super::SystemStore;
use super::entities::jobs;
use super::entities::kinds::JobStatus;
use super::scope::all_tenants;
use crate::error::Result;
use crate::ids::new_id;
use crate::jobs::{FailOutcome, NewJob};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, ExprTrait, QueryFilter, Set,
    Statement,
};
use std::time::Duration;
use uuid::Uuid;

/// Enqueues a job on `c` (usually the transaction of the change that causes it).
pub(crate) async fn enqueue<C: ConnectionTrait>(c: &C, job: NewJob) -> Result<Uuid> {
    let now = Utc::now();
    let row = jobs::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(job.tenant_id),
        kind: Set(job.kind),
        payload: Set(job.payload.to_string()),
        status: Set(JobStatus::Queued),
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
                "WITH due AS (SELECT id FROM jobs WHERE (status = $6 AND run_at <= $4) \
                 OR (status = $7 AND locked_until < $4 AND attempts < max_attempts) \
                 ORDER BY run_at LIMIT $5 FOR UPDATE SKIP LOCKED) \
                 UPDATE jobs SET status = $7, attempts = jobs.attempts + 1, locked_by = $1, \
                 locked_until = $2, updated_at = $3 FROM due WHERE jobs.id = due.id RETURNING jobs.*",
            )
        } else {
            (
                DbBackend::Sqlite,
                "UPDATE jobs SET status = ?7, attempts = attempts + 1, locked_by = ?1, locked_until = ?2, \
                 updated_at = ?3 WHERE id IN (SELECT id FROM jobs WHERE (status = ?6 AND run_at <= ?4) \
                 OR (status = ?7 AND locked_until < ?4 AND attempts < max_attempts) \
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
                JobStatus::Queued.into(),
                JobStatus::Running.into(),
            ],
        );
        let tx = self.store.tx_quiet().await?;
        let rows = all_tenants::find::<jobs::Entity>()
            .from_raw_sql(stmt)
            .all(&*tx)
            .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Marks jobs dead whose lease lapsed after their last attempt (their worker died every
    /// time). Returns how many.
    pub async fn bury_abandoned_jobs(&self) -> Result<u64> {
        let now = Utc::now();
        let w = self.store.writer_quiet().await;
        let r = all_tenants::update_many::<jobs::Entity>()
            .col_expr(jobs::Column::Status, Expr::value(JobStatus::Dead))
            .col_expr(
                jobs::Column::LastError,
                Expr::value(Some("worker lost the job on its last attempt".to_string())),
            )
            .col_expr(jobs::Column::LockedBy, Expr::value(Option::<String>::None))
            .col_expr(jobs::Column::LockedUntil, Expr::value(Option::<i64>::None))
            .col_expr(jobs::Column::FinishedAt, Expr::value(Some(now)))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .filter(jobs::Column::Status.eq(JobStatus::Running))
            .filter(jobs::Column::LockedUntil.lt(now.timestamp_millis()))
            .filter(Expr::col(jobs::Column::Attempts).gte(Expr::col(jobs::Column::MaxAttempts)))
            .exec(&*w)
            .await?;
        Ok(r.rows_affected)
    }

    /// Marks a job done; false when `worker` no longer held it. `locked_by` keeps the name of
    /// the worker that ran it.
    pub async fn complete_job(&self, id: Uuid, worker: &str) -> Result<bool> {
        let w = self.store.writer_quiet().await;
        complete_on(&*w, id, worker).await
    }
}

/// Marks a job done on `c` (the transaction that records what the job did, so the two
/// commit together); false when `worker` no longer held it.
pub(crate) async fn complete_on<C: ConnectionTrait>(c: &C, id: Uuid, worker: &str) -> Result<bool> {
    {
        let now = Utc::now();
        let r = all_tenants::update_many::<jobs::Entity>()
            .col_expr(jobs::Column::Status, Expr::value(JobStatus::Done))
            .col_expr(jobs::Column::LockedUntil, Expr::value(Option::<i64>::None))
            .col_expr(jobs::Column::LastError, Expr::value(Option::<String>::None))
            .col_expr(jobs::Column::FinishedAt, Expr::value(Some(now)))
            .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
            .filter(jobs::Column::Id.eq(id))
            .filter(jobs::Column::Status.eq(JobStatus::Running))
            .filter(jobs::Column::LockedBy.eq(worker))
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }
}

impl SystemStore {
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
        let mut q = all_tenants::update_many::<jobs::Entity>()
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
            .filter(jobs::Column::Status.eq(JobStatus::Running))
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
