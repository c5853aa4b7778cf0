use super::{DomainList, DomainResponse};
use crate::AppState;
use crate::body::Query;
use crate::error::ApiError;
use crate::extract::Authed;
use crate::routes::PageQuery;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;

/// Lists the tenant's domains.
#[utoipa::path(get, path = "/v1/domains", tag = "domains", params(PageQuery), responses(
    (status = 200, body = DomainList),
), security(("bearer" = [])))]
#[get("/v1/domains")]
pub async fn list(
    auth: Authed,
    state: web::Data<AppState>,
    q: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = auth
        .tenant(Scope::DomainsRead)?
        .list_domains(q.page()?)
        .await?;
    let prefix = &state.domains.cfg.verification_prefix;
    Ok(HttpResponse::Ok().json(DomainList::from_page(page, |v| {
        DomainResponse::new(v, prefix)
    })))
}
