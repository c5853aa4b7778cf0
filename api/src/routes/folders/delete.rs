use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, delete, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Deletes a folder and its children. INBOX cannot be deleted.
#[utoipa::path(delete, path = "/v1/mailboxes/{id}/folders/{folder_id}", tag = "folders",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("folder_id" = Uuid, Path, description = "Folder id")), responses(
    (status = 204, description = "deleted"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`inbox_protected`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/mailboxes/{id}/folders/{folder_id}")]
pub async fn delete(auth: Authed, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (id, fid) = path.into_inner();
    auth.tenant(Scope::MailboxesWrite)?
        .delete_folder(id, fid)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
