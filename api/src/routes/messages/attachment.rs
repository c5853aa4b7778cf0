//! `GET /v1/mailboxes/{id}/messages/{mid}/attachments/{n}`.

use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use mailroom_core::Error;
use mailroom_core::auth::Scope;
use mailroom_core::mail::render::{content_disposition, decode_part};
use mailroom_core::mail::summary::Summary;
use uuid::Uuid;

/// Downloads attachment `n` (its `index` in the message's `attachments`), decoded, with its
/// content type and a safe `Content-Disposition: attachment` carrying its file name. It is
/// served so that a browser never runs it: `X-Content-Type-Options: nosniff` and a sandboxing
/// `Content-Security-Policy`.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/messages/{mid}/attachments/{n}", tag = "messages",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("mid" = Uuid, Path, description = "Message id"),
        ("n" = usize, Path, description = "Attachment index")),
    responses(
    (status = 200, description = "The decoded attachment", content_type = "application/octet-stream", body = Vec<u8>),
    (status = 404, description = "No such message or attachment", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/messages/{mid}/attachments/{n}")]
pub async fn attachment(
    auth: Authed,
    path: web::Path<(Uuid, Uuid, usize)>,
) -> Result<HttpResponse, ApiError> {
    let (mailbox, mid, n) = path.into_inner();
    let (m, raw) = auth
        .tenant(Scope::MessagesRead)?
        .message_with_raw(mailbox, mid)
        .await?;
    let s: Summary = serde_json::from_str(&m.summary).unwrap_or_default();
    let a = s.attachments.get(n).ok_or(Error::NotFound)?;
    let part = s.part(&a.part_id).ok_or(Error::NotFound)?;
    // Summary offsets are into the received bytes; the stored message starts with our prefix.
    let base = m.trace_prefix.len();
    let (start, end) = (base + part.header_start as usize, base + part.end as usize);
    let name = a.name.clone();
    let decoded = web::block(move || decode_part(&raw, start, end))
        .await
        .map_err(|e| Error::Internal(format!("decode task: {e}")))?
        .ok_or(Error::NotFound)?;
    let filename = name.or(decoded.filename);
    Ok(HttpResponse::Ok()
        .content_type(decoded.content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(filename.as_deref()),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .body(decoded.data))
}
