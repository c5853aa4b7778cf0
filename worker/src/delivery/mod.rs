//! `outbound.deliver`: delivers a sent message to its due recipients at one domain, then
//! records each outcome, with the next try of the deferred ones, in one transaction.
//!
//! - A domain hosted on this deployment (any tenant) is delivered through the inbound
//!   pipeline as a new delivery (its routing, rules, quota and suspension apply), never by
//!   writing rows directly.
//! - Any other domain goes out over SMTP ([`remote`]): to its MX hosts in preference order (or
//!   the configured smarthost), with opportunistic STARTTLS, one transaction for the domain's
//!   recipients.
//! - 4xx replies and connection failures defer a recipient: it is tried again after
//!   `retry_base_secs · 2^(attempt-1)` (at most `retry_max_secs`), until the message expires;
//!   then, and on 5xx replies, it bounces: the sender gets a delivery status notification
//!   (RFC 3464) in its INBOX.
//!
//! At least once: a worker that stops after a remote server accepted the message but before
//! the outcome was recorded sends it again on the next try, as every MTA does; local copies
//! are not duplicated (the pipeline's duplicate window).

pub mod remote;

use remote::status_of;

use crate::jobs::{Finished, JobContext, JobError, payload};
use crate::smtp::recipients::{Recipients, StoreRecipients, Verdict};
use chrono::{DateTime, Utc};
use mailroom_core::jobs::{OUTBOUND_DELIVER, backoff};
use mailroom_core::mail::ingest::{Refusal, SmtpEnvelope};
use mailroom_core::mail::outbound::{Failure, Original, bounce, delay_notice};
use mailroom_core::store::entities::kinds::DeliveryStatus;
use mailroom_core::store::entities::{jobs, outbound, outbound_recipients};
use mailroom_core::store::{Attempt, TenantStore};
use serde::Deserialize;
use std::time::Duration;
use uuid::Uuid;

#[derive(Deserialize)]
struct Payload {
    outbound_id: Uuid,
    domain: String,
}

/// What became of one recipient in one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted (or stored, for a local mailbox).
    Delivered {
        /// The reply code (250), when a server answered.
        code: Option<i32>,
        /// The reply.
        reply: String,
    },
    /// Try again later.
    Deferred {
        /// The reply code, when a server answered.
        code: Option<i32>,
        /// The reply, or what went wrong.
        reply: String,
    },
    /// Refused for good.
    Failed {
        /// The reply code, when a server answered.
        code: Option<i32>,
        /// The enhanced status code for the report (`5.1.1`).
        status: String,
        /// The reply, or what went wrong.
        reply: String,
        /// The server that refused it.
        remote: Option<String>,
    },
}

