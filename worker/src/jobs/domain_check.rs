//! `domain.check`: re-checks a domain's DNS records (the scheduler enqueues it when due).

use super::{JobContext, JobError, payload};
use mailroom_core::store::entities::jobs;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct Payload {
    domain_id: Uuid,
}

pub(super) async fn run(ctx: &JobContext, job: &jobs::Model) -> Result<(), JobError> {
    let p: Payload = payload(job)?;
    let Some(tenant) = job.tenant_id else {
        return Err(JobError::Permanent("domain.check without a tenant".into()));
    };
    let Some(store) = ctx.sys.tenant_for_job(tenant, "domain.check").await? else {
        return Ok(()); // the tenant was deleted: nothing to check
    };
    match store.verify_domain(&ctx.domains, p.domain_id).await {
        Ok(v) => {
            tracing::info!(domain = %v.view.domain.name, status = v.view.status(), "domain re-checked");
            Ok(())
        }
        Err(mailroom_core::Error::NotFound) => Ok(()), // removed since it was scheduled
        Err(e) => Err(e.into()),
    }
}
