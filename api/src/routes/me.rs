//! `GET /v1/me`.

use crate::AppState;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, post, web};
use mailroom_core::auth::PrincipalKind;
use serde::Deserialize;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// The caller.
#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    /// `user` (a person's access token), `api_key`, or `mailbox` (a mailbox owner's access
    /// token, confined to that mailbox).
    pub kind: &'static str,
    /// The user, the key's creator, or the mailbox.
    pub user_id: Uuid,
    /// That user's email, or the mailbox's address.
    pub email: String,
    /// The mailbox a mailbox owner is confined to.
    pub mailbox_id: Option<Uuid>,
    /// That user's role: `platform_admin`, `owner`, `admin`, `member`, or `mailbox`.
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
            PrincipalKind::Mailbox => "mailbox",
        },
        user_id: p.user_id,
        email: p.email.clone(),
        mailbox_id: p.mailbox(),
        role: p.role.as_str(),
        tenant_id: p.tenant_id().map(|t| t.as_uuid()),
        scopes: p.scopes().iter().map(|s| s.as_str()).collect(),
        api_key: p.api_key.as_ref().map(|(id, name)| MeApiKey {
            id: *id,
            name: name.clone(),
        }),
    }))
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password in use now.
    pub current_password: String,
    /// The new password, at least 10 characters.
    pub new_password: String,
}

/// Changes the caller's own password (users only, not API keys). Every other session of the
/// user ends; the one making the call stays logged in.
#[utoipa::path(post, path = "/v1/me/password", tag = "auth", request_body = ChangePasswordRequest, responses(
    (status = 204, description = "changed"),
    (status = 400, description = "wrong current password or weak new one", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "called with an API key", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "too many wrong current passwords", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/me/password")]
pub async fn change_password(
    auth: Authed,
    state: web::Data<AppState>,
    body: Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    state
        .auth
        .change_password(
            &auth.principal,
            &body.current_password,
            &body.new_password,
            &auth.client,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
