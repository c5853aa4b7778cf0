//! `POST /v1/mailboxes/{id}/import`: one message (`message/rfc822`) or an mbox file
//! (`application/mbox`) into a folder, through the same ingest pipeline as SMTP.

use crate::AppState;
use crate::body::Query;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::{DateTime, Utc};
use mailroom_core::auth::Scope;
use mailroom_core::mail::{flags, mbox};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Largest upload (an mbox of many messages).
pub const MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;
/// Messages one upload may hold.
pub const MAX_IMPORT_MESSAGES: usize = 50_000;

/// Where the messages go.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Folder name (default `INBOX`).
    pub folder: Option<String>,
    /// Mark the messages read (default false).
    pub seen: Option<bool>,
    /// IMAP INTERNALDATE to give them; default: each message's Date header, else now.
    pub received_at: Option<DateTime<Utc>>,
}

/// One message that could not be imported.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportFailure {
    /// Its position in the upload, from 1.
    pub index: usize,
    /// Why.
    pub message: String,
}

/// What an import did. Messages are stored one by one: those listed in `messages` are stored,
/// those in `errors` are not, and none is stored in part.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageImportResponse {
    /// How many were stored.
    pub imported: usize,
    /// The stored messages, in upload order.
    pub messages: Vec<ImportedMessage>,
    /// The ones refused.
    pub errors: Vec<ImportFailure>,
}

/// A stored message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedMessage {
    /// Message id.
    pub id: Uuid,
    /// IMAP UID in the folder.
    pub uid: i64,
}

/// Imports mail: `message/rfc822` (one message) or `application/mbox` (many; `From ` lines
/// separate them, `>From ` is unquoted). Each message goes through the ingest pipeline (spam
/// and rules stages, threading, quota) and is never deduplicated: importing the same bytes
/// twice gives two messages. At most 256 MiB and 50,000 messages per upload; each message at
/// most `smtp.max_message_bytes`.
#[utoipa::path(post, path = "/v1/mailboxes/{id}/import", tag = "messages",
    params(("id" = Uuid, Path, description = "Mailbox id"), ImportQuery),
    request_body(content = String, content_type = "message/rfc822"), responses(
    (status = 200, body = MessageImportResponse),
    (status = 400, description = "`validation_failed`: no such folder; `empty_import`", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`quota_exceeded`: the mailbox has no room for the upload", body = Problem, content_type = "application/problem+json"),
    (status = 413, body = Problem, content_type = "application/problem+json"),
    (status = 415, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/mailboxes/{id}/import")]
pub async fn import(
    auth: Authed,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    q: Query<ImportQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MessagesWrite)?;
    let mailbox_id = id.into_inner();
    let mailbox = store.mailbox(mailbox_id).await?;
    let folder = store
        .folder_by_name(mailbox_id, q.folder.as_deref().unwrap_or("INBOX"))
        .await?;
    let essence = crate::routes::media_type(&req);
    let is_mbox = match essence.as_str() {
        "message/rfc822" => false,
        "application/mbox" => true,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send message/rfc822 (one message) or application/mbox",
            ));
        }
    };
    let bytes = crate::routes::read_body(body, MAX_IMPORT_BYTES, "an import").await?;
    let messages = if is_mbox {
        mbox::split(&bytes)
    } else {
        vec![bytes]
    };
    if messages.is_empty() || messages.iter().all(|m| m.is_empty()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty_import",
            "the upload holds no message",
        ));
    }
    if messages.len() > MAX_IMPORT_MESSAGES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("an import holds at most {MAX_IMPORT_MESSAGES} messages"),
        ));
    }
    let total: i64 = messages.iter().map(|m| m.len() as i64).sum();
    if let Some(q) = mailbox.quota_bytes
        && mailbox.used_bytes + total > q
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "quota_exceeded",
            format!(
                "the mailbox holds {} of {q} bytes; the upload needs {total} more",
                mailbox.used_bytes
            ),
        ));
    }
    let max = state.config.smtp.max_message_bytes;
    let seen = if q.seen.unwrap_or(false) {
        flags::SEEN
    } else {
        0
    };
    let mut out = MessageImportResponse {
        imported: 0,
        messages: Vec::new(),
        errors: Vec::new(),
    };
    for (i, raw) in messages.iter().enumerate() {
        if raw.is_empty() || raw.len() > max {
            out.errors.push(ImportFailure {
                index: i + 1,
                message: if raw.is_empty() {
                    "empty message".into()
                } else {
                    format!("larger than {max} bytes")
                },
            });
            continue;
        }
        let stored = state
            .pipeline
            .import(&store, mailbox_id, folder.id, raw, seen, q.received_at)
            .await?;
        out.imported += 1;
        out.messages.push(ImportedMessage {
            id: stored.message_id,
            uid: stored.uid,
        });
    }
    Ok(HttpResponse::Ok().json(out))
}
