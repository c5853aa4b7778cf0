//! `GET /v1/mailboxes/{id}/messages/{mid}/raw`.

use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// The stored message, byte for byte: our trace header fields (`Received`,
/// `Authentication-Results`) followed by exactly the bytes received (after SMTP
/// dot-unstuffing) or imported. Served as `message/rfc822`, as an attachment.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/messages/{mid}/raw", tag = "messages",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("mid" = Uuid, Path, description = "Message id")),
    responses(
    (status = 200, description = "The message", content_type = "message/rfc822", body = String),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/messages/{mid}/raw")]
pub async fn raw(auth: Authed, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (mailbox, mid) = path.into_inner();
    let bytes = auth
        .tenant(Scope::MessagesRead)?
        .raw_message(mailbox, mid)
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("message/rfc822")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{mid}.eml\""),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(bytes))
}
