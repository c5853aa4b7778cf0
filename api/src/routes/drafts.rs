//! `/v1/mailboxes/{id}/drafts`: messages being written, kept in the Drafts folder (flagged
//! `\Draft`, so IMAP clients show and edit them too). Saving again replaces the draft (a new
//! message; the old one is expunged, as IMAP clients do); sending queues it through the same
//! outbound path as `POST /send` and removes it from Drafts.

use super::sending::{
    OutboundResponse, SendRequest, idempotency_key, prepare, queue, read_request,
};
use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpRequest, HttpResponse, post, put, web};
use mailroom_core::auth::Scope;
use mailroom_core::mail::summary::{Addr, summarize_with_text};
use mailroom_core::mail::{compose, flags, outbound};
use mailroom_core::store::TenantStore;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A stored draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftResponse {
    /// The draft's message id (changes each time it is saved).
    pub id: Uuid,
    /// Its folder (Drafts).
    pub folder_id: Uuid,
    /// Its IMAP UID there.
    pub uid: i64,
}

/// Stores `raw` in Drafts, flagged `\Draft` and `\Seen`, and tells IMAP sessions.
async fn store_draft(
    state: &AppState,
    ts: &TenantStore,
    mailbox: Uuid,
    raw: Vec<u8>,
) -> Result<DraftResponse, ApiError> {
    let (summary, text) = summarize_with_text(&raw);
    let msg = outbound::own_message(raw, summary, &text);
    let copy = outbound::own_copy(mailbox, "drafts", flags::DRAFT | flags::SEEN);
    let (stored, events) = ts.import_message(mailbox, &msg, copy).await?;
    state.pipeline.bus().publish(&events).await;
    Ok(DraftResponse {
        id: stored.message_id,
        folder_id: stored.folder_id,
        uid: stored.uid,
    })
}

/// A draft of the mailbox (a message flagged `\Draft`).
async fn draft_of(ts: &TenantStore, mailbox: Uuid, id: Uuid) -> Result<Vec<u8>, ApiError> {
    let row = ts.message(mailbox, id).await?;
    if row.flags & flags::DRAFT == 0 {
        return Err(mailroom_core::Error::NotFound.into());
    }
    Ok(ts.raw_of(&row).await?)
}

/// Removes a draft for good (it was replaced or sent).
async fn drop_draft(state: &AppState, ts: &TenantStore, mailbox: Uuid, id: Uuid) {
    match ts.expunge_messages(mailbox, &[id]).await {
        Ok(report) => state.pipeline.bus().publish(&report.events).await,
        Err(e) => tracing::warn!(error = %e, draft = %id, "a draft was not removed"),
    }
}

/// Saves a new draft from the same fields as `POST /send` (none is required but a valid
/// identity; Bcc is kept in the draft).
#[utoipa::path(post, path = "/v1/mailboxes/{id}/drafts", tag = "sending",
    params(("id" = Uuid, Path, description = "Mailbox id")),
    request_body = SendRequest, responses(
    (status = 201, body = DraftResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`quota_exceeded`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/mailboxes/{id}/drafts")]
pub async fn create(
    auth: Authed,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let ts = auth.tenant(Scope::MessagesWrite)?;
    let mailbox = id.into_inner();
    let r = read_request(&state, body).await?;
    let p = prepare(&state, &ts, mailbox, &r, true).await?;
    let d = store_draft(&state, &ts, mailbox, p.raw).await?;
    Ok(crate::routes::created(
        format!("/v1/mailboxes/{mailbox}/messages/{}", d.id),
        &d,
    ))
}

/// Replaces a draft with new content: a new message in Drafts; the old one is removed.
#[utoipa::path(put, path = "/v1/mailboxes/{id}/drafts/{draft_id}", tag = "sending",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("draft_id" = Uuid, Path, description = "The draft's message id")),
    request_body = SendRequest, responses(
    (status = 200, body = DraftResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such draft", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[put("/v1/mailboxes/{id}/drafts/{draft_id}")]
pub async fn update(
    auth: Authed,
    state: web::Data<AppState>,
    path: web::Path<(Uuid, Uuid)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let ts = auth.tenant(Scope::MessagesWrite)?;
    let (mailbox, draft) = path.into_inner();
    draft_of(&ts, mailbox, draft).await?;
    let r = read_request(&state, body).await?;
    let p = prepare(&state, &ts, mailbox, &r, true).await?;
    let d = store_draft(&state, &ts, mailbox, p.raw).await?;
    drop_draft(&state, &ts, mailbox, draft).await;
    Ok(HttpResponse::Ok().json(d))
}

fn addresses(list: &[Addr]) -> Vec<String> {
    list.iter().filter_map(|a| a.address.clone()).collect()
}

/// Sends a draft as it is (From, To, Cc and Bcc from its header; Bcc is not sent), then
/// removes it from Drafts. `Idempotency-Key` is honoured as for `/send`.
#[utoipa::path(post, path = "/v1/mailboxes/{id}/drafts/{draft_id}/send", tag = "sending",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("draft_id" = Uuid, Path, description = "The draft's message id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Sends at most once per key and mailbox")),
    responses(
    (status = 202, body = OutboundResponse),
    (status = 400, description = "`validation_failed` (no recipient), `not_allowed_sender`, `domain_not_verified`", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such draft", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/mailboxes/{id}/drafts/{draft_id}/send")]
pub async fn send(
    auth: Authed,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let ts = auth.tenant(Scope::MessagesWrite)?;
    let (mailbox, draft) = path.into_inner();
    let key = idempotency_key(&req)?;
    let raw = draft_of(&ts, mailbox, draft).await?;
    let (summary, _) = summarize_with_text(&raw);
    let mut recipients: Vec<String> = Vec::new();
    for a in addresses(&summary.to)
        .into_iter()
        .chain(addresses(&summary.cc))
        .chain(addresses(&summary.bcc))
    {
        if !recipients.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
            recipients.push(a);
        }
    }
    if recipients.is_empty() {
        return Err(mailroom_core::Error::invalid(
            "to",
            "the draft has no recipient (to, cc or bcc)",
        )
        .into());
    }
    let sender = addresses(&summary.from)
        .into_iter()
        .next()
        .unwrap_or_default();
    let raw = compose::without_bcc(&raw);
    let answer = queue(
        &state,
        &ts,
        mailbox,
        &sender,
        &recipients,
        &raw,
        key.as_deref(),
    )
    .await?;
    drop_draft(&state, &ts, mailbox, draft).await;
    Ok(answer)
}
