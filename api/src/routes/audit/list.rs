use crate::body::Query;
use crate::error::{ApiError, Problem};
use crate::extract::Authed;
use actix_web::{HttpResponse, get};
use chrono::{DateTime, Utc};
use mailroom_core::auth::Scope;
use mailroom_core::store::entities::audit_log;
use mailroom_core::store::{AuditFilter, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Filters and paging of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this action, such as `user.create`.
    pub action: Option<String>,
    /// Only this object type, such as `user`.
    pub object_type: Option<String>,
    /// Only entries about this object.
    pub object_id: Option<Uuid>,
}

/// Who acted.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditActor {
    /// `user`, `api_key`, `platform_admin` or `system`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The user's or key's id.
    pub id: Option<Uuid>,
    /// Email or key name at the time.
    pub label: String,
}

/// One change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Entry id.
    pub id: Uuid,
    /// Who.
    pub actor: AuditActor,
    /// What, such as `user.create`.
    pub action: String,
    /// The kind of object changed.
    pub object_type: String,
    /// The object changed.
    pub object_id: Option<Uuid>,
    /// From which client address.
    pub ip: Option<String>,
    /// The request that made the change.
    pub request_id: Option<String>,
    /// What changed (never a secret).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<audit_log::Model> for AuditEntry {
    fn from(e: audit_log::Model) -> Self {
        Self {
            id: e.id,
            actor: AuditActor {
                type_: e.actor_type,
                id: e.actor_id,
                label: e.actor_label,
            },
            action: e.action,
            object_type: e.object_type,
            object_id: e.object_id,
            ip: e.ip,
            request_id: e.request_id,
            details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
            created_at: e.created_at,
        }
    }
}

crate::list_type!(AuditList, AuditEntry);

/// The audit log, newest first: for owners and admins their tenant's; for platform admins the
/// platform's (tenants created, changed and deleted, platform admins created, their logins).
#[utoipa::path(get, path = "/v1/audit-log", tag = "audit", params(AuditQuery), responses(
    (status = 200, body = AuditList),
    (status = 403, body = Problem, content_type = "application/problem+json"),
), security(("bearer" = [])))]
#[get("/v1/audit-log")]
pub async fn list(auth: Authed, q: Query<AuditQuery>) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = PageRequest::parse(q.limit, q.cursor.as_deref())?;
    let filter = AuditFilter {
        action: q.action,
        object_type: q.object_type,
        object_id: q.object_id,
    };
    let page = if auth.principal.is_platform_admin() {
        auth.platform(Scope::TenantsRead)?
            .audit_log(&filter, page)
            .await?
    } else {
        auth.tenant(Scope::AuditRead)?
            .audit_log(&filter, page)
            .await?
    };
    Ok(HttpResponse::Ok().json(AuditList::from_page(page, AuditEntry::from)))
}
