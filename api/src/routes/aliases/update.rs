use super::AliasResponse;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, patch, web};
use mailroom_core::auth::Scope;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// New destinations.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAliasRequest {
    /// Replaces the destinations.
    pub destinations: Vec<String>,
}

/// Replaces an alias's destinations.
#[utoipa::path(patch, path = "/v1/aliases/{id}", tag = "aliases", params(("id" = Uuid, Path, description = "Alias id")),
    request_body = UpdateAliasRequest, responses(
    (status = 200, body = AliasResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/aliases/{id}")]
pub async fn update(
    auth: Authed,
    id: web::Path<Uuid>,
    body: Json<UpdateAliasRequest>,
) -> Result<HttpResponse, ApiError> {
    let a = auth
        .tenant(Scope::MailboxesWrite)?
        .update_alias(id.into_inner(), &body.destinations)
        .await?;
    Ok(HttpResponse::Ok().json(AliasResponse::new(a)))
}
