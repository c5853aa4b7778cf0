use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, post, web};
use mailroom_core::auth::Scope;
use mailroom_core::validate::{self, Checker};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A new mailbox password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    /// At least 10 characters.
    pub password: String,
}

/// Sets a mailbox's password (admins; owners use `/v1/me/password`, which asks for the current
/// one). Every session of the mailbox ends.
#[utoipa::path(post, path = "/v1/mailboxes/{id}/password", tag = "mailboxes", params(("id" = Uuid, Path, description = "Mailbox id")),
    request_body = SetPasswordRequest, responses(
    (status = 204, description = "set"),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/mailboxes/{id}/password")]
pub async fn set_password(
    auth: Authed,
    id: web::Path<Uuid>,
    body: Json<SetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MailboxesWrite)?;
    store.not_confined()?;
    Checker::new()
        .push(validate::password("password", &body.password))
        .finish()?;
    store
        .set_mailbox_password(id.into_inner(), &body.password)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
