//! `GET /v1/mailboxes/{id}/threads/{tid}`.

use super::ThreadMessages;
use crate::body::Query;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::messages::MessageSummary;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use mailroom_core::store::DatePage;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Which page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ThreadQuery {
    /// Messages per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The messages of one conversation in every folder (each says its `folder_id`), oldest
/// first, as a conversation view shows them.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/threads/{tid}", tag = "messages",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("tid" = Uuid, Path, description = "Thread id"), ThreadQuery),
    responses(
    (status = 200, body = ThreadMessages),
    (status = 400, description = "`validation_failed`: bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/threads/{tid}")]
pub async fn get(
    auth: Authed,
    path: web::Path<(Uuid, Uuid)>,
    q: Query<ThreadQuery>,
) -> Result<HttpResponse, ApiError> {
    let (mailbox, thread) = path.into_inner();
    let page = DatePage::parse(q.limit, q.cursor.as_deref())?;
    let rows = auth
        .tenant(Scope::MessagesRead)?
        .thread_messages(mailbox, thread, page)
        .await?;
    Ok(HttpResponse::Ok().json(ThreadMessages::from_page(rows, MessageSummary::from)))
}
