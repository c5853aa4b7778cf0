use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, delete, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Revokes an API key; it stops working at once. The key stays listed as `revoked`.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = Uuid, Path, description = "Key id")), responses(
    (status = 204, description = "revoked"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/api-keys/{id}")]
pub async fn delete(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    auth.tenant(Scope::ApiKeysWrite)?
        .revoke_api_key(id.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
