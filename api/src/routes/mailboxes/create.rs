use super::MailboxResponse;
use crate::AppState;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use crate::routes::tenants::present;
use actix_web::{HttpResponse, post, web};
use mailroom_core::auth::Scope;
use mailroom_core::store::{NewMailbox, Password};
use mailroom_core::validate::{self, Checker};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A mailbox to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMailboxRequest {
    /// A verified domain of the tenant.
    pub domain_id: Uuid,
    /// The part before `@` (case-insensitive, stored lower case; no `+`, which separates
    /// sub-addresses). Unique on the domain together with aliases and groups.
    pub local_part: String,
    /// Display name (defaults to the local part).
    #[serde(default)]
    pub display_name: Option<String>,
    /// At least 10 characters.
    pub password: String,
    /// Quota in bytes; omitted: the default (10 GiB unless configured), null: unlimited.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub quota_bytes: Option<Option<i64>>,
    /// `keep` (default), `move_to_trash` or `delete`.
    #[serde(default)]
    pub pop3_after_download: Option<String>,
}

/// Creates a mailbox, with the folders INBOX, Sent, Drafts, Junk, Trash and Archive.
#[utoipa::path(post, path = "/v1/mailboxes", tag = "mailboxes", request_body = CreateMailboxRequest, responses(
    (status = 201, body = MailboxResponse),
    (status = 400, description = "invalid fields, `domain_not_verified`", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`plan_limit_reached`", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`address_taken`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/mailboxes")]
pub async fn create(
    auth: Authed,
    state: web::Data<AppState>,
    body: Json<CreateMailboxRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MailboxesWrite)?;
    let b = body.into_inner();
    let mut c = Checker::new();
    let local = c.take(validate::local_part("local_part", &b.local_part, false));
    c.push(validate::password("password", &b.password));
    if let Some(n) = &b.display_name {
        c.push(validate::name("display_name", n, 200));
    }
    c.finish()?;
    let m = store
        .create_mailbox(
            NewMailbox {
                domain_id: b.domain_id,
                display_name: b
                    .display_name
                    .map(|n| n.trim().to_string())
                    .unwrap_or_else(|| local.clone()),
                local_part: local,
                password: Password::Clear(b.password),
                quota_bytes: b.quota_bytes,
                pop3_after_download: b.pop3_after_download,
            },
            state.config.mailboxes.default_quota_bytes,
        )
        .await?;
    Ok(created(
        format!("/v1/mailboxes/{}", m.id),
        &MailboxResponse::from(m),
    ))
}
