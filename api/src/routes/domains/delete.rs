use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, delete, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Removes a domain and its DKIM keys. A verified name becomes free for other tenants.
#[utoipa::path(delete, path = "/v1/domains/{id}", tag = "domains", params(("id" = Uuid, Path, description = "Domain id")), responses(
    (status = 204, description = "removed"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/domains/{id}")]
pub async fn delete(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    auth.tenant(Scope::DomainsWrite)?
        .delete_domain(id.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