pub(crate) async fn run(ctx: &JobContext, job: &jobs::Model) -> Result<Finished, JobError> {
    let p: Payload = payload(job)?;
    let Some(tenant) = job.tenant_id else {
        return Err(JobError::Permanent(format!(
            "{OUTBOUND_DELIVER} without a tenant"
        )));
    };
    let Some(ts) = ctx.sys.tenant_for_job(tenant, OUTBOUND_DELIVER).await? else {
        return Ok(Finished::Done); // the tenant was deleted, and its queue with it
    };
    let now = Utc::now();
    let Some((mut msg, due)) = ts.outbound_due(p.outbound_id, &p.domain, now).await? else {
        // Gone, or nothing due: an earlier run recorded these recipients already.
        return Ok(Finished::Done);
    };
    let Some(data) = msg.data.take() else {
        return Ok(Finished::Done);
    };
    // One attempt ends within three quarters of the job's lease, so no other worker takes
    // the job (and delivers again) while it runs; what it could not finish is deferred.
    let limit = ctx.lease * 3 / 4;
    let attempt_all = async {
        // At most `max_connections_per_domain` deliveries to one domain at once.
        let _slot = ctx.outbound.domain_slot(&p.domain).await;
        deliver(ctx, &msg, &p.domain, &due, &data).await
    };
    let outcomes = match tokio::time::timeout(limit, attempt_all).await {
        Ok(o) => o,
        Err(_) => {
            let why = format!("the attempt took longer than {} s", limit.as_secs());
            vec![deferred(None, &why); due.len()]
        }
    };
    let cfg = ctx.outbound.config();
    let mut attempts = Vec::with_capacity(due.len());
    let mut failures = Vec::new();
    let mut late = Vec::new();
    for (r, outcome) in due.iter().zip(outcomes) {
        match outcome {
            Outcome::Delivered { code, reply } => {
                attempts.push(attempt(r, DeliveryStatus::Delivered, code, reply, now));
            }
            Outcome::Deferred { code, reply } => {
                let wait = backoff(
                    r.attempts + 1,
                    Duration::from_secs(cfg.retry_base_secs),
                    Duration::from_secs(cfg.retry_max_secs),
                );
                let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
                if next > msg.expires_at {
                    // Out of time: it bounces.
                    let reply = format!(
                        "gave up after {} attempts over {} hours; last: {reply}",
                        r.attempts + 1,
                        (now - msg.created_at).num_hours()
                    );
                    failures.push(failure(r, "4.4.7".into(), &reply, None));
                    attempts.push(attempt(r, DeliveryStatus::Bounced, code, reply, now));
                    continue;
                }
                let mut a = attempt(r, DeliveryStatus::Deferred, code, reply, next);
                let notice = cfg.delay_notice_secs;
                if notice > 0
                    && !r.delay_notified
                    && (now - msg.created_at).num_seconds() >= notice as i64
                {
                    a.delay_notified = true;
                    late.push(failure(r, status_of(&a.reply, code), &a.reply, None));
                }
                attempts.push(a);
            }
            Outcome::Failed {
                code,
                status,
                reply,
                remote,
            } => {
                failures.push(failure(r, status, &reply, remote));
                attempts.push(attempt(r, DeliveryStatus::Bounced, code, reply, now));
            }
        }
    }
    // The notices first: a stop between them and the record sends them again rather than
    // never.
    let original = Original {
        bytes: &data,
        subject: &msg.subject,
    };
    // A message with the null reverse path (an auto-reply) is answered by nothing.
    let reported = !msg.sender.is_empty();
    if reported && !failures.is_empty() {
        let report = bounce(ctx.outbound.hostname(), &msg.sender, &original, &failures);
        notify_sender(ctx, &ts, &msg, &report).await?;
    }
    if reported && !late.is_empty() {
        let report = delay_notice(ctx.outbound.hostname(), &msg.sender, &original, &late);
        notify_sender(ctx, &ts, &msg, &report).await?;
    }
    let held = job.locked_by.as_deref().map(|w| (job.id, w));
    ts.record_outbound(msg.id, &p.domain, &attempts, held)
        .await?;
    for a in &attempts {
        tracing::info!(
            outbound = %msg.id,
            status = ?a.status,
            code = a.code,
            reply = %a.reply,
            "delivery attempt"
        );
    }
    Ok(if held.is_some() {
        Finished::Recorded
    } else {
        Finished::Done
    })
}

fn failure(
    r: &outbound_recipients::Model,
    status: String,
    reply: &str,
    remote: Option<String>,
) -> Failure {
    Failure {
        recipient: r.recipient.clone(),
        status,
        diagnostic: reply.to_string(),
        remote,
    }
}

fn attempt(
    r: &outbound_recipients::Model,
    status: DeliveryStatus,
    code: Option<i32>,
    reply: String,
    next: DateTime<Utc>,
) -> Attempt {
    Attempt {
        id: r.id,
        status,
        code,
        reply,
        next_attempt_at: next,
        delay_notified: false,
    }
}

