use super::{TenantRole, UserResponse};
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use actix_web::{HttpResponse, post};
use mailroom_core::auth::Scope;
use mailroom_core::store::NewUser;
use mailroom_core::validate::{self, Checker};
use serde::Deserialize;
use utoipa::ToSchema;

/// A user to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Login email, unique on the platform.
    pub email: String,
    /// At least 10 characters.
    pub password: String,
    /// Role in the tenant (only owners may create owners).
    pub role: TenantRole,
    /// Display name (defaults to the email).
    #[serde(default)]
    pub name: Option<String>,
}

/// Adds a user to the tenant.
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = CreateUserRequest, responses(
    (status = 201, body = UserResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "email taken", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/users")]
pub async fn create(auth: Authed, body: Json<CreateUserRequest>) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::UsersWrite)?;
    let b = body.into_inner();
    let mut c = Checker::new();
    c.push(validate::password("password", &b.password));
    if let Some(n) = &b.name {
        c.push(validate::name("name", n, 200));
    }
    let email = c.take(validate::normalize_email("email", &b.email));
    c.finish()?;
    let user = store
        .create_user(NewUser {
            name: b
                .name
                .map(|n| n.trim().to_string())
                .unwrap_or_else(|| email.clone()),
            email,
            password: b.password,
            role: b.role.into(),
        })
        .await?;
    Ok(created(
        format!("/v1/users/{}", user.id),
        &UserResponse::from(user),
    ))
}
