//! The job runner loop: claims due jobs, runs up to `concurrency` at once, records the outcome
//! with exponential backoff, and stops claiming on shutdown while letting running jobs finish.

use crate::jobs::{Finished, JobContext, JobError, dispatch};
use mailroom_core::config::JobsConfig;
use mailroom_core::jobs::{FailOutcome, backoff};
use mailroom_core::store::SystemStore;
use mailroom_core::store::entities::jobs;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How often lapsed last attempts are buried.
const BURY_EVERY: Duration = Duration::from_secs(60);
/// How long shutdown waits for running jobs.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A job runner.
pub struct Runner {
    sys: SystemStore,
    ctx: JobContext,
    cfg: JobsConfig,
    id: String,
}

impl Runner {
    /// A failed look at the queue: an outage goes to the health state (logged once per
    /// outage), anything else is logged here.
    fn trouble(&self, e: &mailroom_core::Error, what: &str) {
        if e.outage().is_some() {
            self.sys
                .health()
                .failed(mailroom_core::health::Part::Database, e);
        } else {
            tracing::warn!(error = %e, "{what}");
        }
    }

    /// A runner named uniquely for this process.
    pub fn new(ctx: JobContext, cfg: JobsConfig) -> Self {
        let sys = ctx.sys.clone();
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
        let id = format!(
            "{host}:{}:{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Self { sys, ctx, cfg, id }
    }

    /// This runner's name, as written to `jobs.locked_by`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs until `shutdown` turns true, then waits (bounded) for running jobs.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(runner = %self.id, concurrency = self.cfg.concurrency, "job runner started");
        let lease = Duration::from_secs(self.cfg.lease_secs.max(1));
        let idle = Duration::from_millis(self.cfg.poll_interval_ms.max(10));
        let mut running: JoinSet<()> = JoinSet::new();
        let mut last_bury = tokio::time::Instant::now() - BURY_EVERY;
        let schedule_every = Duration::from_secs(self.cfg.scheduler_interval_secs.max(1));
        let mut last_schedule = tokio::time::Instant::now() - schedule_every;
        while !*shutdown.borrow() {
            while running.try_join_next().is_some() {}
            if last_bury.elapsed() >= BURY_EVERY {
                last_bury = tokio::time::Instant::now();
                match self.sys.bury_abandoned_jobs().await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::warn!(count = n, "jobs marked dead after their worker was lost")
                    }
                    Err(e) => self.trouble(&e, "could not bury abandoned jobs"),
                }
            }
            if last_schedule.elapsed() >= schedule_every {
                last_schedule = tokio::time::Instant::now();
                match self
                    .sys
                    .schedule_domain_checks(500, chrono::Duration::minutes(30))
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(count = n, "domain re-checks scheduled"),
                    Err(e) => self.trouble(&e, "could not schedule domain re-checks"),
                }
                // Lapsed greylisting triplets and quarantined mail past its retention.
                match self.sys.sweep_spam_state(chrono::Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(count = n, "spam state swept"),
                    Err(e) => self.trouble(&e, "could not sweep spam state"),
                }
                if let Err(e) = self.sys.sweep_vacation_replies(chrono::Utc::now()).await {
                    self.trouble(&e, "could not sweep auto-reply records");
                }
            }
            let free = self.cfg.concurrency.saturating_sub(running.len());
            let claimed = if free > 0 {
                match self.sys.claim_jobs(&self.id, free as u64, lease).await {
                    Ok(jobs) => jobs,
                    Err(e) => {
                        self.trouble(&e, "could not claim jobs");
                        Vec::new()
                    }
                }
            } else {
                Vec::new()
            };
            let got = claimed.len();
            for job in claimed {
                let (ctx, cfg, id) = (self.ctx.clone(), self.cfg.clone(), self.id.clone());
                running.spawn(async move { execute(&ctx, &cfg, &id, job).await });
            }
            if got == 0 || got < free {
                tokio::select! {
                    _ = tokio::time::sleep(idle) => {}
                    _ = shutdown.changed() => {}
                    Some(_) = running.join_next(), if !running.is_empty() => {}
                }
            }
        }
        tracing::info!(running = running.len(), "job runner stopping");
        let drain = async { while running.join_next().await.is_some() {} };
        if tokio::time::timeout(DRAIN_TIMEOUT, drain).await.is_err() {
            tracing::warn!(
                "jobs still running at shutdown; their leases will lapse and they will run again"
            );
        }
    }
}

async fn execute(ctx: &JobContext, cfg: &JobsConfig, runner: &str, job: jobs::Model) {
    let sys = &ctx.sys;
    let span = tracing::info_span!("job", id = %job.id, kind = %job.kind, attempt = job.attempts);
    let result = dispatch(ctx, &job).await;
    let outcome = match result {
        Ok(Finished::Recorded) => {
            tracing::info!(parent: &span, "job done");
            return;
        }
        Ok(Finished::Done) => match sys.complete_job(job.id, runner).await {
            Ok(true) => {
                tracing::info!(parent: &span, "job done");
                return;
            }
            Ok(false) => {
                tracing::warn!(parent: &span, "job finished after its lease lapsed; another worker may run it again");
                return;
            }
            Err(e) => {
                tracing::error!(parent: &span, error = %e, "could not mark job done");
                return;
            }
        },
        Err(e) => {
            let permanent = matches!(e, JobError::Permanent(_));
            let delay = backoff(
                job.attempts,
                Duration::from_secs(cfg.backoff_base_secs),
                Duration::from_secs(cfg.backoff_max_secs),
            );
            (
                sys.fail_job(&job, runner, &e.to_string(), delay, permanent)
                    .await,
                e,
            )
        }
    };
    match outcome {
        (Ok(FailOutcome::Retry(at)), e) => {
            tracing::warn!(parent: &span, error = %e, retry_at_ms = at, "job failed; will retry")
        }
        (Ok(FailOutcome::Dead), e) => tracing::error!(parent: &span, error = %e, "job dead"),
        (Ok(FailOutcome::LostLease), e) => {
            tracing::warn!(parent: &span, error = %e, "job failed after its lease lapsed")
        }
        (Err(db), e) => {
            tracing::error!(parent: &span, error = %e, db_error = %db, "could not record job failure")
        }
    }
}
