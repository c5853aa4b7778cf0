use crate::body::Query;
use crate::error::ApiError;
use crate::extract::Authed;
use actix_web::{HttpResponse, get};
use mailroom_core::auth::Scope;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The address to resolve.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResolveQuery {
    /// A recipient address on one of the tenant's domains.
    pub address: String,
}

/// A mailbox the address delivers to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResolvedMailbox {
    /// Mailbox id.
    pub id: Uuid,
    /// Its address.
    pub address: String,
}

/// Why the address is refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResolveRejection {
    /// `not_our_domain`, `unknown_recipient`, `mailbox_suspended`, `expansion_limit` or
    /// `invalid_address`.
    pub code: String,
    /// For people.
    pub detail: String,
}

/// What an address delivers to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResolveResponse {
    /// The address as normalised.
    pub address: String,
    /// Mailboxes that receive it (each once).
    pub mailboxes: Vec<ResolvedMailbox>,
    /// External addresses it is forwarded to.
    pub external: Vec<String>,
    /// Set when the SMTP server would refuse the address.
    pub rejected: Option<ResolveRejection>,
    /// How the answer was reached: exact address, sub-address, alias, group, domain alias,
    /// catch-all, loops cut.
    pub trace: Vec<String>,
}

/// Resolves a recipient address the way the SMTP server does: exact mailbox, alias or group;
/// sub-address (`user+tag@`); domain alias; catch-all; unknown. Nested aliases and groups are
/// expanded (loops cut, at most 10 levels and 1,000 recipients).
#[utoipa::path(get, path = "/v1/routing/resolve", tag = "aliases", params(ResolveQuery), responses(
    (status = 200, body = ResolveResponse),
), security(("bearer" = [])))]
#[get("/v1/routing/resolve")]
pub async fn resolve(auth: Authed, q: Query<ResolveQuery>) -> Result<HttpResponse, ApiError> {
    let r = auth
        .tenant(Scope::MailboxesRead)?
        .resolve_address(&q.address)
        .await?;
    Ok(HttpResponse::Ok().json(ResolveResponse {
        address: r.address,
        mailboxes: r
            .mailboxes
            .into_iter()
            .map(|m| ResolvedMailbox {
                id: m.mailbox_id,
                address: m.address,
            })
            .collect(),
        external: r.external,
        rejected: r.rejected.map(|x| ResolveRejection {
            code: x.code.into(),
            detail: x.detail,
        }),
        trace: r.trace,
    }))
}
