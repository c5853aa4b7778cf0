use super::FolderResponse;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Reads a folder.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/folders/{folder_id}", tag = "folders",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("folder_id" = Uuid, Path, description = "Folder id")), responses(
    (status = 200, body = FolderResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/folders/{folder_id}")]
pub async fn get(auth: Authed, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (id, fid) = path.into_inner();
    let f = auth.tenant(Scope::MailboxesRead)?.folder(id, fid).await?;
    Ok(HttpResponse::Ok().json(FolderResponse::from(f)))
}
