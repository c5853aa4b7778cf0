use super::DomainResponse;
use crate::AppState;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, patch, web};
use mailroom_core::auth::Scope;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Changes to a domain.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDomainRequest {
    /// DMARC policy to suggest: `none`, `quarantine` or `reject`.
    #[serde(default)]
    pub dmarc_policy: Option<String>,
    /// Make this (verified) domain an alias of another verified domain of the tenant: every
    /// address here delivers as the same address there. Null ends the alias.
    #[serde(default, deserialize_with = "crate::routes::tenants::present")]
    #[schema(value_type = Option<Uuid>)]
    pub alias_of: Option<Option<Uuid>>,
}

/// Changes a domain's settings: the DMARC policy suggested, or whether it is a domain alias.
#[utoipa::path(patch, path = "/v1/domains/{id}", tag = "domains", params(("id" = Uuid, Path, description = "Domain id")),
    request_body = UpdateDomainRequest, responses(
    (status = 200, body = DomainResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/domains/{id}")]
pub async fn update(
    auth: Authed,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<UpdateDomainRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::DomainsWrite)?;
    let (id, b) = (id.into_inner(), body.into_inner());
    if let Some(target) = b.alias_of {
        store.set_domain_alias(id, target).await?;
    }
    let v = store.update_domain(id, b.dmarc_policy).await?;
    Ok(HttpResponse::Ok().json(DomainResponse::new(
        v,
        &state.domains.cfg.verification_prefix,
    )))
}
