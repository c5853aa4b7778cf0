use super::GroupResponse;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, patch, web};
use mailroom_core::auth::Scope;
use mailroom_core::validate::{self, Checker};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Changes to a group; omitted fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroupRequest {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Replaces the members.
    #[serde(default)]
    pub members: Option<Vec<String>>,
    /// `anyone`, `tenant` or `members`.
    #[serde(default)]
    pub send_policy: Option<String>,
}

/// Changes a group.
#[utoipa::path(patch, path = "/v1/groups/{id}", tag = "groups", params(("id" = Uuid, Path, description = "Group id")),
    request_body = UpdateGroupRequest, responses(
    (status = 200, body = GroupResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[patch("/v1/groups/{id}")]
pub async fn update(
    auth: Authed,
    id: web::Path<Uuid>,
    body: Json<UpdateGroupRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MailboxesWrite)?;
    let b = body.into_inner();
    if let Some(n) = &b.name {
        Checker::new()
            .push(validate::name("name", n, 200))
            .finish()?;
    }
    let g = store
        .update_group(
            id.into_inner(),
            b.name.as_deref().map(str::trim),
            b.members.as_deref(),
            b.send_policy.as_deref(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(GroupResponse::from(g)))
}
