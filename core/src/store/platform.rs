//! Tenants, for platform admins.

use super::audit::{self, Actor, AuditFilter};
use super::entities::kinds::{TenantStatus, UserStatus};
use super::entities::{audit_log, tenants, users};
use super::page::{Page, PageRequest};
use super::scope::all_tenants;
use super::{Store, on_unique};
use crate::auth::{Role, hash_password};
use crate::error::{Error, Result};
use crate::ids::new_id;
use crate::jobs::{self, NewJob};
use chrono::Utc;
use sea_orm::ActiveEnum;
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

/// A tenant's plan limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantLimits {
    /// Domains the tenant may add.
    pub max_domains: Option<i64>,
    /// Mailboxes the tenant may create.
    pub max_mailboxes: Option<i64>,
    /// Bytes of mail the tenant may store.
    pub max_storage_bytes: Option<i64>,
    /// Messages the tenant may send per day.
    pub max_messages_per_day: Option<i64>,
}

/// A tenant to create, with its first owner.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Display name.
    pub name: String,
    /// Unique slug.
    pub slug: String,
    /// Plan limits.
    pub limits: TenantLimits,
    /// The first owner's normalised email.
    pub owner_email: String,
    /// The first owner's name.
    pub owner_name: String,
    /// The first owner's password in clear.
    pub owner_password: String,
}

/// Changes to a tenant. The outer `Option` of a limit is "change it?", the inner one the new
/// value (`None`: unlimited).
#[derive(Debug, Clone, Default)]
pub struct TenantPatch {
    /// New name.
    pub name: Option<String>,
    /// `active` or `suspended`.
    pub status: Option<String>,
    /// New `max_domains`.
    pub max_domains: Option<Option<i64>>,
    /// New `max_mailboxes`.
    pub max_mailboxes: Option<Option<i64>>,
    /// New `max_storage_bytes`.
    pub max_storage_bytes: Option<Option<i64>>,
    /// New `max_messages_per_day`.
    pub max_messages_per_day: Option<Option<i64>>,
}

/// The platform-admin handle: reaches every tenant, records who did what.
pub struct PlatformStore {
    store: Store,
    actor: Actor,
}

impl PlatformStore {
    pub(crate) fn new(store: Store, actor: Actor) -> Self {
        Self { store, actor }
    }

    /// Tenants not deleted, in creation order.
    pub async fn list_tenants(&self, page: PageRequest) -> Result<Page<tenants::Model>> {
        let q = all_tenants::find::<tenants::Entity>().filter(tenants::Column::DeletedAt.is_null());
        super::page::fetch_page(self.store.db(), q, tenants::Column::Id, page, false, |t| {
            t.id
        })
        .await
    }

