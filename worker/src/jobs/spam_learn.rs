//! `spam.learn`: teaches a tenant's spam classifier from messages a user moved into Junk
//! (spam) or out of it (ham), over IMAP or REST. Learning is idempotent per message (its
//! digest): a job run twice, or a message moved back and forth, never counts twice.

use super::{JobContext, JobError, payload};
use mailroom_core::jobs::SPAM_LEARN;
use mailroom_core::spam::facts::Facts;
use mailroom_core::spam::stage::MAX_SCAN_BYTES;
use mailroom_core::store::entities::jobs;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct Payload {
    mailbox_id: Uuid,
    message_ids: Vec<Uuid>,
    verdict: String,
}

pub(super) async fn run(ctx: &JobContext, job: &jobs::Model) -> Result<(), JobError> {
    let p: Payload = payload(job)?;
    let Some(tenant) = job.tenant_id else {
        return Err(JobError::Permanent(format!(
            "{SPAM_LEARN} without a tenant"
        )));
    };
    let spam = match p.verdict.as_str() {
        "spam" => true,
        "ham" => false,
        other => return Err(JobError::Permanent(format!("unknown verdict {other:?}"))),
    };
    let Some(ts) = ctx.sys.tenant_for_job(tenant, SPAM_LEARN).await? else {
        return Ok(()); // the tenant is gone
    };
    let mut learnt = 0;
    for id in p.message_ids {
        let (m, raw) = match ts.message_with_raw(p.mailbox_id, id).await {
            Ok(found) => found,
            // Deleted meanwhile: nothing to learn from.
            Err(mailroom_core::Error::NotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        let scanned = raw[..raw.len().min(MAX_SCAN_BYTES)].to_vec();
        let tokens = tokio::task::spawn_blocking(move || Facts::of(&scanned).tokens())
            .await
            .map_err(|e| JobError::Permanent(format!("tokenising: {e}")))?;
        // Keyed on the body as received (without this copy's trace fields): the lesson
        // autolearn may have drawn from the same message is the one taken back.
        ts.spam_learn(&m.blob_hash, &tokens, spam).await?;
        learnt += 1;
    }
    tracing::info!(tenant = %tenant, learnt, spam, "spam classifier taught by a move");
    Ok(())
}
