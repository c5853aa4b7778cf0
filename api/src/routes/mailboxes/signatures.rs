//! `/v1/mailboxes/{id}/signatures`: several signatures per mailbox, one default. HTML is
//! sanitised (scripts, event handlers, forms, `javascript:` URLs and style sheets removed).

use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use mailroom_core::auth::Scope;
use mailroom_core::store::SignatureInput;
use mailroom_core::store::entities::signatures;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A signature.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignatureResponse {
    /// Id.
    pub id: Uuid,
    /// Its mailbox.
    pub mailbox_id: Uuid,
    /// Name.
    pub name: String,
    /// Plain-text version.
    pub text: String,
    /// HTML version, as sanitised.
    pub html: String,
    /// The mailbox's default signature.
    pub is_default: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<signatures::Model> for SignatureResponse {
    fn from(s: signatures::Model) -> Self {
        Self {
            id: s.id,
            mailbox_id: s.mailbox_id,
            name: s.name,
            text: s.text_body,
            html: s.html_body,
            is_default: s.is_default,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

crate::list_type!(SignatureList, SignatureResponse);

/// A signature's content; on update, omitted fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureRequest {
    /// Name, 1–100 characters (required on create).
    #[serde(default)]
    pub name: Option<String>,
    /// Plain text, at most 10,000 characters.
    #[serde(default)]
    pub text: Option<String>,
    /// HTML, at most 100,000 bytes; sanitised before storage.
    #[serde(default)]
    pub html: Option<String>,
    /// Make it the default (the first signature is the default anyway).
    #[serde(default)]
    pub is_default: Option<bool>,
}

impl From<SignatureRequest> for SignatureInput {
    fn from(r: SignatureRequest) -> Self {
        SignatureInput {
            name: r.name,
            text: r.text,
            html: r.html,
            is_default: r.is_default,
        }
    }
}

/// Lists a mailbox's signatures (at most 20).
#[utoipa::path(get, path = "/v1/mailboxes/{id}/signatures", tag = "signatures", params(("id" = Uuid, Path, description = "Mailbox id")), responses(
    (status = 200, body = SignatureList),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/signatures")]
pub async fn list(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let rows = auth
        .tenant(Scope::MailboxesRead)?
        .list_signatures(id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(SignatureList {
        items: rows.into_iter().map(SignatureResponse::from).collect(),
        next_cursor: None,
    }))
}

/// Reads a signature.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/signatures/{signature_id}", tag = "signatures",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("signature_id" = Uuid, Path, description = "Signature id")), responses(
    (status = 200, body = SignatureResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/signatures/{signature_id}")]
pub async fn get(auth: Authed, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (id, sid) = path.into_inner();
    Ok(HttpResponse::Ok().json(SignatureResponse::from(
        auth.tenant(Scope::MailboxesRead)?
            .signature(id, sid)
            .await?,
    )))
}

/// Creates a signature.
#[utoipa::path(post, path = "/v1/mailboxes/{id}/signatures", tag = "signatures", params(("id" = Uuid, Path, description = "Mailbox id")),
    request_body = SignatureRequest, responses(
    (status = 201, body = SignatureResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`too_many_signatures`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/mailboxes/{id}/signatures")]
pub async fn create(
    auth: Authed,
    id: web::Path<Uuid>,
    body: Json<SignatureRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let s = auth
        .tenant(Scope::MailboxesWrite)?
        .create_signature(id, body.into_inner().into())
        .await?;
    Ok(created(
        format!("/v1/mailboxes/{id}/signatures/{}", s.id),
        &SignatureResponse::from(s),
    ))
}

/// Changes a signature.
#[utoipa::path(patch, path = "/v1/mailboxes/{id}/signatures/{signature_id}", tag = "signatures",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("signature_id" = Uuid, Path, description = "Signature id")),
    request_body = SignatureRequest, responses(
    (status = 200, body = SignatureResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/mailboxes/{id}/signatures/{signature_id}")]
pub async fn update(
    auth: Authed,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<SignatureRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, sid) = path.into_inner();
    let s = auth
        .tenant(Scope::MailboxesWrite)?
        .update_signature(id, sid, body.into_inner().into())
        .await?;
    Ok(HttpResponse::Ok().json(SignatureResponse::from(s)))
}

/// Deletes a signature; identities that used it have none.
#[utoipa::path(delete, path = "/v1/mailboxes/{id}/signatures/{signature_id}", tag = "signatures",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("signature_id" = Uuid, Path, description = "Signature id")), responses(
    (status = 204, description = "deleted"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/mailboxes/{id}/signatures/{signature_id}")]
pub async fn remove(auth: Authed, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (id, sid) = path.into_inner();
    auth.tenant(Scope::MailboxesWrite)?
        .delete_signature(id, sid)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
