//! `/v1/mailboxes/{id}/vacation`: the mailbox's auto-reply (RFC 3834). It answers each sender
//! once per `interval_days` between `starts_at` and `ends_at`, never mailing lists, bulk or
//! automatic mail, spam, or mail that does not name the mailbox in To or Cc.

use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, put, web};
use chrono::{DateTime, Utc};
use mailroom_core::auth::Scope;
use mailroom_core::store::{Vacation, VacationPatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A mailbox's auto-reply.
#[derive(Debug, Serialize, ToSchema)]
pub struct VacationResponse {
    /// It answers (between the dates, when set).
    pub enabled: bool,
    /// The reply's subject; empty: `Auto: <the original subject>`.
    pub subject: String,
    /// The reply's text.
    pub body: String,
    /// It answers from then on; null: at once.
    pub starts_at: Option<DateTime<Utc>>,
    /// It stops answering then; null: until turned off.
    pub ends_at: Option<DateTime<Utc>>,
    /// Days before the same sender is answered again (1–30, default 7).
    pub interval_days: u32,
    /// It answers now.
    pub active: bool,
    /// When it was last changed; null: never set.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<Vacation> for VacationResponse {
    fn from(v: Vacation) -> Self {
        Self {
            active: v.active_at(Utc::now()),
            enabled: v.enabled,
            subject: v.subject,
            body: v.body,
            starts_at: v.starts_at,
            ends_at: v.ends_at,
            interval_days: v.interval_days,
            updated_at: v.updated_at,
        }
    }
}

/// A change to the auto-reply; fields left out stay as they are. Changing it answers
/// everyone again (the record of whom it answered is cleared).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VacationRequest {
    /// Turn it on (`body` must then be set) or off.
    pub enabled: Option<bool>,
    /// One line, at most 200 characters; empty: `Auto: <the original subject>`.
    pub subject: Option<String>,
    /// The text, 1–10,000 characters.
    pub body: Option<String>,
    /// From when; null: at once.
    #[serde(default, deserialize_with = "crate::routes::tenants::present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub starts_at: Option<Option<DateTime<Utc>>>,
    /// Until when; null: until turned off.
    #[serde(default, deserialize_with = "crate::routes::tenants::present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub ends_at: Option<Option<DateTime<Utc>>>,
    /// 1–30.
    pub interval_days: Option<u32>,
}

/// The mailbox's auto-reply.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/vacation", tag = "mailboxes", params(("id" = Uuid, Path)), responses(
    (status = 200, body = VacationResponse),
    (status = 404, description = "no such mailbox", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/vacation")]
pub async fn get(auth: Authed, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let v = auth
        .tenant(Scope::MailboxesRead)?
        .vacation(path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(VacationResponse::from(v)))
}

/// Sets the mailbox's auto-reply (its owner may, with the mailbox's own login).
#[utoipa::path(put, path = "/v1/mailboxes/{id}/vacation", tag = "mailboxes", params(("id" = Uuid, Path)), request_body = VacationRequest, responses(
    (status = 200, body = VacationResponse),
    (status = 400, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "no such mailbox", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[put("/v1/mailboxes/{id}/vacation")]
pub async fn set(
    auth: Authed,
    path: web::Path<Uuid>,
    body: Json<VacationRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let v = auth
        .tenant(Scope::MailboxesWrite)?
        .set_vacation(
            path.into_inner(),
            VacationPatch {
                enabled: b.enabled,
                subject: b.subject,
                body: b.body,
                starts_at: b.starts_at,
                ends_at: b.ends_at,
                interval_days: b.interval_days,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(VacationResponse::from(v)))
}
