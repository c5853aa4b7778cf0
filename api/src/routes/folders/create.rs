use super::FolderResponse;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use actix_web::{HttpResponse, post, web};
use mailroom_core::auth::Scope;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A folder to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFolderRequest {
    /// Full path with `/` between levels; missing parents are created too. Levels are 1–255
    /// characters without control characters, `*` or `%`; at most 20 levels.
    pub name: String,
    /// A special use for the new folder: `sent`, `drafts`, `junk`, `trash` or `archive`
    /// (RFC 6154). One folder per use and mailbox: delivery to Junk, moves to Trash and the
    /// copy in Sent go to the folder that has it.
    #[serde(default)]
    pub special_use: Option<String>,
}

/// Creates a folder (and any missing parent).
#[utoipa::path(post, path = "/v1/mailboxes/{id}/folders", tag = "folders", params(("id" = Uuid, Path, description = "Mailbox id")),
    request_body = CreateFolderRequest, responses(
    (status = 201, body = FolderResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`folder_exists`, `too_many_folders`, `special_use_taken`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/mailboxes/{id}/folders")]
pub async fn create(
    auth: Authed,
    id: web::Path<Uuid>,
    body: Json<CreateFolderRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let f = auth
        .tenant(Scope::MailboxesWrite)?
        .create_folder_with(id, &body.name, true, body.special_use.as_deref())
        .await?;
    Ok(created(
        format!("/v1/mailboxes/{id}/folders/{}", f.id),
        &FolderResponse::from(f),
    ))
}
