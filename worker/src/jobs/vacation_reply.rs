//! `vacation.reply`: composes a mailbox's auto-reply to one sender and queues it (the null
//! reverse path, no copy in Sent). The delivery stage already decided the sender should be
//! answered and recorded it, so a job run twice after a crash may at worst send the reply
//! twice, never to anyone who must not get one. A reply the tenant's sending limits refuse is
//! dropped (logged): auto-replies must not crowd out what people send.

use super::{JobContext, JobError, payload};
use mailroom_core::jobs::VACATION_REPLY;
use mailroom_core::mail::outbound::Refused;
use mailroom_core::mail::vacation::compose;
use mailroom_core::store::entities::jobs;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct Payload {
    mailbox_id: Uuid,
    to: String,
    #[serde(default)]
    subject: String,
    message_id: Option<String>,
    #[serde(default)]
    references: Vec<String>,
}

pub(super) async fn run(ctx: &JobContext, job: &jobs::Model) -> Result<(), JobError> {
    let p: Payload = payload(job)?;
    let Some(tenant) = job.tenant_id else {
        return Err(JobError::Permanent(format!(
            "{VACATION_REPLY} without a tenant"
        )));
    };
    let Some(ts) = ctx.sys.tenant_for_job(tenant, VACATION_REPLY).await? else {
        return Ok(()); // the tenant is gone
    };
    let mailbox = match ts.mailbox(p.mailbox_id).await {
        Ok(m) => m,
        Err(mailroom_core::Error::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let v = ts.vacation(p.mailbox_id).await?;
    if !v.active_at(chrono::Utc::now()) {
        return Ok(()); // turned off meanwhile
    }
    let raw = compose(
        &mailbox.display_name,
        &mailbox.address,
        &p.to,
        &v.subject,
        &p.subject,
        &v.body,
        p.message_id.as_deref(),
        &p.references,
    )
    .map_err(|e| JobError::Permanent(format!("composing the auto-reply: {e}")))?;
    match ctx
        .outbound
        .auto_reply(&ts, p.mailbox_id, &mailbox.address, &p.to, &raw)
        .await
    {
        Ok(id) => {
            tracing::info!(outbound = %id, mailbox = %p.mailbox_id, "auto-reply queued");
            Ok(())
        }
        Err(Refused::TryLater(why)) => Err(JobError::Retry(why)),
        Err(other) => {
            tracing::warn!(mailbox = %p.mailbox_id, reason = ?other, "auto-reply not sent");
            Ok(())
        }
    }
}
