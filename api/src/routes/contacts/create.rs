use super::{BookQuery, ContactRequest, ContactResponse};
use crate::body::{Json, Query};
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use actix_web::{HttpResponse, post};
use mailroom_core::auth::Scope;

/// Adds a contact to a book.
#[utoipa::path(post, path = "/v1/contacts", tag = "contacts", params(BookQuery), request_body = ContactRequest, responses(
    (status = 201, body = ContactResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "no such mailbox", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`book_full`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/contacts")]
pub async fn create(
    auth: Authed,
    book: Query<BookQuery>,
    body: Json<ContactRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::ContactsWrite)?;
    let card = body.into_inner().apply(Default::default());
    let c = store.create_contact(book.book(&auth)?, card).await?;
    Ok(created(
        format!("/v1/contacts/{}", c.id),
        &ContactResponse::from(c),
    ))
}
