//! `GET /v1/mailboxes/{id}/messages`.

use super::{MessageList, MessageSummary};
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use mailroom_core::store::PageRequest;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Which folder, and which page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Folder name (default `INBOX`, any case).
    pub folder: Option<String>,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists the messages of a folder, newest first.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/messages", tag = "messages",
    params(("id" = Uuid, Path, description = "Mailbox id"), MessagesQuery), responses(
    (status = 200, body = MessageList),
    (status = 400, description = "`validation_failed`: no such folder, bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/messages")]
pub async fn list(
    auth: Authed,
    id: web::Path<Uuid>,
    q: web::Query<MessagesQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MessagesRead)?;
    let mailbox = id.into_inner();
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let folder = store
        .folder_by_name(mailbox, q.folder.as_deref().unwrap_or("INBOX"))
        .await?;
    let rows = store.list_messages(mailbox, folder.id, page).await?;
    Ok(HttpResponse::Ok().json(MessageList::from_page(rows, MessageSummary::from)))
}
