use super::{TenantResponse, TenantStatus, present};
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, patch, web};
use mailroom_core::auth::Scope;
use mailroom_core::store::TenantPatch;
use mailroom_core::validate::{self, Checker};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Changes to a tenant; omitted fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantRequest {
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// `suspended` stops every login and API call of the tenant at once.
    #[serde(default)]
    pub status: Option<TenantStatus>,
    /// Limits to change; a limit set to null becomes unlimited, an omitted one stays.
    #[serde(default)]
    pub limits: Option<LimitsPatch>,
}

/// Limit changes.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsPatch {
    /// New `max_domains` (null: unlimited).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub max_domains: Option<Option<i64>>,
    /// New `max_mailboxes` (null: unlimited).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub max_mailboxes: Option<Option<i64>>,
    /// New `max_storage_bytes` (null: unlimited).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub max_storage_bytes: Option<Option<i64>>,
    /// New `max_messages_per_day` (null: unlimited).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub max_messages_per_day: Option<Option<i64>>,
}

/// Renames, suspends or reactivates a tenant, or changes its limits (platform admins).
#[utoipa::path(patch, path = "/v1/tenants/{id}", tag = "tenants", params(("id" = Uuid, Path, description = "Tenant id")),
    request_body = UpdateTenantRequest, responses(
    (status = 200, body = TenantResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/tenants/{id}")]
pub async fn update(
    auth: Authed,
    id: web::Path<Uuid>,
    body: Json<UpdateTenantRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.platform(Scope::TenantsWrite)?;
    let b = body.into_inner();
    if let Some(n) = &b.name {
        Checker::new()
            .push(validate::name("name", n, 200))
            .finish()?;
    }
    let l = b.limits.unwrap_or_default();
    let patch = TenantPatch {
        name: b.name.map(|n| n.trim().to_string()),
        status: b.status.map(|s| match s {
            TenantStatus::Active => "active".to_string(),
            TenantStatus::Suspended => "suspended".to_string(),
        }),
        max_domains: l.max_domains,
        max_mailboxes: l.max_mailboxes,
        max_storage_bytes: l.max_storage_bytes,
        max_messages_per_day: l.max_messages_per_day,
    };
    let tenant = store.update_tenant(id.into_inner(), patch).await?;
    Ok(HttpResponse::Ok().json(TenantResponse::from(tenant)))
}
