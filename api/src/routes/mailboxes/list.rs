use super::{MailboxList, MailboxResponse};
use crate::body::Query;
use crate::error::ApiError;
use crate::extract::Authed;
use actix_web::{HttpResponse, get};
use mailroom_core::auth::Scope;
use mailroom_core::store::PageRequest;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Filters and paging of mailboxes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MailboxQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only mailboxes of this domain.
    pub domain_id: Option<Uuid>,
}

/// Lists the tenant's mailboxes (a mailbox owner sees its own).
#[utoipa::path(get, path = "/v1/mailboxes", tag = "mailboxes", params(MailboxQuery), responses(
    (status = 200, body = MailboxList),
), security(("bearer" = [])))]
#[get("/v1/mailboxes")]
pub async fn list(auth: Authed, q: Query<MailboxQuery>) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let page = auth
        .tenant(Scope::MailboxesRead)?
        .list_mailboxes(q.domain_id, page)
        .await?;
    Ok(HttpResponse::Ok().json(MailboxList::from_page(page, MailboxResponse::from)))
}
