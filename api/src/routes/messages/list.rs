//! `GET /v1/mailboxes/{id}/messages`.

use super::{MessageList, MessageSummary};
use crate::body::Query;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use mailroom_core::error::Error;
use mailroom_core::store::{DatePage, MessageFilter, Sort, TenantStore};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Which folder, which messages, in what order, which page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// Folder name (default `INBOX`, any case). `folder_id` may be given instead.
    pub folder: Option<String>,
    /// Folder id (instead of `folder`).
    pub folder_id: Option<Uuid>,
    /// `true`: only unread messages; `false`: only read ones.
    pub unread: Option<bool>,
    /// `true`: only flagged (starred) messages; `false`: only unflagged ones.
    pub flagged: Option<bool>,
    /// `true`: only messages with attachments; `false`: only those without.
    pub has_attachment: Option<bool>,
    /// `newest` (default) or `oldest` first, by arrival.
    pub sort: Option<String>,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page (with the same filters and sort).
    pub cursor: Option<String>,
}

/// Parses `?sort=`.
pub fn parse_sort(s: Option<&str>) -> Result<Sort, Error> {
    match s.unwrap_or("newest") {
        "newest" => Ok(Sort::Newest),
        "oldest" => Ok(Sort::Oldest),
        _ => Err(Error::invalid("sort", "must be newest or oldest")),
    }
}

/// The folder named by `folder` or `folder_id` (INBOX when neither is given).
pub async fn folder_param(
    store: &TenantStore,
    mailbox: Uuid,
    name: Option<&str>,
    id: Option<Uuid>,
) -> Result<Uuid, Error> {
    match (name, id) {
        (Some(_), Some(_)) => Err(Error::invalid(
            "folder",
            "give folder or folder_id, not both",
        )),
        (_, Some(id)) => Ok(store.folder_of(mailbox, id).await?.id),
        (name, None) => Ok(store
            .folder_by_name(mailbox, name.unwrap_or("INBOX"))
            .await?
            .id),
    }
}

/// Lists the messages of a folder, newest first unless asked otherwise; filters combine.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/messages", tag = "messages",
    params(("id" = Uuid, Path, description = "Mailbox id"), MessagesQuery), responses(
    (status = 200, body = MessageList),
    (status = 400, description = "`validation_failed`: no such folder, bad sort, limit or cursor", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/messages")]
pub async fn list(
    auth: Authed,
    id: web::Path<Uuid>,
    q: Query<MessagesQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MessagesRead)?;
    let mailbox = id.into_inner();
    let page = DatePage::parse(q.limit, q.cursor.as_deref())?;
    let sort = parse_sort(q.sort.as_deref())?;
    let folder = folder_param(&store, mailbox, q.folder.as_deref(), q.folder_id).await?;
    let filter = MessageFilter {
        unread: q.unread,
        flagged: q.flagged,
        has_attachment: q.has_attachment,
    };
    let rows = store
        .message_page(mailbox, folder, &filter, sort, page)
        .await?;
    Ok(HttpResponse::Ok().json(MessageList::from_page(rows, MessageSummary::from)))
}
