use super::FolderResponse;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, patch, web};
use mailroom_core::auth::Scope;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Changes to a folder.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFolderRequest {
    /// New full path; children move along. INBOX cannot be renamed.
    #[serde(default)]
    pub name: Option<String>,
    /// Subscribe or unsubscribe.
    #[serde(default)]
    pub subscribed: Option<bool>,
}

/// Renames (moves) a folder with its children, or changes its subscription.
#[utoipa::path(patch, path = "/v1/mailboxes/{id}/folders/{folder_id}", tag = "folders",
    params(("id" = Uuid, Path, description = "Mailbox id"), ("folder_id" = Uuid, Path, description = "Folder id")),
    request_body = UpdateFolderRequest, responses(
    (status = 200, body = FolderResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`folder_exists`, `inbox_protected`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/mailboxes/{id}/folders/{folder_id}")]
pub async fn update(
    auth: Authed,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<UpdateFolderRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, fid) = path.into_inner();
    let f = auth
        .tenant(Scope::MailboxesWrite)?
        .update_folder(id, fid, body.name.as_deref(), body.subscribed)
        .await?;
    Ok(HttpResponse::Ok().json(FolderResponse::from(f)))
}
