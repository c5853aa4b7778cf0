use super::MailboxResponse;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::tenants::present;
use actix_web::{HttpResponse, patch, web};
use mailroom_core::auth::Scope;
use mailroom_core::store::MailboxPatch;
use mailroom_core::validate::{self, Checker};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Changes to a mailbox; omitted fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMailboxRequest {
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `keep`, `move_to_trash` or `delete`.
    #[serde(default)]
    pub pop3_after_download: Option<String>,
    /// Quota in bytes, null for unlimited (admins only).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub quota_bytes: Option<Option<i64>>,
    /// `active` or `suspended` (admins only; suspending ends the mailbox's sessions).
    #[serde(default)]
    pub status: Option<String>,
    /// The mailbox's own spam Junk threshold (-100 to 1000; the owner may set it); null: the
    /// organisation's (`/v1/spam/settings`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>)]
    pub spam_junk_threshold: Option<Option<f64>>,
}

/// Changes a mailbox. Its owner may change the display name, the POP3 behaviour and its spam
/// Junk threshold.
#[utoipa::path(patch, path = "/v1/mailboxes/{id}", tag = "mailboxes", params(("id" = Uuid, Path, description = "Mailbox id")),
    request_body = UpdateMailboxRequest, responses(
    (status = 200, body = MailboxResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`admin_required`, `plan_limit_reached`", body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/mailboxes/{id}")]
pub async fn update(
    auth: Authed,
    id: web::Path<Uuid>,
    body: Json<UpdateMailboxRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MailboxesWrite)?;
    let b = body.into_inner();
    if let Some(n) = &b.display_name {
        Checker::new()
            .push(validate::name("display_name", n, 200))
            .finish()?;
    }
    let patch = MailboxPatch {
        display_name: b.display_name.map(|n| n.trim().to_string()),
        pop3_after_download: b.pop3_after_download,
        quota_bytes: b.quota_bytes,
        status: b.status,
        spam_junk_threshold: b.spam_junk_threshold,
    };
    let m = store.update_mailbox(id.into_inner(), patch).await?;
    Ok(HttpResponse::Ok().json(MailboxResponse::from(m)))
}
