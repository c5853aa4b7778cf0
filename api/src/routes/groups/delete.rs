use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, delete, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Deletes a group; its address is free again.
#[utoipa::path(delete, path = "/v1/groups/{id}", tag = "groups", params(("id" = Uuid, Path, description = "Group id")), responses(
    (status = 204, description = "deleted"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/groups/{id}")]
pub async fn delete(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    auth.tenant(Scope::MailboxesWrite)?
        .delete_group(id.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
