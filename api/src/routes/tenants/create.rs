use super::{CreatedTenantResponse, Limits, TenantResponse};
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use crate::routes::users::UserResponse;
use actix_web::{HttpResponse, post};
use mailroom_core::auth::Scope;
use mailroom_core::store::NewTenant;
use mailroom_core::validate::{self, Checker};
use serde::Deserialize;
use utoipa::ToSchema;

/// A tenant to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// Display name, 1–200 characters.
    pub name: String,
    /// Unique slug: 2–63 of `a-z`, `0-9`, `-`.
    pub slug: String,
    /// The first owner.
    pub owner: OwnerRequest,
    /// Plan limits (all unlimited when omitted).
    #[serde(default)]
    pub limits: Option<Limits>,
}

/// The first owner of a new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerRequest {
    /// Login email, unique on the platform.
    pub email: String,
    /// At least 10 characters.
    pub password: String,
    /// Display name (defaults to the email).
    #[serde(default)]
    pub name: Option<String>,
}

/// Creates a tenant with its first owner (platform admins).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = CreateTenantRequest, responses(
    (status = 201, body = CreatedTenantResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "slug or email taken", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/tenants")]
pub async fn create(
    auth: Authed,
    body: Json<CreateTenantRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.platform(Scope::TenantsWrite)?;
    let b = body.into_inner();
    let mut c = Checker::new();
    c.push(validate::name("name", &b.name, 200))
        .push(validate::slug("slug", &b.slug));
    c.push(validate::password("owner.password", &b.owner.password));
    if let Some(n) = &b.owner.name {
        c.push(validate::name("owner.name", n, 200));
    }
    let email = c.take(validate::normalize_email("owner.email", &b.owner.email));
    c.finish()?;
    let (tenant, owner) = store
        .create_tenant(NewTenant {
            name: b.name.trim().to_string(),
            slug: b.slug,
            limits: b.limits.unwrap_or_default().into(),
            owner_name: b
                .owner
                .name
                .map(|n| n.trim().to_string())
                .unwrap_or_else(|| email.clone()),
            owner_email: email,
            owner_password: b.owner.password,
        })
        .await?;
    let body = CreatedTenantResponse {
        tenant: TenantResponse::from(tenant),
        owner: UserResponse::from(owner),
    };
    Ok(created(format!("/v1/tenants/{}", body.tenant.id), &body))
}
