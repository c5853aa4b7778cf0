//! The tenant-scoped store handle.

use super::Store;
use super::audit::{self, Actor, AuditFilter};
use super::entities::{audit_log, tenants};
use super::page::{Page, PageRequest};
use super::scope::all_tenants;
use crate::error::{Error, Result};
use crate::ids::TenantId;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter};
use uuid::Uuid;

/// One tenant's data, for one actor.
///
/// Invariant: every query issued through this handle filters on `tenant`, and every change
/// records an audit row in the same transaction. It is built only by
/// [`crate::auth::Principal::tenant_store`], so `tenant` always comes from verified credentials.
pub struct TenantStore {
    pub(crate) store: Store,
    pub(crate) tenant: TenantId,
    pub(crate) actor: Actor,
}

impl TenantStore {
    pub(crate) fn new(store: Store, tenant: TenantId, actor: Actor) -> Self {
        Self {
            store,
            tenant,
            actor,
        }
    }

    /// The tenant this handle is bound to.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    /// The acting identity.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub(crate) fn tid(&self) -> Uuid {
        self.tenant.as_uuid()
    }

    /// The tenant itself.
    pub async fn tenant(&self) -> Result<tenants::Model> {
        all_tenants::find_by_id::<tenants::Entity>(self.tid())
            .filter(tenants::Column::DeletedAt.is_null())
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)
    }

    /// Records a change of this tenant on `c`.
    pub(crate) async fn audit<C: ConnectionTrait>(
        &self,
        c: &C,
        action: &str,
        object_type: &str,
        object_id: Option<Uuid>,
        details: serde_json::Value,
    ) -> Result<()> {
        audit::record(
            c,
            Some(self.tid()),
            &self.actor,
            action,
            object_type,
            object_id,
            details,
        )
        .await
    }

    /// The tenant's audit log, newest first.
    pub async fn audit_log(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<audit_log::Model>> {
        audit::list(self.store.db(), Some(self.tid()), filter, page).await
    }
}
