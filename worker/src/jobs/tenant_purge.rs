//! `tenant.purge`: removes every row of a deleted tenant.

use super::{JobError, payload};
use mailroom_core::store::SystemStore;
use mailroom_core::store::entities::jobs;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct Payload {
    tenant_id: Uuid,
}

pub(super) async fn run(sys: &SystemStore, job: &jobs::Model) -> Result<(), JobError> {
    let p: Payload = payload(job)?;
    let purged = sys.purge_tenant(p.tenant_id).await?;
    tracing::info!(tenant = %p.tenant_id, purged, "tenant purge");
    Ok(())
}
