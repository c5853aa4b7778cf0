use super::AliasResponse;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Reads an alias.
#[utoipa::path(get, path = "/v1/aliases/{id}", tag = "aliases", params(("id" = Uuid, Path, description = "Alias id")), responses(
    (status = 200, body = AliasResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/aliases/{id}")]
pub async fn get(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(AliasResponse::new(
        auth.tenant(Scope::MailboxesRead)?
            .alias(id.into_inner())
            .await?,
    )))
}
