//! Identifier types.
//!
//! All ids are UUIDv7: time-ordered, so ordering by id is ordering by creation, which is what
//! cursor pagination relies on. [`TenantId`] can only be built inside this crate (by the auth
//! module and the store): a handler cannot invent a tenant, it can only be handed one.

use std::fmt;
use uuid::Uuid;

/// A new time-ordered id.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// The tenant a request acts for. Constructed only by `mailroom_core`'s auth and store code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantId(Uuid);

impl TenantId {
    pub(crate) fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The underlying UUID (for responses and logs).
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
