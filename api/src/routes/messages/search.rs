//! `GET /v1/mailboxes/{id}/search`.

use super::{MessageList, MessageSummary};
use crate::body::Query as QueryString;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use mailroom_core::mail::search::Query;
use mailroom_core::store::DatePage;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// What to look for, and which page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The query, up to 1,000 characters and 20 terms. Free words must all appear (subject,
    /// addresses, body text or attachment names; whole words, any case); `"quoted words"`;
    /// operators `from:`, `to:` (To or Cc), `subject:` (substring), `has:attachment`,
    /// `is:unread`, `is:read`, `is:flagged`, `in:<folder>`, `after:YYYY-MM-DD`,
    /// `before:YYYY-MM-DD` (arrival date; before is exclusive). Example:
    /// `invoice from:billing@example.com after:2026-01-01 has:attachment`.
    pub q: String,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page (with the same `q`).
    pub cursor: Option<String>,
}

/// Searches a mailbox (every folder unless `in:` says otherwise), newest first.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/search", tag = "messages",
    params(("id" = Uuid, Path, description = "Mailbox id"), SearchQuery), responses(
    (status = 200, body = MessageList),
    (status = 400, description = "`validation_failed`: empty or malformed query (field `q`), no such folder, bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/search")]
pub async fn search(
    auth: Authed,
    id: web::Path<Uuid>,
    q: QueryString<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MessagesRead)?;
    let page = DatePage::parse(q.limit, q.cursor.as_deref())?;
    let query = Query::parse(&q.q)?;
    let rows = store.search(id.into_inner(), &query, page).await?;
    Ok(HttpResponse::Ok().json(MessageList::from_page(rows, MessageSummary::from)))
}
