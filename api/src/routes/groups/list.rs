use super::{GroupList, GroupResponse};
use crate::body::Query;
use crate::error::ApiError;
use crate::extract::Authed;
use crate::routes::mailboxes::list::MailboxQuery;
use actix_web::{HttpResponse, get};
use mailroom_core::auth::Scope;
use mailroom_core::store::PageRequest;

/// Lists the tenant's groups (`?domain_id=` filters).
#[utoipa::path(get, path = "/v1/groups", tag = "groups", params(MailboxQuery), responses(
    (status = 200, body = GroupList),
), security(("bearer" = [])))]
#[get("/v1/groups")]
pub async fn list(auth: Authed, q: Query<MailboxQuery>) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let page = auth
        .tenant(Scope::MailboxesRead)?
        .list_groups(q.domain_id, page)
        .await?;
    Ok(HttpResponse::Ok().json(GroupList::from_page(page, GroupResponse::from)))
}
