use super::{ApiKeyList, ApiKeyResponse};
use crate::body::Query;
use crate::error::ApiError;
use crate::extract::Authed;
use crate::routes::PageQuery;
use actix_web::{HttpResponse, get};
use mailroom_core::auth::Scope;

/// Lists API keys (admins: all of the tenant's; members: their own). No secrets.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", params(PageQuery), responses(
    (status = 200, body = ApiKeyList),
), security(("bearer" = [])))]
#[get("/v1/api-keys")]
pub async fn list(auth: Authed, q: Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let page = auth
        .tenant(Scope::ApiKeysRead)?
        .list_api_keys(q.page()?)
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyList::from_page(page, ApiKeyResponse::from)))
}
