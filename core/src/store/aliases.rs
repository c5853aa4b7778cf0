//! Aliases (with catch-alls), groups and domain aliases, through the tenant-scoped store.

use super::entities::kinds::DomainStatus;
use super::entities::{aliases, domains, group_members, groups};
use super::page::{Page, PageRequest};
use super::routing::{Resolution, Resolver, split_address};
use super::scope::all_tenants;
use super::{SystemStore, TenantStore};
use crate::error::{Error, FieldError, Result};
use crate::ids::new_id;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, QuerySelect, Set};
use serde_json::json;
use uuid::Uuid;

/// Destinations of one alias, members of one group.
pub const MAX_TARGETS: usize = 500;
/// Who may send to a group.
pub const SEND_POLICIES: [&str; 3] = ["anyone", "tenant", "members"];

/// A group with its member addresses.
#[derive(Debug, Clone)]
pub struct GroupView {
    /// The group.
    pub group: groups::Model,
    /// Its address.
    pub address: String,
    /// Member addresses, sorted.
    pub members: Vec<String>,
}

impl TenantStore {
    /// Resolves an address as the SMTP server would, seeing only this tenant's domains.
    pub async fn resolve_address(&self, address: &str) -> Result<Resolution> {
        self.not_confined()?;
        Resolver {
            db: self.store.db(),
            tenant: Some(self.tid()),
        }
        .resolve(address)
        .await
    }

    /// Normalises alias destinations or group members: valid addresses, no duplicates, and
    /// every address on this tenant's domains must exist.
    async fn check_targets<C: ConnectionTrait>(
        &self,
        c: &C,
        field: &str,
        raw: &[String],
        own: &str,
    ) -> Result<Vec<String>> {
        if raw.is_empty() || raw.len() > MAX_TARGETS {
            return Err(Error::invalid(
                field,
                format!("must list 1-{MAX_TARGETS} addresses"),
            ));
        }
        let mut out: Vec<String> = Vec::new();
        let mut errors = Vec::new();
        let resolver = Resolver {
            db: c,
            tenant: Some(self.tid()),
        };
        for (i, a) in raw.iter().enumerate() {
            let f = format!("{field}[{i}]");
            let Some((local, domain)) =
                split_address(a).filter(|_| crate::validate::normalize_email(&f, a).is_ok())
            else {
                errors.push(FieldError::new(f, "is not an email address"));
                continue;
            };
            let addr = format!("{local}@{domain}");
            if addr == own {
                errors.push(FieldError::new(f, "is this address itself"));
                continue;
            }
            let r = resolver.resolve(&addr).await?;
            if let Some(rej) = r.rejected.filter(|rej| rej.code != "not_our_domain") {
                errors.push(FieldError::new(f, format!("{addr}: {}", rej.detail)));
                continue;
            }
            if !out.contains(&addr) {
                out.push(addr);
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(Error::Validation(errors))
        }
    }

    /// The tenant's aliases in creation order.
    pub async fn list_aliases(
        &self,
        domain: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<(aliases::Model, String)>> {
        self.not_confined()?;
        let mut q = self.find::<aliases::Entity>();
        if let Some(d) = domain {
            q = q.filter(aliases::Column::DomainId.eq(d));
        }
        let page =
            super::page::fetch_page(self.store.db(), q, aliases::Column::Id, page, false, |a| {
                a.id
            })
            .await?;
        let names = self
            .domain_names(page.items.iter().map(|a| a.domain_id).collect())
            .await?;
        Ok(page.map(|a| {
            let address = format!(
                "{}@{}",
                a.local_part,
                names
                    .iter()
                    .find(|(id, _)| *id == a.domain_id)
                    .map_or("", |(_, n)| n)
            );
            (a, address)
        }))
    }

    async fn domain_names(&self, ids: Vec<Uuid>) -> Result<Vec<(Uuid, String)>> {
        Ok(self
            .find::<domains::Entity>()
            .select_only()
            .column(domains::Column::Id)
            .column(domains::Column::Name)
            .filter(domains::Column::Id.is_in(ids))
            .into_tuple()
            .all(self.store.db())
            .await?)
    }

    /// One alias, with its address.
    pub async fn alias(&self, id: Uuid) -> Result<(aliases::Model, String)> {
        self.not_confined()?;
        let a = self
            .find_by_id::<aliases::Entity>(id)
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)?;
        let name = self
            .domain_names(vec![a.domain_id])
            .await?
            .into_iter()
            .next()
            .map(|(_, n)| n)
            .unwrap_or_default();
        let address = format!("{}@{name}", a.local_part);
        Ok((a, address))
    }

    /// Creates an alias (`*` is the domain's catch-all).
    pub async fn create_alias(
        &self,
        domain_id: Uuid,
        local: &str,
        destinations: &[String],
    ) -> Result<(aliases::Model, String)> {
        self.not_confined()?;
        let tx = self.store.tx().await?;
        let domain = self.verified_domain(&*tx, domain_id).await?;
        let address = format!("{local}@{}", domain.name);
        let id = new_id();
        self.claim_local_part(&tx, domain.id, local, "alias", id)
            .await?;
        let dests = self
            .check_targets(&*tx, "destinations", destinations, &address)
            .await?;
        let now = Utc::now();
        let a = aliases::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tid()),
            domain_id: Set(domain.id),
            local_part: Set(local.to_string()),
            destinations: Set(json!(dests).to_string()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&*tx)
        .await?;
        self.audit(
            &*tx,
            "alias.create",
            "alias",
            Some(id),
            json!({"address": address, "destinations": dests}),
        )
        .await?;
        tx.commit().await?;
        Ok((a, address))
    }