    /// One tenant (a deleted tenant is not found).
    pub async fn tenant(&self, id: Uuid) -> Result<tenants::Model> {
        all_tenants::find_by_id::<tenants::Entity>(id)
            .filter(tenants::Column::DeletedAt.is_null())
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)
    }

    /// Creates a tenant and its first owner in one transaction.
    pub async fn create_tenant(&self, new: NewTenant) -> Result<(tenants::Model, users::Model)> {
        check_limits(&new.limits)?;
        let hash = hash_password(&new.owner_password).await?;
        let now = Utc::now();
        let tx = self.store.tx().await?;
        let tenant = tenants::ActiveModel {
            id: Set(new_id()),
            name: Set(new.name),
            slug: Set(new.slug),
            status: Set(TenantStatus::Active),
            max_domains: Set(new.limits.max_domains),
            max_mailboxes: Set(new.limits.max_mailboxes),
            max_storage_bytes: Set(new.limits.max_storage_bytes),
            max_messages_per_day: Set(new.limits.max_messages_per_day),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        }
        .insert(&*tx)
        .await
        .map_err(|e| on_unique(e, "slug_taken", "a tenant with this slug already exists"))?;
        let owner = users::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(Some(tenant.id)),
            email: Set(new.owner_email),
            name: Set(new.owner_name),
            password_hash: Set(hash),
            role: Set(Role::Owner.as_str().into()),
            status: Set(UserStatus::Active),
            created_at: Set(now),
            updated_at: Set(now),
            last_login_at: Set(None),
        }
        .insert(&*tx)
        .await
        .map_err(|e| {
            on_unique(
                e,
                "email_taken",
                "a user with the owner's email already exists",
            )
        })?;
        let details = json!({"slug": tenant.slug, "owner": owner.email});
        self.record(&*tx, Some(tenant.id), "tenant.create", tenant.id, details)
            .await?;
        tx.commit().await?;
        Ok((tenant, owner))
    }

    /// Changes a tenant's name, status or limits.
    pub async fn update_tenant(&self, id: Uuid, patch: TenantPatch) -> Result<tenants::Model> {
        let status = match &patch.status {
            Some(s) => Some(
                TenantStatus::try_from_value(s)
                    .map_err(|_| Error::invalid("status", "must be active or suspended"))?,
            ),
            None => None,
        };
        let tx = self.store.tx().await?;
        let tenant = all_tenants::find_by_id::<tenants::Entity>(id)
            .filter(tenants::Column::DeletedAt.is_null())
            .one(&*tx)
            .await?
            .ok_or(Error::NotFound)?;
        let mut am: tenants::ActiveModel = tenant.into();
        let mut changed = serde_json::Map::new();
        if let Some(n) = patch.name {
            changed.insert("name".into(), json!(n));
            am.name = Set(n);
        }
        if let Some(s) = status {
            changed.insert("status".into(), json!(s.to_string()));
            am.status = Set(s);
        }
        let limits = [
            ("max_domains", patch.max_domains, &mut am.max_domains),
            ("max_mailboxes", patch.max_mailboxes, &mut am.max_mailboxes),
            (
                "max_storage_bytes",
                patch.max_storage_bytes,
                &mut am.max_storage_bytes,
            ),
            (
                "max_messages_per_day",
                patch.max_messages_per_day,
                &mut am.max_messages_per_day,
            ),
        ];
        for (name, value, slot) in limits {
            if let Some(v) = value {
                if v.is_some_and(|n| n < 0) {
                    return Err(Error::invalid(
                        format!("limits.{name}"),
                        "must be zero or more, or null for unlimited",
                    ));
                }
                changed.insert(name.into(), json!(v));
                *slot = Set(v);
            }
        }
        am.updated_at = Set(Utc::now());
        let tenant = am.update(&*tx).await?;
        self.record(&*tx, Some(id), "tenant.update", id, changed.into())
            .await?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// Soft-deletes a tenant and enqueues the job that purges its data, in one transaction.
    /// From this moment its users and keys no longer authenticate.
    pub async fn delete_tenant(&self, id: Uuid, purge_delay: chrono::Duration) -> Result<Uuid> {
        let tx = self.store.tx().await?;
        let tenant = all_tenants::find_by_id::<tenants::Entity>(id)
            .filter(tenants::Column::DeletedAt.is_null())
            .one(&*tx)
            .await?
            .ok_or(Error::NotFound)?;
        let now = Utc::now();
        let slug = tenant.slug.clone();
        let mut am: tenants::ActiveModel = tenant.into();
        am.deleted_at = Set(Some(now));
        am.updated_at = Set(now);
        am.update(&*tx).await?;
        let job = super::jobs::enqueue(
            &*tx,
            NewJob::new(jobs::TENANT_PURGE, json!({"tenant_id": id}))
                .tenant(id)
                .run_at(now + purge_delay),
        )
        .await?;
        // Only in the platform log: the tenant's own log goes with its purge.
        self.record(
            &*tx,
            None,
            "tenant.delete",
            id,
            json!({"slug": slug, "purge_job": job}),
        )
        .await?;
        tx.commit().await?;
        Ok(job)
    }
}

impl PlatformStore {
    /// Records a platform action in the platform log and, when `tenant` is given, in that
    /// tenant's log too (its admins see who changed their tenant).
    async fn record<C: sea_orm::ConnectionTrait>(
        &self,
        c: &C,
        tenant: Option<Uuid>,
        action: &str,
        object: Uuid,
        details: serde_json::Value,
    ) -> Result<()> {
        audit::record(
            c,
            None,
            &self.actor,
            action,
            "tenant",
            Some(object),
            details.clone(),
        )
        .await?;
        if tenant.is_some() {
            audit::record(
                c,
                tenant,
                &self.actor,
                action,
                "tenant",
                Some(object),
                details,
            )
            .await?;
        }
        Ok(())
    }

    /// The platform's audit log (tenants created, changed, deleted; platform admins), newest
    /// first.
    pub async fn audit_log(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<audit_log::Model>> {
        audit::list(self.store.db(), None, filter, page).await
    }
}

fn check_limits(l: &TenantLimits) -> Result<()> {
    let mut c = crate::validate::Checker::new();
    for (name, v) in [
        ("max_domains", l.max_domains),
        ("max_mailboxes", l.max_mailboxes),
        ("max_storage_bytes", l.max_storage_bytes),
        ("max_messages_per_day", l.max_messages_per_day),
    ] {
        c.check(
            v.is_none_or(|n| n >= 0),
            &format!("limits.{name}"),
            "must be zero or more, or null for unlimited",
        );
    }
    c.finish()
}
