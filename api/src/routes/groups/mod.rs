//! `/v1/groups`: distribution lists (members may be mailboxes, external addresses or other
//! groups).

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod update;

use chrono::{DateTime, Utc};
use mailroom_core::store::GroupView;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A group.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupResponse {
    /// Group id.
    pub id: Uuid,
    /// Its domain.
    pub domain_id: Uuid,
    /// The part before `@`.
    pub local_part: String,
    /// `local_part@domain`.
    pub address: String,
    /// Display name.
    pub name: String,
    /// Member addresses, sorted.
    pub members: Vec<String>,
    /// Who may send to it: `anyone`, `tenant` (senders on the tenant's domains) or `members`.
    pub send_policy: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<GroupView> for GroupResponse {
    fn from(v: GroupView) -> Self {
        let g = v.group;
        Self {
            id: g.id,
            domain_id: g.domain_id,
            local_part: g.local_part,
            address: v.address,
            name: g.name,
            members: v.members,
            send_policy: g.send_policy,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

crate::list_type!(GroupList, GroupResponse);