    /// Replaces an alias's destinations.
    pub async fn update_alias(
        &self,
        id: Uuid,
        destinations: &[String],
    ) -> Result<(aliases::Model, String)> {
        let (a, address) = self.alias(id).await?;
        let tx = self.store.tx().await?;
        let dests = self
            .check_targets(&*tx, "destinations", destinations, &address)
            .await?;
        let mut am: aliases::ActiveModel = a.into();
        am.destinations = Set(json!(dests).to_string());
        am.updated_at = Set(Utc::now());
        let a = am.update(&*tx).await?;
        self.audit(
            &*tx,
            "alias.update",
            "alias",
            Some(id),
            json!({"destinations": dests}),
        )
        .await?;
        tx.commit().await?;
        Ok((a, address))
    }

    /// Deletes an alias; its address is free again.
    pub async fn delete_alias(&self, id: Uuid) -> Result<()> {
        let (_, address) = self.alias(id).await?;
        let tx = self.store.tx().await?;
        self.delete_many::<aliases::Entity>()
            .filter(aliases::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        self.release_local_parts(&*tx, id).await?;
        self.audit(
            &*tx,
            "alias.delete",
            "alias",
            Some(id),
            json!({"address": address}),
        )
        .await?;
        tx.commit().await
    }

    /// The tenant's groups in creation order.
    pub async fn list_groups(
        &self,
        domain: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<GroupView>> {
        self.not_confined()?;
        let mut q = self.find::<groups::Entity>();
        if let Some(d) = domain {
            q = q.filter(groups::Column::DomainId.eq(d));
        }
        let page =
            super::page::fetch_page(self.store.db(), q, groups::Column::Id, page, false, |g| {
                g.id
            })
            .await?;
        Ok(Page {
            items: self.group_views(page.items).await?,
            next_cursor: page.next_cursor,
        })
    }

    /// Groups with their addresses and members, in two queries whatever their number.
    async fn group_views(&self, groups: Vec<groups::Model>) -> Result<Vec<GroupView>> {
        let names = self
            .domain_names(groups.iter().map(|g| g.domain_id).collect())
            .await?;
        let members = self
            .find::<group_members::Entity>()
            .filter(
                group_members::Column::GroupId
                    .is_in(groups.iter().map(|g| g.id).collect::<Vec<_>>()),
            )
            .all(self.store.db())
            .await?;
        Ok(groups
            .into_iter()
            .map(|g| {
                let name = names
                    .iter()
                    .find(|(id, _)| *id == g.domain_id)
                    .map_or("", |(_, n)| n.as_str());
                let mut m: Vec<String> = members
                    .iter()
                    .filter(|m| m.group_id == g.id)
                    .map(|m| m.address.clone())
                    .collect();
                m.sort();
                GroupView {
                    address: format!("{}@{name}", g.local_part),
                    group: g,
                    members: m,
                }
            })
            .collect())
    }

    async fn group_view(&self, g: groups::Model) -> Result<GroupView> {
        self.group_views(vec![g])
            .await?
            .pop()
            .ok_or(Error::NotFound)
    }

    /// One group with its members.
    pub async fn group(&self, id: Uuid) -> Result<GroupView> {
        self.not_confined()?;
        let g = self
            .find_by_id::<groups::Entity>(id)
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)?;
        self.group_view(g).await
    }

    async fn set_members(&self, tx: &super::Tx, group: Uuid, members: &[String]) -> Result<()> {
        self.delete_many::<group_members::Entity>()
            .filter(group_members::Column::GroupId.eq(group))
            .exec(&**tx)
            .await?;
        let now = Utc::now();
        for m in members {
            group_members::ActiveModel {
                id: Set(new_id()),
                tenant_id: Set(self.tid()),
                group_id: Set(group),
                address: Set(m.clone()),
                created_at: Set(now),
            }
            .insert(&**tx)
            .await?;
        }
        Ok(())
    }

    /// Creates a group.
    pub async fn create_group(
        &self,
        domain_id: Uuid,
        local: &str,
        name: &str,
        members: &[String],
        send_policy: &str,
    ) -> Result<GroupView> {
        self.not_confined()?;
        if !SEND_POLICIES.contains(&send_policy) {
            return Err(Error::invalid(
                "send_policy",
                "must be anyone, tenant or members",
            ));
        }
        let tx = self.store.tx().await?;
        let domain = self.verified_domain(&*tx, domain_id).await?;
        let address = format!("{local}@{}", domain.name);
        let id = new_id();
        self.claim_local_part(&tx, domain.id, local, "group", id)
            .await?;
        let members = self
            .check_targets(&*tx, "members", members, &address)
            .await?;
        let now = Utc::now();
        groups::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tid()),
            domain_id: Set(domain.id),
            local_part: Set(local.to_string()),
            name: Set(name.to_string()),
            send_policy: Set(send_policy.to_string()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&*tx)
        .await?;
        self.set_members(&tx, id, &members).await?;
        self.audit(
            &*tx,
            "group.create",
            "group",
            Some(id),
            json!({"address": address, "members": members.len(), "send_policy": send_policy}),
        )
        .await?;
        tx.commit().await?;
        self.group(id).await
    }

