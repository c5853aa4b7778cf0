use super::MailboxResponse;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Reads a mailbox.
#[utoipa::path(get, path = "/v1/mailboxes/{id}", tag = "mailboxes", params(("id" = Uuid, Path, description = "Mailbox id")), responses(
    (status = 200, body = MailboxResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}")]
pub async fn get(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let m = auth
        .tenant(Scope::MailboxesRead)?
        .mailbox(id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(MailboxResponse::from(m)))
}
