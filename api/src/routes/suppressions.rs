//! `/v1/suppressions`: the tenant's addresses that outbound mail skips. An address lands here
//! when a server refused it for good (`5xx`), or by hand; while it is listed, sending to it
//! bounces at once (`550 5.1.1` at RCPT over submission). Removing it lets mail go again.

use crate::body::{Json, Query};
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use mailroom_core::auth::Scope;
use mailroom_core::store::PageRequest;
use mailroom_core::store::entities::suppressions;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A suppressed address.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionResponse {
    /// Id.
    pub id: Uuid,
    /// The address, lower case.
    pub address: String,
    /// Why: the refusal that put it here, or the note given.
    pub reason: String,
    /// `bounce` or `manual`.
    pub source: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl From<suppressions::Model> for SuppressionResponse {
    fn from(s: suppressions::Model) -> Self {
        Self {
            id: s.id,
            address: s.address,
            reason: s.reason,
            source: s.source,
            created_at: s.created_at,
        }
    }
}

/// A page of suppressed addresses.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuppressionList {
    /// The addresses.
    pub items: Vec<SuppressionResponse>,
    /// Pass as `?cursor=` for the next page.
    pub next_cursor: Option<String>,
}

/// An address to suppress.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionRequest {
    /// The address.
    pub address: String,
    /// A note.
    #[serde(default)]
    pub reason: String,
}

/// Paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuppressionQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists the tenant's suppressed addresses.
#[utoipa::path(get, path = "/v1/suppressions", tag = "sending", params(SuppressionQuery), responses(
    (status = 200, body = SuppressionList),
), security(("bearer" = [])))]
#[get("/v1/suppressions")]
pub async fn list(auth: Authed, q: Query<SuppressionQuery>) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let page = auth
        .tenant(Scope::DomainsRead)?
        .list_suppressions(page)
        .await?;
    Ok(HttpResponse::Ok().json(SuppressionList {
        items: page
            .items
            .into_iter()
            .map(SuppressionResponse::from)
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Adds an address: mail to it is no longer sent.
#[utoipa::path(post, path = "/v1/suppressions", tag = "sending", request_body = SuppressionRequest, responses(
    (status = 201, body = SuppressionResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`already_suppressed`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/suppressions")]
pub async fn create(
    auth: Authed,
    body: Json<SuppressionRequest>,
) -> Result<HttpResponse, ApiError> {
    let s = auth
        .tenant(Scope::DomainsWrite)?
        .add_suppression(&body.address, &body.reason)
        .await?;
    Ok(created(
        format!("/v1/suppressions/{}", s.id),
        &SuppressionResponse::from(s),
    ))
}

/// Removes an address: mail to it goes out again.
#[utoipa::path(delete, path = "/v1/suppressions/{id}", tag = "sending",
    params(("id" = Uuid, Path, description = "Suppression id")), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/suppressions/{id}")]
pub async fn remove(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    auth.tenant(Scope::DomainsWrite)?
        .delete_suppression(id.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
