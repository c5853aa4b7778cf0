use super::DomainResponse;
use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Reads a domain: its status, readiness (as of the last check) and DKIM keys.
#[utoipa::path(get, path = "/v1/domains/{id}", tag = "domains", params(("id" = Uuid, Path, description = "Domain id")), responses(
    (status = 200, body = DomainResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/domains/{id}")]
pub async fn get(
    auth: Authed,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let v = auth
        .tenant(Scope::DomainsRead)?
        .domain(id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(DomainResponse::new(
        v,
        &state.domains.cfg.verification_prefix,
    )))
}
