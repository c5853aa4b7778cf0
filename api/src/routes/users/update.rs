use super::{TenantRole, UserResponse, UserStatus};
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, patch, web};
use mailroom_core::auth::Scope;
use mailroom_core::store::UserPatch;
use mailroom_core::validate::{self, Checker};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Changes to a user; omitted fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// New role (only owners may grant or take away `owner`).
    #[serde(default)]
    pub role: Option<TenantRole>,
    /// New password; ends the user's sessions.
    #[serde(default)]
    pub password: Option<String>,
    /// `disabled` ends the user's sessions and stops their keys.
    #[serde(default)]
    pub status: Option<UserStatus>,
}

/// Changes a user of the tenant. The last active owner cannot be demoted or disabled.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", params(("id" = Uuid, Path, description = "User id")),
    request_body = UpdateUserRequest, responses(
    (status = 200, body = UserResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "would leave no owner", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/users/{id}")]
pub async fn update(
    auth: Authed,
    id: web::Path<Uuid>,
    body: Json<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::UsersWrite)?;
    let b = body.into_inner();
    let mut c = Checker::new();
    if let Some(n) = &b.name {
        c.push(validate::name("name", n, 200));
    }
    if let Some(p) = &b.password {
        c.push(validate::password("password", p));
    }
    c.finish()?;
    let patch = UserPatch {
        name: b.name.map(|n| n.trim().to_string()),
        role: b.role.map(Into::into),
        password: b.password,
        status: b.status.map(|s| match s {
            UserStatus::Active => "active".into(),
            UserStatus::Disabled => "disabled".into(),
        }),
    };
    let user = store.update_user(id.into_inner(), patch).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(user)))
}
