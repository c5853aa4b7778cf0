//! `/v1/api-keys`: keys of the caller's tenant. Members see only their own.

pub mod create;
pub mod delete;
pub mod get;
pub mod list;

use chrono::{DateTime, Utc};
use mailroom_core::store::ApiKeyRecord;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An API key (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyResponse {
    /// Key id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<&'static str>,
    /// `active`, `revoked` or `expired`.
    pub status: &'static str,
    /// Who created it.
    pub created_by: Uuid,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last use (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRecord> for ApiKeyResponse {
    fn from(r: ApiKeyRecord) -> Self {
        let k = r.key;
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else if k.expires_at.is_some_and(|e| e <= Utc::now()) {
            "expired"
        } else {
            "active"
        };
        Self {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            scopes: r.scopes.iter().map(|s| s.as_str()).collect(),
            status,
            created_by: k.created_by,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A new key with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKeyResponse {
    /// The key.
    #[serde(flatten)]
    pub api_key: ApiKeyResponse,
    /// The secret: send as `Authorization: Bearer <key>`. It cannot be shown again.
    pub key: String,
}

crate::list_type!(ApiKeyList, ApiKeyResponse);