/// Delivers to the due recipients of one domain: locally when the domain is hosted here,
/// over SMTP otherwise. One outcome per recipient, in order.
async fn deliver(
    ctx: &JobContext,
    msg: &outbound::Model,
    domain: &str,
    due: &[outbound_recipients::Model],
    data: &[u8],
) -> Vec<Outcome> {
    let mut directory = StoreRecipients::new(ctx.sys.clone());
    let mut verdicts = Vec::with_capacity(due.len());
    for r in due {
        verdicts.push(directory.check(&r.recipient).await);
    }
    if verdicts.iter().all(|v| *v == Verdict::NotOurs) {
        let rcpts: Vec<String> = due.iter().map(|r| r.recipient.clone()).collect();
        return remote::deliver(ctx, &msg.sender, domain, &rcpts, data).await;
    }
    let accepted: Vec<String> = due
        .iter()
        .zip(&verdicts)
        .filter(|(_, v)| **v == Verdict::Accept)
        .map(|(r, _)| r.recipient.clone())
        .collect();
    let stored = if accepted.is_empty() {
        None
    } else {
        let env = SmtpEnvelope {
            peer: std::net::IpAddr::from([127, 0, 0, 1]),
            helo: ctx.outbound.hostname().to_string(),
            mail_from: msg.sender.clone(),
            rcpts: accepted,
            mailboxes: Vec::new(),
            guards: Vec::new(),
            tls: true,
            session_id: format!("outbound-{}", msg.id.simple()),
            submitted_by: Some(msg.sender.clone()),
        };
        Some(ctx.pipeline.deliver_smtp(&env, data.to_vec()).await)
    };
    verdicts
        .iter()
        .map(|v| match v {
            Verdict::Accept => match &stored {
                Some(Ok(_)) => Outcome::Delivered {
                    code: None,
                    reply: "stored on this server".into(),
                },
                Some(Err(Refusal::Reject(why))) => failed(None, "5.7.1", why),
                Some(Err(Refusal::TryLater(why) | Refusal::StorageFull(why))) => {
                    deferred(None, why)
                }
                None => deferred(None, "not tried"),
            },
            Verdict::Unknown => failed(Some(550), "5.1.1", "no such recipient here"),
            Verdict::Suspended => failed(Some(550), "5.2.1", "mailbox disabled"),
            Verdict::NotOurs => failed(Some(550), "5.1.2", "not a domain of this server"),
            Verdict::Suppressed => failed(None, "5.1.1", mailroom_core::store::SUPPRESSED),
            Verdict::BadAddress => failed(None, "5.1.3", "bad recipient address"),
            // As the MX answers it (451): the copy for the outside would otherwise be lost.
            Verdict::CannotForward => deferred(
                Some(451),
                "this address forwards outside the platform, which is not available yet",
            ),
            Verdict::OverQuota => deferred(Some(452), "mailbox full"),
            Verdict::TryLater => deferred(Some(451), "temporary failure looking up the recipient"),
            // Local delivery is never greylisted; should it be, it is a wait like any other.
            Verdict::Greylisted(_) => deferred(Some(451), "greylisted"),
        })
        .collect()
}

fn failed(code: Option<i32>, status: &str, why: &str) -> Outcome {
    Outcome::Failed {
        code,
        status: status.into(),
        reply: why.into(),
        remote: None,
    }
}

fn deferred(code: Option<i32>, why: &str) -> Outcome {
    Outcome::Deferred {
        code,
        reply: why.into(),
    }
}

/// Puts a delivery status notification into the sending mailbox's INBOX,
/// through the inbound pipeline's import path (its stages run; the mailbox is named).
async fn notify_sender(
    ctx: &JobContext,
    ts: &TenantStore,
    msg: &outbound::Model,
    report: &[u8],
) -> Result<(), JobError> {
    let inbox = match ts.folder_by_name(msg.mailbox_id, "INBOX").await {
        Ok(f) => f,
        // The sending mailbox is gone: nobody to tell.
        Err(mailroom_core::Error::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    ctx.pipeline
        .import(ts, msg.mailbox_id, inbox.id, report, 0, None)
        .await?;
    Ok(())
}
