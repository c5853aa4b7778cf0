//! `mailbox.purge`: removes every row of a deleted mailbox.

use super::{JobError, payload};
use mailroom_core::store::SystemStore;
use mailroom_core::store::entities::jobs;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct Payload {
    mailbox_id: Uuid,
}

pub(super) async fn run(sys: &SystemStore, job: &jobs::Model) -> Result<(), JobError> {
    let p: Payload = payload(job)?;
    let purged = sys.purge_mailbox(p.mailbox_id).await?;
    tracing::info!(mailbox = %p.mailbox_id, purged, "mailbox purge");
    Ok(())
}
