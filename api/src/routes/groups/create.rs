use super::GroupResponse;
use crate::body::Json;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use crate::routes::created;
use actix_web::{HttpResponse, post};
use mailroom_core::auth::Scope;
use mailroom_core::validate::{self, Checker};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A group to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupRequest {
    /// A verified domain of the tenant.
    pub domain_id: Uuid,
    /// The part before `@`. Unique on the domain together with mailboxes and aliases.
    pub local_part: String,
    /// Display name (defaults to the local part).
    #[serde(default)]
    pub name: Option<String>,
    /// 1–500 member addresses: mailboxes, aliases or groups of the tenant (nested groups are
    /// expanded, loops cut), or external addresses.
    pub members: Vec<String>,
    /// `anyone` (default), `tenant` or `members`.
    #[serde(default)]
    pub send_policy: Option<String>,
}

/// Creates a group.
#[utoipa::path(post, path = "/v1/groups", tag = "groups", request_body = CreateGroupRequest, responses(
    (status = 201, body = GroupResponse),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`address_taken`", body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[post("/v1/groups")]
pub async fn create(
    auth: Authed,
    body: Json<CreateGroupRequest>,
) -> Result<HttpResponse, ApiError> {
    let store = auth.tenant(Scope::MailboxesWrite)?;
    let b = body.into_inner();
    let local = validate::local_part("local_part", &b.local_part, false)
        .map_err(|e| mailroom_core::Error::Validation(vec![e]))?;
    if let Some(n) = &b.name {
        Checker::new()
            .push(validate::name("name", n, 200))
            .finish()?;
    }
    let name = b
        .name
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| local.clone());
    let policy = b.send_policy.unwrap_or_else(|| "anyone".into());
    let g = store
        .create_group(b.domain_id, &local, &name, &b.members, &policy)
        .await?;
    let body = GroupResponse::from(g);
    Ok(created(format!("/v1/groups/{}", body.id), &body))
}
