//! Tenant scoping as a mechanism, not a habit: the only place in the crate where a query on an
//! entity starts.
//!
//! - On a [`TenantStore`], `self.find::<E>()`, `self.find_by_id::<E>(id)`,
//!   `self.update_many::<E>()` and `self.delete_many::<E>()` start every select, update and
//!   delete of a tenant-owned entity ([`TenantOwned`]) with `tenant_id = <the store's tenant>`
//!   already in it. A method of `TenantStore` cannot reach another tenant's rows by forgetting
//!   a filter: there is no filter to write.
//! - Everything else (the system handle: the MX path, jobs, logins, platform admin work) starts
//!   from [`all_tenants`], whose name says what it does, so an unscoped query is visible in
//!   review.
//! - `clippy.toml` forbids sea-orm's own `Entity::find…`, `update_many`, `delete_many` and
//!   `delete_by_id` everywhere but here, so CI fails on a query that bypasses both.
//!
//! Inserts write `tenant_id` in the row they build (the column is `NOT NULL` where a row must
//! belong to a tenant). Raw SQL (search, batch updates on Postgres) writes its tenant condition
//! by hand and is reviewed as such. Postgres row-level security, when it comes, goes here: the
//! scoped path can set the tenant for the session in one place.

#![allow(clippy::disallowed_methods)]

use super::TenantStore;
use super::entities;
use sea_orm::{
    ColumnTrait, DeleteMany, EntityTrait, PrimaryKeyTrait, QueryFilter, Select, UpdateMany,
};
use uuid::Uuid;

/// An entity whose every row belongs to one tenant (a `tenant_id` column).
pub(crate) trait TenantOwned: EntityTrait {
    /// The `tenant_id` column.
    fn tenant_column() -> Self::Column;
}

macro_rules! tenant_owned {
    ($($m:ident),* $(,)?) => {
        $(
            impl TenantOwned for entities::$m::Entity {
                fn tenant_column() -> Self::Column {
                    entities::$m::Column::TenantId
                }
            }
        )*
    };
}

tenant_owned!(
    aliases,
    api_keys,
    app_passwords,
    audit_log,
    contacts,
    dkim_keys,
    domains,
    events,
    expunged,
    folders,
    greylist,
    group_members,
    groups,
    identities,
    local_parts,
    mailboxes,
    messages,
    outbound,
    outbound_recipients,
    pop3_leases,
    pop3_taken,
    rules,
    rules_versions,
    signatures,
    spam_learned,
    spam_lists,
    spam_quarantine,
    spam_settings,
    spam_tokens,
    subscriptions,
    suppressions,
    thread_refs,
    threads,
    users,
    vacation_replies,
    vacations,
);

/// The primary key value of `E`.
pub(crate) type Key<E> = <<E as EntityTrait>::PrimaryKey as PrimaryKeyTrait>::ValueType;

impl TenantStore {
    /// A select of this tenant's rows of `E`.
    pub(crate) fn find<E: TenantOwned>(&self) -> Select<E> {
        Tenant(self.tid()).find()
    }

    /// The row of `E` with this id, if it is this tenant's.
    pub(crate) fn find_by_id<E: TenantOwned>(&self, id: impl Into<Key<E>>) -> Select<E> {
        Tenant(self.tid()).find_by_id(id)
    }

    /// An update of this tenant's rows of `E` (add the conditions that pick them).
    pub(crate) fn update_many<E: TenantOwned>(&self) -> UpdateMany<E> {
        Tenant(self.tid()).update_many()
    }

    /// A delete of this tenant's rows of `E` (add the conditions that pick them).
    pub(crate) fn delete_many<E: TenantOwned>(&self) -> DeleteMany<E> {
        Tenant(self.tid()).delete_many()
    }
}

/// Queries across every tenant, for the system handle (the MX path, jobs, logins, platform
/// administration) and the tables no tenant owns (blobs, tenants, jobs, sessions). Each use is
/// a deliberate choice; a tenant's request reaches rows through a [`TenantStore`] instead.
pub(crate) mod all_tenants {
    use super::Key;
    use sea_orm::{DeleteMany, EntityTrait, Select, UpdateMany};

    /// A select of every row of `E`.
    pub(crate) fn find<E: EntityTrait>() -> Select<E> {
        E::find()
    }

    /// The row of `E` with this id, whoever owns it.
    pub(crate) fn find_by_id<E: EntityTrait>(id: impl Into<Key<E>>) -> Select<E> {
        E::find_by_id(id)
    }

    /// An update of rows of `E`, whoever owns them.
    pub(crate) fn update_many<E: EntityTrait>() -> UpdateMany<E> {
        E::update_many()
    }

    /// A delete of rows of `E`, whoever owns them.
    pub(crate) fn delete_many<E: EntityTrait>() -> DeleteMany<E> {
        E::delete_many()
    }
}

/// Queries within one tenant named by id, for code that is not a [`TenantStore`] method but
/// works for one tenant (a job purging a tenant's mailbox, a helper given the tenant).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tenant(pub Uuid);

impl Tenant {
    /// A select of the tenant's rows of `E`.
    pub(crate) fn find<E: TenantOwned>(self) -> Select<E> {
        E::find().filter(E::tenant_column().eq(self.0))
    }

    /// The row of `E` with this id, if it is the tenant's.
    pub(crate) fn find_by_id<E: TenantOwned>(self, id: impl Into<Key<E>>) -> Select<E> {
        E::find_by_id(id).filter(E::tenant_column().eq(self.0))
    }

    /// An update of the tenant's rows of `E`.
    pub(crate) fn update_many<E: TenantOwned>(self) -> UpdateMany<E> {
        E::update_many().filter(E::tenant_column().eq(self.0))
    }

    /// A delete of the tenant's rows of `E`.
    pub(crate) fn delete_many<E: TenantOwned>(self) -> DeleteMany<E> {
        E::delete_many().filter(E::tenant_column().eq(self.0))
    }
}
