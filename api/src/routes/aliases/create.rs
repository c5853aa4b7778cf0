use super::AliasResponse;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use actix_web::{HttpResponse, post};
use mailroom_core::auth::Scope;
use mailroom_core::validate;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An alias to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAliasRequest {
    /// A verified domain of the tenant.
    pub domain_id: Uuid,
    /// The part before `@`, or `*` for the domain's catch-all. Unique on the domain together
    /// with mailboxes and groups.
    pub local_part: String,
    /// 1–500 addresses: mailboxes, aliases or groups of the tenant (which must exist), or
    /// external addresses.
    pub destinations: Vec<String>,
}

/// Creates an alias.
#[utoipa::path(post, path = "/v1/aliases", tag = "aliases", request_body = CreateAliasRequest, responses(
    (status = 201, body = AliasResponse),
    (status = 400, description = "invalid fields, unknown destinations, `domain_not_verified`", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`address_taken`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/aliases")]
pub async fn create(
    auth: Authed,
    body: Json<CreateAliasRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MailboxesWrite)?;
    let local = validate::local_part("local_part", &body.local_part, true)
        .map_err(|e| mailroom_core::Error::Validation(vec![e]))?;
    let a = store
        .create_alias(body.domain_id, &local, &body.destinations)
        .await?;
    let body = AliasResponse::new(a);
    Ok(created(format!("/v1/aliases/{}", body.id), &body))
}
