use super::{TenantList, TenantResponse};
use crate::body::Query;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::PageQuery;
use actix_web::{HttpResponse, get};
use mailroom_core::auth::Scope;

/// Lists tenants (platform admins).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", params(PageQuery), responses(
    (status = 200, body = TenantList),
    (status = 403, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/tenants")]
pub async fn list(auth: Authed, q: Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let store = auth.platform(Scope::TenantsRead)?;
    let page = store.list_tenants(q.page()?).await?;
    Ok(HttpResponse::Ok().json(TenantList::from_page(page, TenantResponse::from)))
}
