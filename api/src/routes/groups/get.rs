use super::GroupResponse;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Reads a group with its members.
#[utoipa::path(get, path = "/v1/groups/{id}", tag = "groups", params(("id" = Uuid, Path, description = "Group id")), responses(
    (status = 200, body = GroupResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/groups/{id}")]
pub async fn get(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(GroupResponse::from(
        auth.tenant(Scope::MailboxesRead)?
            .group(id.into_inner())
            .await?,
    )))
}
