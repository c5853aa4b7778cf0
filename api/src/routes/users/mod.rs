//! `/v1/users`: the people of the caller's tenant.

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod update;

use chrono::{DateTime, Utc};
use mailroom_core::auth::Role;
use mailroom_core::store::entities::users;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A tenant role.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TenantRole {
    /// Everything in the tenant.
    Owner,
    /// Manages users (not owners), keys, domains and mailboxes.
    Admin,
    /// Reads settings, works with mail.
    Member,
}

impl From<TenantRole> for Role {
    fn from(r: TenantRole) -> Self {
        match r {
            TenantRole::Owner => Role::Owner,
            TenantRole::Admin => Role::Admin,
            TenantRole::Member => Role::Member,
        }
    }
}

/// Whether a user may log in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// May log in.
    Active,
    /// May not log in; its sessions and keys stop working.
    Disabled,
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// User id.
    pub id: Uuid,
    /// The tenant (null for platform admins).
    pub tenant_id: Option<Uuid>,
    /// Login email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `owner`, `admin`, `member` (or `platform_admin`).
    pub role: String,
    /// `active` or `disabled`.
    pub status: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<users::Model> for UserResponse {
    fn from(u: users::Model) -> Self {
        Self {
            id: u.id,
            tenant_id: u.tenant_id,
            email: u.email,
            name: u.name,
            role: u.role,
            status: u.status.to_string(),
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_login_at: u.last_login_at,
        }
    }
}

crate::list_type!(UserList, UserResponse);
