//! Job handlers, one file each, dispatched by kind.

mod domain_check;
mod mailbox_purge;
mod spam_learn;
mod tenant_purge;
mod vacation_reply;

use mailroom_core::domains::DomainService;
use mailroom_core::jobs::{
    DOMAIN_CHECK, MAILBOX_PURGE, OUTBOUND_DELIVER, SPAM_LEARN, TENANT_PURGE, VACATION_REPLY,
};
use mailroom_core::mail::ingest::Pipeline;
use mailroom_core::mail::outbound::Outbound;
use mailroom_core::store::SystemStore;
use mailroom_core::store::entities::jobs;

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt later (a database hiccup, a peer down).
    #[error("{0}")]
    Retry(String),
    /// Will never succeed (bad payload, unknown kind): the job is dead at once.
    #[error("{0}")]
    Permanent(String),
}

impl From<mailroom_core::Error> for JobError {
    fn from(e: mailroom_core::Error) -> Self {
        JobError::Retry(e.to_string())
    }
}

/// What job handlers work with.
#[derive(Clone)]
pub struct JobContext {
    /// The unscoped store.
    pub sys: SystemStore,
    /// DNS and domain settings.
    pub domains: DomainService,
    /// The inbound pipeline (local deliveries, bounce notices).
    pub pipeline: Pipeline,
    /// The outbound settings and server name.
    pub outbound: Outbound,
    /// Sessions with remote servers kept open for the next delivery.
    pub connections: crate::delivery::remote::Connections,
    /// How long a claimed job is this worker's (`jobs.lease_secs`): a delivery attempt ends
    /// well within it, so no other worker takes the job while it runs.
    pub lease: std::time::Duration,
}

/// How a job ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Mark it done.
    Done,
    /// The handler marked it done itself, in the transaction that recorded its work.
    Recorded,
}

/// Runs one job. Handlers are idempotent: a job may run again after a crash.
pub async fn dispatch(ctx: &JobContext, job: &jobs::Model) -> Result<Finished, JobError> {
    let done = |r: Result<(), JobError>| r.map(|()| Finished::Done);
    match job.kind.as_str() {
        TENANT_PURGE => done(tenant_purge::run(&ctx.sys, job).await),
        DOMAIN_CHECK => done(domain_check::run(ctx, job).await),
        MAILBOX_PURGE => done(mailbox_purge::run(&ctx.sys, job).await),
        OUTBOUND_DELIVER => crate::delivery::run(ctx, job).await,
        SPAM_LEARN => done(spam_learn::run(ctx, job).await),
        VACATION_REPLY => done(vacation_reply::run(ctx, job).await),
        other => Err(JobError::Permanent(format!(
            "no handler for job kind {other:?}"
        ))),
    }
}

/// Reads a job's JSON payload.
pub(crate) fn payload<T: serde::de::DeserializeOwned>(job: &jobs::Model) -> Result<T, JobError> {
    serde_json::from_str(&job.payload).map_err(|e| JobError::Permanent(format!("bad payload: {e}")))
}
