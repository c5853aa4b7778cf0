//! The audit log: every change made through the API is written in the same transaction as the
//! change itself, so a change without its audit row cannot exist.

use super::entities::audit_log;
use super::page::{Page, PageRequest};
use super::scope::all_tenants;
use crate::auth::{Role, Scope};
use crate::error::Result;
use crate::ids::new_id;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, Set};
use uuid::Uuid;

/// Who acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A person with an access token.
    User,
    /// An API key.
    ApiKey,
    /// A platform admin.
    PlatformAdmin,
    /// A mailbox's owner.
    Mailbox,
    /// Mailroom itself (CLI, jobs).
    System,
}

impl ActorKind {
    /// The name stored in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::PlatformAdmin => "platform_admin",
            ActorKind::Mailbox => "mailbox",
            ActorKind::System => "system",
        }
    }
}

/// The acting identity and where it acts from, as recorded with each change.
#[derive(Debug, Clone)]
pub struct Actor {
    /// What kind of actor.
    pub kind: ActorKind,
    /// The user's or key's id.
    pub id: Option<Uuid>,
    /// Email or key name.
    pub label: String,
    /// Client address.
    pub ip: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// The user behind the actor (a key's creator).
    pub user_id: Option<Uuid>,
    /// That user's role.
    pub role: Role,
    /// The scopes in effect; nothing the actor creates may carry more.
    pub scopes: Vec<Scope>,
    /// A mailbox owner's own mailbox: the only one it may reach.
    pub mailbox: Option<Uuid>,
}

impl Actor {
    /// Mailroom itself, acting from the command line or a job.
    pub fn system(label: &str) -> Self {
        Actor {
            kind: ActorKind::System,
            id: None,
            label: label.to_string(),
            ip: None,
            request_id: None,
            user_id: None,
            role: Role::PlatformAdmin,
            scopes: Role::PlatformAdmin.scopes(),
            mailbox: None,
        }
    }
}

/// Filters of the audit log listing.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this action (`user.create`).
    pub action: Option<String>,
    /// Only this object type (`user`).
    pub object_type: Option<String>,
    /// Only this object.
    pub object_id: Option<Uuid>,
}

/// Writes one audit row on `c` (a transaction, normally).
pub(crate) async fn record<C: ConnectionTrait>(
    c: &C,
    tenant: Option<Uuid>,
    actor: &Actor,
    action: &str,
    object_type: &str,
    object_id: Option<Uuid>,
    details: serde_json::Value,
) -> Result<()> {
    audit_log::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant),
        actor_type: Set(actor.kind.as_str().to_string()),
        actor_id: Set(actor.id),
        actor_label: Set(actor.label.chars().take(254).collect()),
        action: Set(action.to_string()),
        object_type: Set(object_type.to_string()),
        object_id: Set(object_id),
        ip: Set(actor.ip.clone()),
        request_id: Set(actor.request_id.clone()),
        details: Set(details.to_string()),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(c)
    .await?;
    Ok(())
}

/// Lists one log, newest first: a tenant's (`Some`) or the platform's (`None`).
pub(crate) async fn list<C: ConnectionTrait>(
    c: &C,
    tenant: Option<Uuid>,
    filter: &AuditFilter,
    page: PageRequest,
) -> Result<Page<audit_log::Model>> {
    let mut q = all_tenants::find::<audit_log::Entity>().filter(match tenant {
        Some(t) => audit_log::Column::TenantId.eq(t),
        None => audit_log::Column::TenantId.is_null(),
    });
    if let Some(a) = &filter.action {
        q = q.filter(audit_log::Column::Action.eq(a.as_str()));
    }
    if let Some(t) = &filter.object_type {
        q = q.filter(audit_log::Column::ObjectType.eq(t.as_str()));
    }
    if let Some(o) = filter.object_id {
        q = q.filter(audit_log::Column::ObjectId.eq(o));
    }
    super::page::fetch_page(c, q, audit_log::Column::Id, page, true, |r| r.id).await
}
