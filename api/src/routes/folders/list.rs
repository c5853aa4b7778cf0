use super::{FolderList, FolderResponse};
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Lists a mailbox's folders by name (all of them: a mailbox holds at most 1,000).
#[utoipa::path(get, path = "/v1/mailboxes/{id}/folders", tag = "folders", params(("id" = Uuid, Path, description = "Mailbox id")), responses(
    (status = 200, body = FolderList),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/folders")]
pub async fn list(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let rows = auth
        .tenant(Scope::MailboxesRead)?
        .list_folders(id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(FolderList {
        items: rows.into_iter().map(FolderResponse::from).collect(),
        next_cursor: None,
    }))
}
