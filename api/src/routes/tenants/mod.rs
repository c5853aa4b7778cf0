//! `/v1/tenants`: platform admins manage tenants; a tenant's own credentials with
//! `tenants:read` may read their own tenant.

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod update;

use crate::routes::users::UserResponse;
use chrono::{DateTime, Utc};
use mailroom_core::store::TenantLimits;
use mailroom_core::store::entities::tenants;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Plan limits; null means unlimited.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Domains the tenant may add.
    #[serde(default)]
    pub max_domains: Option<i64>,
    /// Mailboxes the tenant may create.
    #[serde(default)]
    pub max_mailboxes: Option<i64>,
    /// Bytes of mail the tenant may store.
    #[serde(default)]
    pub max_storage_bytes: Option<i64>,
    /// Messages the tenant may send per day.
    #[serde(default)]
    pub max_messages_per_day: Option<i64>,
}

impl From<Limits> for TenantLimits {
    fn from(l: Limits) -> Self {
        TenantLimits {
            max_domains: l.max_domains,
            max_mailboxes: l.max_mailboxes,
            max_storage_bytes: l.max_storage_bytes,
            max_messages_per_day: l.max_messages_per_day,
        }
    }
}

/// Whether a tenant's users may log in and its mail flows.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    /// Normal operation.
    Active,
    /// Users cannot log in; keys and tokens are refused.
    Suspended,
}

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantResponse {
    /// Tenant id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Unique slug.
    pub slug: String,
    /// `active` or `suspended`.
    pub status: String,
    /// Plan limits.
    pub limits: Limits,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<tenants::Model> for TenantResponse {
    fn from(t: tenants::Model) -> Self {
        Self {
            id: t.id,
            name: t.name,
            slug: t.slug,
            status: t.status.to_string(),
            limits: Limits {
                max_domains: t.max_domains,
                max_mailboxes: t.max_mailboxes,
                max_storage_bytes: t.max_storage_bytes,
                max_messages_per_day: t.max_messages_per_day,
            },
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A new tenant with its first owner.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTenantResponse {
    /// The tenant.
    #[serde(flatten)]
    pub tenant: TenantResponse,
    /// Its first owner.
    pub owner: UserResponse,
}

crate::list_type!(TenantList, TenantResponse);

/// Deserialises a present field as `Some(value)`, so `null` (`Some(None)`) differs from absent
/// (`None`).
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
