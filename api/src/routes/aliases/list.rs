use super::{AliasList, AliasResponse};
use crate::body::Query;
use crate::error::ApiError;
use crate::extract::Authed;
use crate::routes::mailboxes::list::MailboxQuery;
use actix_web::{HttpResponse, get};
use mailroom_core::auth::Scope;
use mailroom_core::store::PageRequest;

/// Lists the tenant's aliases (`?domain_id=` filters).
#[utoipa::path(get, path = "/v1/aliases", tag = "aliases", params(MailboxQuery), responses(
    (status = 200, body = AliasList),
), security(("bearer" = [])))]
#[get("/v1/aliases")]
pub async fn list(auth: Authed, q: Query<MailboxQuery>) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let page = auth
        .tenant(Scope::MailboxesRead)?
        .list_aliases(q.domain_id, page)
        .await?;
    Ok(HttpResponse::Ok().json(AliasList::from_page(page, AliasResponse::new)))
}
