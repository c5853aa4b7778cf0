use super::TenantResponse;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Reads a tenant: any tenant for platform admins, only one's own for tenant credentials with
/// `tenants:read` (any other id is 404).
#[utoipa::path(get, path = "/v1/tenants/{id}", tag = "tenants", params(("id" = Uuid, Path, description = "Tenant id")), responses(
    (status = 200, body = TenantResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/tenants/{id}")]
pub async fn get(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let tenant = if auth.principal.is_platform_admin() {
        auth.platform(Scope::TenantsRead)?.tenant(id).await?
    } else {
        let store = auth.tenant(Scope::TenantsRead)?;
        if store.tenant_id().as_uuid() != id {
            return Err(mailroom_core::Error::NotFound.into());
        }
        store.tenant().await?
    };
    Ok(HttpResponse::Ok().json(TenantResponse::from(tenant)))
}
