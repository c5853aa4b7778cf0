use super::DomainResponse;
use crate::AppState;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use actix_web::{HttpResponse, post, web};
use mailroom_core::auth::Scope;
use serde::Deserialize;
use utoipa::ToSchema;

/// A domain to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDomainRequest {
    /// The domain, such as `example.com` or `bücher.example` (stored as punycode, lower case,
    /// without a final dot). Public suffixes such as `com` or `co.uk` are refused.
    pub name: String,
}

/// Adds a domain. It starts `pending`: publish the records from `dns-records`, then call
/// `verify`. Its ownership token and DKIM keys (RSA-2048 and Ed25519) are created now.
#[utoipa::path(post, path = "/v1/domains", tag = "domains", request_body = CreateDomainRequest, responses(
    (status = 201, body = DomainResponse),
    (status = 400, description = "`invalid_domain` or `public_suffix`", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`plan_limit_reached`", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`domain_exists` or `domain_owned_by_another_tenant`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/domains")]
pub async fn create(
    auth: Authed,
    state: web::Data<AppState>,
    body: Json<CreateDomainRequest>,
) -> Result<HttpResponse, ApiError> {
    let v = auth
        .tenant(Scope::DomainsWrite)?
        .create_domain(&state.domains, &body.name)
        .await?;
    let body = DomainResponse::new(v, &state.domains.cfg.verification_prefix);
    Ok(created(format!("/v1/domains/{}", body.id), &body))
}
