use super::{ContactRequest, ContactResponse};
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, patch, web};
use mailroom_core::auth::Scope;
use mailroom_core::store::card_of;
use uuid::Uuid;

/// Changes a contact; omitted fields stay as they are.
#[utoipa::path(patch, path = "/v1/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path, description = "Contact id")),
    request_body = ContactRequest, responses(
    (status = 200, body = ContactResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`managed_contact`: a mailbox's directory entry", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/contacts/{id}")]
pub async fn update(
    auth: Authed,
    id: web::Path<Uuid>,
    body: Json<ContactRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::ContactsWrite)?;
    let id = id.into_inner();
    let card = body.into_inner().apply(card_of(&store.contact(id).await?));
    Ok(HttpResponse::Ok().json(ContactResponse::from(store.update_contact(id, card).await?)))
}