    /// Changes a group's name, members or sending policy.
    pub async fn update_group(
        &self,
        id: Uuid,
        name: Option<&str>,
        members: Option<&[String]>,
        send_policy: Option<&str>,
    ) -> Result<GroupView> {
        let view = self.group(id).await?;
        if let Some(p) = send_policy
            && !SEND_POLICIES.contains(&p)
        {
            return Err(Error::invalid(
                "send_policy",
                "must be anyone, tenant or members",
            ));
        }
        let tx = self.store.tx().await?;
        let mut changed = serde_json::Map::new();
        if let Some(m) = members {
            let m = self
                .check_targets(&*tx, "members", m, &view.address)
                .await?;
            self.set_members(&tx, id, &m).await?;
            changed.insert("members".into(), json!(m.len()));
        }
        let mut am: groups::ActiveModel = view.group.into();
        if let Some(n) = name {
            am.name = Set(n.to_string());
            changed.insert("name".into(), json!(n));
        }
        if let Some(p) = send_policy {
            am.send_policy = Set(p.to_string());
            changed.insert("send_policy".into(), json!(p));
        }
        am.updated_at = Set(Utc::now());
        am.update(&*tx).await?;
        self.audit(&*tx, "group.update", "group", Some(id), changed.into())
            .await?;
        tx.commit().await?;
        self.group(id).await
    }

    /// Deletes a group; its address is free again.
    pub async fn delete_group(&self, id: Uuid) -> Result<()> {
        let view = self.group(id).await?;
        let tx = self.store.tx().await?;
        self.delete_many::<group_members::Entity>()
            .filter(group_members::Column::GroupId.eq(id))
            .exec(&*tx)
            .await?;
        self.delete_many::<groups::Entity>()
            .filter(groups::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        self.release_local_parts(&*tx, id).await?;
        self.audit(
            &*tx,
            "group.delete",
            "group",
            Some(id),
            json!({"address": view.address}),
        )
        .await?;
        tx.commit().await
    }

    /// Makes a verified domain an alias of another verified domain of the tenant (every address
    /// of it delivers as the same address there), or ends that with `None`.
    pub async fn set_domain_alias(&self, id: Uuid, target: Option<Uuid>) -> Result<()> {
        let tx = self.store.tx().await?;
        let d = self.verified_domain(&*tx, id).await.map_err(|e| match e {
            Error::Rejected { code, message, .. } => Error::Rejected {
                code,
                field: "alias_of".into(),
                message,
            },
            other => other,
        })?;
        if let Some(t) = target {
            if t == id {
                return Err(Error::invalid(
                    "alias_of",
                    "a domain cannot be an alias of itself",
                ));
            }
            let td = self.verified_domain(&*tx, t).await.map_err(|_| {
                Error::invalid("alias_of", "must be a verified domain of this tenant")
            })?;
            if td.alias_of.is_some() {
                return Err(Error::invalid(
                    "alias_of",
                    "is itself a domain alias; point to the domain it aliases",
                ));
            }
            let aliased_here = self
                .find::<domains::Entity>()
                .filter(domains::Column::AliasOf.eq(id))
                .one(&*tx)
                .await?;
            if aliased_here.is_some() {
                return Err(Error::invalid(
                    "alias_of",
                    "other domains are aliases of this one; it cannot become an alias",
                ));
            }
        }
        let mut am: domains::ActiveModel = d.into();
        am.alias_of = Set(target);
        am.updated_at = Set(Utc::now());
        am.update(&*tx).await?;
        self.audit(
            &*tx,
            "domain.update",
            "domain",
            Some(id),
            json!({"alias_of": target}),
        )
        .await?;
        tx.commit().await
    }
}

impl SystemStore {
    /// The tenant whose verified domain (or verified domain alias) `name` is, if any.
    pub async fn tenant_of_domain(&self, name: &str) -> Result<Option<Uuid>> {
        Ok(all_tenants::find::<domains::Entity>()
            .filter(domains::Column::Name.eq(name.trim_end_matches('.').to_ascii_lowercase()))
            .filter(domains::Column::Status.eq(DomainStatus::Verified))
            .one(self.store.db())
            .await?
            .map(|d| d.tenant_id))
    }

    /// Resolves a recipient address across every tenant (for the SMTP server).
    pub async fn resolve_address(&self, address: &str) -> Result<Resolution> {
        Resolver {
            db: self.store.db(),
            tenant: None,
        }
        .resolve(address)
        .await
    }
}
