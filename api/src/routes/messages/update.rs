//! `PATCH /v1/mailboxes/{id}/messages/{mid}`.

use super::MessageSummary;
use crate::AppState;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, patch, web};
use mailroom_core::auth::Scope;
use mailroom_core::mail::flags;
use mailroom_core::store::Change;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Changes to a message; fields left out stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagePatch {
    /// Read (IMAP `\Seen`).
    pub seen: Option<bool>,
    /// Flagged / starred (`\Flagged`).
    pub flagged: Option<bool>,
    /// Replied to (`\Answered`).
    pub answered: Option<bool>,
    /// A draft (`\Draft`).
    pub draft: Option<bool>,
    /// IMAP keywords to add (atoms such as `$Important`, `Work`); a message has at most 50.
    #[serde(default)]
    pub add_keywords: Vec<String>,
    /// Keywords to remove.
    #[serde(default)]
    pub remove_keywords: Vec<String>,
    /// Move the message to this folder (it gets a new UID there, as IMAP MOVE gives).
    pub folder_id: Option<Uuid>,
}

impl MessagePatch {
    /// The store change this patch asks for.
    pub fn change(&self) -> Change {
        let mut c = Change {
            add_keywords: self.add_keywords.clone(),
            remove_keywords: self.remove_keywords.clone(),
            move_to: self.folder_id,
            ..Default::default()
        };
        for (v, bit) in [
            (self.seen, flags::SEEN),
            (self.flagged, flags::FLAGGED),
            (self.answered, flags::ANSWERED),
            (self.draft, flags::DRAFT),
        ] {
            match v {
                Some(true) => c.set_flags |= bit,
                Some(false) => c.clear_flags |= bit,
                None => {}
            }
        }
        c
    }
}

/// Sets flags and keywords and/or moves a message to another folder. Every change bumps the
/// message's MODSEQ and its folder's HIGHESTMODSEQ and notifies IMAP IDLE listeners.
#[utoipa::path(patch, path = "/v1/mailboxes/{id}/messages/{mid}", tag = "messages",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("mid" = Uuid, Path, description = "Message id")),
    request_body = MessagePatch, responses(
    (status = 200, description = "The message after the change", body = MessageSummary),
    (status = 400, description = "`validation_failed`: a bad keyword, too many keywords, no such folder", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/mailboxes/{id}/messages/{mid}")]
pub async fn update(
    auth: Authed,
    state: web::Data<AppState>,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<MessagePatch>,
) -> Result<HttpResponse, ApiError> {
    let (mailbox, mid) = path.into_inner();
    let store = auth.tenant(Scope::MessagesWrite)?;
    let report = store
        .change_messages(mailbox, &[mid], &body.change())
        .await?;
    if report.done.is_empty() {
        return Err(mailroom_core::Error::NotFound.into());
    }
    state.pipeline.bus().publish(&report.events).await;
    let row = store.message_row(mailbox, mid).await?;
    Ok(HttpResponse::Ok().json(MessageSummary::from(row)))
}
