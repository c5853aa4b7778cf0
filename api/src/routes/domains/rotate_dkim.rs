use super::DomainResponse;
use crate::AppState;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, post, web};
use mailroom_core::auth::Scope;
use mailroom_core::domains::dkim::Algorithm;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Which key to rotate.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateDkimRequest {
    /// `rsa-sha256` (default) or `ed25519-sha256`.
    #[serde(default)]
    pub algorithm: Option<String>,
}

/// Starts a DKIM key rotation: a new key under a new selector, `pending` until its record is
/// seen in DNS (by `verify` or the periodic re-check); then it signs, and the old key keeps
/// signing for the grace period before it is retired.
#[utoipa::path(post, path = "/v1/domains/{id}/dkim/rotate", tag = "domains", params(("id" = Uuid, Path, description = "Domain id")),
    request_body(content = Option<RotateDkimRequest>), responses(
    (status = 200, body = DomainResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`rotation_in_progress`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/domains/{id}/dkim/rotate")]
pub async fn rotate_dkim(
    auth: Authed,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<RotateDkimRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::DomainsWrite)?;
    let name = body
        .into_inner()
        .algorithm
        .unwrap_or_else(|| "rsa-sha256".into());
    let Some(algorithm) = Algorithm::parse(&name) else {
        return Err(mailroom_core::Error::invalid(
            "algorithm",
            "must be rsa-sha256 or ed25519-sha256",
        )
        .into());
    };
    let v = store
        .rotate_dkim(&state.domains, id.into_inner(), algorithm)
        .await?;
    Ok(HttpResponse::Ok().json(DomainResponse::new(
        v,
        &state.domains.cfg.verification_prefix,
    )))
}
