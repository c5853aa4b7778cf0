//! `DELETE /v1/mailboxes/{id}/messages/{mid}`.

use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, delete, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Deletes a message as mail clients do: outside Trash it moves to Trash; in Trash it is
/// deleted for good (its bytes leave the quota; IMAP clients see it expunged).
#[utoipa::path(delete, path = "/v1/mailboxes/{id}/messages/{mid}", tag = "messages",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("mid" = Uuid, Path, description = "Message id")),
    responses(
    (status = 204, description = "Moved to Trash, or deleted for good from Trash"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/mailboxes/{id}/messages/{mid}")]
pub async fn delete(
    auth: Authed,
    state: web::Data<AppState>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (mailbox, mid) = path.into_inner();
    let report = auth
        .tenant(Scope::MessagesWrite)?
        .delete_messages(mailbox, &[mid])
        .await?;
    if report.done.is_empty() {
        return Err(mailroom_core::Error::NotFound.into());
    }
    state.pipeline.bus().publish(&report.events).await;
    Ok(HttpResponse::NoContent().finish())
}
