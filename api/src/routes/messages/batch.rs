//! `POST /v1/mailboxes/{id}/messages/batch`.

use crate::AppState;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, post, web};
use mailroom_core::auth::Scope;
use mailroom_core::error::Error;
use mailroom_core::mail::flags;
use mailroom_core::store::{Change, MAX_BATCH};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// One action on many messages.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Message ids, 1–1,000.
    pub ids: Vec<Uuid>,
    /// `mark_read`, `mark_unread`, `flag`, `unflag`, `add_keywords`, `remove_keywords`,
    /// `move` (with `folder_id`) or `delete` (to Trash; for good from Trash).
    pub action: String,
    /// The folder, for `move`.
    pub folder_id: Option<Uuid>,
    /// The keywords, for `add_keywords` and `remove_keywords`.
    #[serde(default)]
    pub keywords: Vec<String>,
}

/// What a batch did. It is one transaction: all of it happened, or (with an error) none.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// Messages found and handled (including those already as asked).
    pub done: Vec<Uuid>,
    /// Ids not found in this mailbox.
    pub not_found: Vec<Uuid>,
    /// Messages deleted for good (`delete` of messages in Trash).
    pub deleted: Vec<Uuid>,
}

fn change_for(req: &BatchRequest) -> Result<Option<Change>, Error> {
    let flag = |set: bool, bit: i32| Change {
        set_flags: if set { bit } else { 0 },
        clear_flags: if set { 0 } else { bit },
        ..Default::default()
    };
    let needs_keywords = || {
        if req.keywords.is_empty() {
            Err(Error::invalid("keywords", "this action needs keywords"))
        } else {
            Ok(())
        }
    };
    Ok(Some(match req.action.as_str() {
        "mark_read" => flag(true, flags::SEEN),
        "mark_unread" => flag(false, flags::SEEN),
        "flag" => flag(true, flags::FLAGGED),
        "unflag" => flag(false, flags::FLAGGED),
        "add_keywords" => {
            needs_keywords()?;
            Change {
                add_keywords: req.keywords.clone(),
                ..Default::default()
            }
        }
        "remove_keywords" => {
            needs_keywords()?;
            Change {
                remove_keywords: req.keywords.clone(),
                ..Default::default()
            }
        }
        "move" => Change {
            move_to: Some(
                req.folder_id
                    .ok_or_else(|| Error::invalid("folder_id", "move needs folder_id"))?,
            ),
            ..Default::default()
        },
        "delete" => return Ok(None),
        _ => {
            return Err(Error::invalid(
                "action",
                "must be mark_read, mark_unread, flag, unflag, add_keywords, remove_keywords, move or delete",
            ));
        }
    }))
}

/// Applies one action to many messages of a mailbox in one transaction.
#[utoipa::path(post, path = "/v1/mailboxes/{id}/messages/batch", tag = "messages",
    params(("id" = Uuid, Path, description = "Mailbox id")),
    request_body = BatchRequest, responses(
    (status = 200, body = BatchResponse),
    (status = 400, description = "`validation_failed`: no ids or more than 1,000, unknown action, a missing folder_id or keywords, a bad keyword", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/mailboxes/{id}/messages/batch")]
pub async fn batch(
    auth: Authed,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MessagesWrite)?;
    if body.ids.is_empty() || body.ids.len() > MAX_BATCH {
        return Err(Error::invalid("ids", format!("give 1 to {MAX_BATCH} message ids")).into());
    }
    let mailbox = id.into_inner();
    let report = match change_for(&body)? {
        Some(change) => store.change_messages(mailbox, &body.ids, &change).await?,
        None => store.delete_messages(mailbox, &body.ids).await?,
    };
    state.pipeline.bus().publish(&report.events).await;
    Ok(HttpResponse::Ok().json(BatchResponse {
        done: report.done,
        not_found: report.not_found,
        deleted: report.expunged,
    }))
}
