use crate::body::Query;
use crate::error::ApiError;
use crate::extract::Authed;
use actix_web::{HttpResponse, get};
use chrono::{DateTime, Utc};
use mailroom_core::auth::Scope;
use mailroom_core::store::PageRequest;
use mailroom_core::store::entities::events;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Filters and paging of events.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this kind, such as `domain.dns_error`.
    pub kind: Option<String>,
}

/// Something that happened.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    /// Event id.
    pub id: Uuid,
    /// `domain.verified`, `domain.dns_error`, `domain.dns_recovered`, `domain.dkim_rotated`,
    /// `message.spam_signal` (a message moved into Junk: payload `verdict` `spam`; out of it,
    /// not into Trash: `ham`; with `mailbox_id`).
    pub kind: String,
    /// The kind of object.
    pub object_type: String,
    /// The object.
    pub object_id: Option<Uuid>,
    /// Details.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<events::Model> for EventResponse {
    fn from(e: events::Model) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            object_type: e.object_type,
            object_id: e.object_id,
            payload: serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null),
            created_at: e.created_at,
        }
    }
}

crate::list_type!(EventList, EventResponse);

/// The tenant's events, newest first.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventQuery), responses(
    (status = 200, body = EventList),
), security(("bearer" = [])))]
#[get("/v1/events")]
pub async fn list(auth: Authed, q: Query<EventQuery>) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::EventsRead)?;
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let page = store.list_events(q.kind.as_deref(), page).await?;
    Ok(HttpResponse::Ok().json(EventList::from_page(page, EventResponse::from)))
}
