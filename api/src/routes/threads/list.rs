//! `GET /v1/mailboxes/{id}/threads`.

use super::{ThreadItem, ThreadList};
use crate::body::Query;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::messages::list::folder_param;
use actix_web::{HttpResponse, get, web};
use mailroom_core::auth::Scope;
use mailroom_core::store::DatePage;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

/// Which folder, which page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ThreadsQuery {
    /// Folder name (default `INBOX`, any case). `folder_id` may be given instead.
    pub folder: Option<String>,
    /// Folder id (instead of `folder`).
    pub folder_id: Option<Uuid>,
    /// Threads per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page. A page may hold fewer threads than asked for and
    /// still have a cursor (a folder with very long conversations): follow it.
    pub cursor: Option<String>,
}

/// Lists the conversations that have a message in a folder, the one whose latest message
/// there arrived last first. Counts and participants cover the whole conversation.
#[utoipa::path(get, path = "/v1/mailboxes/{id}/threads", tag = "messages",
    params(("id" = Uuid, Path, description = "Mailbox id"), ThreadsQuery), responses(
    (status = 200, body = ThreadList),
    (status = 400, description = "`validation_failed`: no such folder, bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/threads")]
pub async fn list(
    auth: Authed,
    id: web::Path<Uuid>,
    q: Query<ThreadsQuery>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MessagesRead)?;
    let mailbox = id.into_inner();
    let page = DatePage::parse(q.limit, q.cursor.as_deref())?;
    let folder = folder_param(&store, mailbox, q.folder.as_deref(), q.folder_id).await?;
    let rows = store.thread_page(mailbox, folder, page).await?;
    Ok(HttpResponse::Ok().json(ThreadList::from_page(rows, ThreadItem::from)))
}
