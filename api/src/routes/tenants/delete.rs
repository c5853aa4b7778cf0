use crate::AppState;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, delete, web};
use mailroom_core::auth::Scope;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A deletion in progress.
#[derive(Serialize, ToSchema)]
pub struct TenantDeleted {
    /// The deleted tenant.
    pub id: Uuid,
    /// The job that purges its data.
    pub purge_job_id: Uuid,
}

/// Deletes a tenant (platform admins). The tenant disappears and its credentials stop working
/// at once; a background job then purges its data.
#[utoipa::path(delete, path = "/v1/tenants/{id}", tag = "tenants", params(("id" = Uuid, Path, description = "Tenant id")), responses(
    (status = 202, body = TenantDeleted),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/tenants/{id}")]
pub async fn delete(
    auth: Authed,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.platform(Scope::TenantsWrite)?;
    let id = id.into_inner();
    let delay = chrono::Duration::seconds(state.config.jobs.tenant_purge_delay_secs as i64);
    let job = store.delete_tenant(id, delay).await?;
    Ok(HttpResponse::Accepted().json(TenantDeleted {
        id,
        purge_job_id: job,
    }))
}
