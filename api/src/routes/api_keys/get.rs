use super::ApiKeyResponse;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Reads an API key (no secret).
#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = Uuid, Path, description = "Key id")), responses(
    (status = 200, body = ApiKeyResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/api-keys/{id}")]
pub async fn get(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let key = auth
        .tenant(Scope::ApiKeysRead)?
        .api_key(id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyResponse::from(key)))
}
