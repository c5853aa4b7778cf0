use super::{BookQuery, ContactList, ContactResponse};
use crate::body::Query;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get};
use mailroom_core::auth::Scope;
use mailroom_core::store::PageRequest;
use serde::Deserialize;
use utoipa::IntoParams;

/// Search and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Case-insensitive search over names, emails and organisation.
    pub q: Option<String>,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists (and searches) an address book.
#[utoipa::path(get, path = "/v1/contacts", tag = "contacts", params(BookQuery, ContactQuery), responses(
    (status = 200, body = ContactList),
    (status = 404, description = "no such mailbox", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/contacts")]
pub async fn list(
    auth: Authed,
    book: Query<BookQuery>,
    q: Query<ContactQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::ContactsRead)?;
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let page = store
        .list_contacts(book.book(&auth)?, q.q.as_deref(), page)
        .await?;
    Ok(HttpResponse::Ok().json(ContactList::from_page(page, ContactResponse::from)))
}
