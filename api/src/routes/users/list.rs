use super::{UserList, UserResponse};
use crate::body::Query;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::PageQuery;
use actix_web::{HttpResponse, get};
use mailroom_core::auth::Scope;

/// Lists the tenant's users.
#[utoipa::path(get, path = "/v1/users", tag = "users", params(PageQuery), responses(
    (status = 200, body = UserList),
    (status = 403, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/users")]
pub async fn list(auth: Authed, q: Query<PageQuery>) -> Result<HttpResponse, ApiError> {
    let page = auth.tenant(Scope::UsersRead)?.list_users(q.page()?).await?;
    Ok(HttpResponse::Ok().json(UserList::from_page(page, UserResponse::from)))
}
