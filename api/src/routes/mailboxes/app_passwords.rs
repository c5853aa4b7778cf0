//! `/v1/mailboxes/{id}/app-passwords`: per-device passwords for IMAP, POP3, SMTP and login.

use crate::AppState;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use mailroom_core::auth::Scope;
use mailroom_core::store::entities::app_passwords;
use mailroom_core::validate::{self, Checker};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// An app password (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct AppPasswordResponse {
    /// Id.
    pub id: Uuid,
    /// The device or app it is for.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Last successful use.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<app_passwords::Model> for AppPasswordResponse {
    fn from(a: app_passwords::Model) -> Self {
        Self {
            id: a.id,
            name: a.name,
            created_at: a.created_at,
            last_used_at: a.last_used_at,
            revoked_at: a.revoked_at,
        }
    }
}

/// A new app password with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAppPassword {
    /// The app password.
    #[serde(flatten)]
    pub app_password: AppPasswordResponse,
    /// Sixteen letters in four groups; type it with or without the spaces.
    pub password: String,
}

crate::list_type!(AppPasswordList, AppPasswordResponse);

/// A device to create an app password for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppPasswordRequest {
    /// The device or app ("Thunderbird on laptop"), 1–200 characters.
    pub name: String,
}

/// Lists a mailbox's app passwords (all of them: a mailbox holds at most 10 active ones).
#[utoipa::path(get, path = "/v1/mailboxes/{id}/app-passwords", tag = "mailboxes", params(("id" = Uuid, Path, description = "Mailbox id")), responses(
    (status = 200, body = AppPasswordList),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/mailboxes/{id}/app-passwords")]
pub async fn list(auth: Authed, id: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let rows = auth
        .tenant(Scope::MailboxesRead)?
        .list_app_passwords(id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(AppPasswordList {
        items: rows.into_iter().map(AppPasswordResponse::from).collect(),
        next_cursor: None,
    }))
}

/// Creates an app password and returns its secret once.
#[utoipa::path(post, path = "/v1/mailboxes/{id}/app-passwords", tag = "mailboxes", params(("id" = Uuid, Path, description = "Mailbox id")),
    request_body = CreateAppPasswordRequest, responses(
    (status = 201, body = CreatedAppPassword),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`too_many_app_passwords`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/mailboxes/{id}/app-passwords")]
pub async fn create(
    auth: Authed,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<CreateAppPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MailboxesWrite)?;
    Checker::new()
        .push(validate::name("name", &body.name, 200))
        .finish()?;
    let id = id.into_inner();
    let (row, secret) = store
        .create_app_password(
            id,
            body.name.trim(),
            state.config.mailboxes.max_app_passwords,
        )
        .await?;
    let location = format!("/v1/mailboxes/{id}/app-passwords/{}", row.id);
    Ok(created(
        location,
        &CreatedAppPassword {
            app_password: AppPasswordResponse::from(row),
            password: secret,
        },
    ))
}

/// Revokes an app password; it stops working at once.
#[utoipa::path(delete, path = "/v1/mailboxes/{id}/app-passwords/{app_password_id}", tag = "mailboxes",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("app_password_id" = Uuid, Path, description = "App password id")), responses(
    (status = 204, description = "revoked"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[delete("/v1/mailboxes/{id}/app-passwords/{app_password_id}")]
pub async fn revoke(auth: Authed, path: web::Path<(Uuid, Uuid)>) -> Result<HttpResponse, ApiError> {
    let (id, pid) = path.into_inner();
    auth.tenant(Scope::MailboxesWrite)?
        .revoke_app_password(id, pid)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
