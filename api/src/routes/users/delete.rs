use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, delete, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Deletes a user of the tenant with their sessions and API keys.
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "users", params(("id" = Uuid, Path, description = "User id")), responses(
    (status = 204, description = "deleted"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "would leave no owner", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/users/{id}")]
pub async fn delete(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    auth.tenant(Scope::UsersWrite)?
        .delete_user(id.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
