//! `/v1/aliases`: addresses that deliver to other addresses; `*` is a domain's catch-all.

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod update;

use chrono::{DateTime, Utc};
use mailroom_core::store::entities::aliases;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An alias.
#[derive(Debug, Serialize, ToSchema)]
pub struct AliasResponse {
    /// Alias id.
    pub id: Uuid,
    /// Its domain.
    pub domain_id: Uuid,
    /// The part before `@`; `*` for the catch-all.
    pub local_part: String,
    /// `local_part@domain`.
    pub address: String,
    /// Where mail goes: mailboxes, aliases or groups of the tenant, or external addresses.
    pub destinations: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl AliasResponse {
    /// From the row and its address.
    pub fn new((a, address): (aliases::Model, String)) -> Self {
        Self {
            id: a.id,
            domain_id: a.domain_id,
            local_part: a.local_part,
            address,
            destinations: serde_json::from_str(&a.destinations).unwrap_or_default(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

crate::list_type!(AliasList, AliasResponse);
