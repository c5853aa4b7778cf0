//! `GET /v1/me`.

use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get};
use mailroom_core::auth::PrincipalKind;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// The caller.
#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    /// `user` (access token) or `api_key`.
    pub kind: &'static str,
    /// The user, or the key's creator.
    pub user_id: Uuid,
    /// That user's email.
    pub email: String,
    /// That user's role: `platform_admin`, `owner`, `admin` or `member`.
    pub role: &'static str,
    /// The tenant, null for platform admins.
    pub tenant_id: Option<Uuid>,
    /// The scopes in effect.
    pub scopes: Vec<&'static str>,
    /// The API key, when called with one.
    pub api_key: Option<MeApiKey>,
}

/// The key a request was made with.
#[derive(Serialize, ToSchema)]
pub struct MeApiKey {
    /// Key id.
    pub id: Uuid,
    /// Key name.
    pub name: String,
}

/// Who am I: the principal behind the credentials and what it may do.
#[utoipa::path(get, path = "/v1/me", tag = "auth", responses(
    (status = 200, body = MeResponse),
    (status = 401, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/me")]
pub async fn me(auth: Authed) -> Result<HttpResponse, ApiError> {
    let p = &auth.principal;
    Ok(HttpResponse::Ok().json(MeResponse {
        kind: match p.kind {
            PrincipalKind::User => "user",
            PrincipalKind::ApiKey => "api_key",
        },
        user_id: p.user_id,
        email: p.email.clone(),
        role: p.role.as_str(),
        tenant_id: p.tenant_id().map(|t| t.as_uuid()),
        scopes: p.scopes().iter().map(|s| s.as_str()).collect(),
        api_key: p.api_key.as_ref().map(|(id, name)| MeApiKey {
            id: *id,
            name: name.clone(),
        }),
    }))
}
