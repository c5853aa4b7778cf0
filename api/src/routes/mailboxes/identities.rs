//! `/v1/mailboxes/{id}/identities`: the addresses a mailbox may send as (RFC 8621 Identity):
//! its own, and aliases, groups or sub-addresses of the tenant that deliver to it.

use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use crate::routes::tenants::present;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use mailroom_core::auth::Scope;
use mailroom_core::store::IdentityInput;
use mailroom_core::store::entities::identities;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An identity.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityResponse {
    /// Id.
    pub id: Uuid,
    /// Its mailbox.
    pub mailbox_id: Uuid,
    /// The address mail is sent from.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Reply-To addresses.
    pub reply_to: Vec<String>,
    /// Addresses always sent a blind copy.
    pub bcc: Vec<String>,
    /// Signature used by default.
    pub signature_id: Option<Uuid>,
    /// False for the mailbox's own address.
    pub may_delete: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl IdentityResponse {
    fn new(i: identities::Model, may_delete: bool) -> Self {
        Self {
            id: i.id,
            mailbox_id: i.mailbox_id,
            email: i.email,
            name: i.name,
            reply_to: serde_json::from_str(&i.reply_to).unwrap_or_default(),
            bcc: serde_json::from_str(&i.bcc).unwrap_or_default(),
            signature_id: i.signature_id,
            may_delete,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

crate::list_type!(IdentityList, IdentityResponse);

/// An identity's content; on update, omitted fields stay as they are and `email` is fixed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityRequest {
    /// The address to send as (create only).
    #[serde(default)]
    pub email: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Reply-To addresses (at most 20).
    #[serde(default)]
    pub reply_to: Option<Vec<String>>,
    /// Blind-copy addresses (at most 20).
    #[serde(default)]
    pub bcc: Option<Vec<String>>,
    /// A signature of the mailbox; null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub signature_id: Option<Option<Uuid>>,
}

impl From<IdentityRequest> for IdentityInput {
    fn from(r: IdentityRequest) -> Self {
        IdentityInput {
            email: r.email,
            name: r.name,
            reply_to: r.reply_to,
            bcc: r.bcc,
            signature_id: r.signature_id,
        }
    }
}

/// Lists a mailbox's identities, its own address first.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/identities", tag = "signatures", params(("id" = Uuid, Path, description = "Mailbox id")), responses(
    (status = 200, body = IdentityList),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/identities")]
pub async fn list(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let rows = auth
        .tenant(Scope::MailboxesRead)?
        .list_identities(id.into_inner())
        .await?;
    let items = rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| IdentityResponse::new(r, i > 0))
        .collect();
    Ok(HttpResponse::Ok().json(IdentityList {
        items,
        next_cursor: None,
    }))
}

/// Adds an address the mailbox may send as: an alias, group or sub-address of the tenant that
/// delivers to it (not a catch-all).
#[utoipa::path(post, path = "/v1/mailboxes/{id}/identities", tag = "signatures", params(("id" = Uuid, Path, description = "Mailbox id")),
    request_body = IdentityRequest, responses(
    (status = 201, body = IdentityResponse),
    (status = 400, description = "`not_allowed_sender` and other invalid fields", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/mailboxes/{id}/identities")]
pub async fn create(
    auth: Authed,
    id: web::Path<Uuid>,
    body: Json<IdentityRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let i = auth
        .tenant(Scope::MailboxesWrite)?
        .create_identity(id, body.into_inner().into())
        .await?;
    Ok(created(
        format!("/v1/mailboxes/{id}/identities/{}", i.id),
        &IdentityResponse::new(i, true),
    ))
}

/// Changes an identity's name, reply-to, bcc or signature.
#[utoipa::path(patch, path = "/v1/mailboxes/{id}/identities/{identity_id}", tag = "signatures",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("identity_id" = Uuid, Path, description = "Identity id")),
    request_body = IdentityRequest, responses(
    (status = 200, body = IdentityResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/mailboxes/{id}/identities/{identity_id}")]
pub async fn update(
    auth: Authed,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<IdentityRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, iid) = path.into_inner();
    let b = body.into_inner();
    if b.email.is_some() {
        return Err(mailroom_core::Error::invalid(
            "email",
            "an identity's address cannot change; add a new identity",
        )
        .into());
    }
    let store = auth.tenant(Scope::MailboxesWrite)?;
    let own = store.mailbox(id).await?.address;
    let i = store.update_identity(id, iid, b.into()).await?;
    let may_delete = i.email != own;
    Ok(HttpResponse::Ok().json(IdentityResponse::new(i, may_delete)))
}

/// Removes an identity (not the mailbox's own address).
#[utoipa::path(delete, path = "/v1/mailboxes/{id}/identities/{identity_id}", tag = "signatures",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("identity_id" = Uuid, Path, description = "Identity id")), responses(
    (status = 204, description = "removed"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`own_identity`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/mailboxes/{id}/identities/{identity_id}")]
pub async fn remove(auth: Authed, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (id, iid) = path.into_inner();
    auth.tenant(Scope::MailboxesWrite)?
        .delete_identity(id, iid)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
