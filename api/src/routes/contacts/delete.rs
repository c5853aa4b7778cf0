use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, delete, web};
use mailroom_core::auth::Scope;
use uuid::Uuid;

/// Deletes a contact.
#[utoipa::path(delete, path = "/v1/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path, description = "Contact id")), responses(
    (status = 204, description = "deleted"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`managed_contact`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/contacts/{id}")]
pub async fn delete(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    auth.tenant(Scope::ContactsWrite)?
        .delete_contact(id.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
