//! Custom domains, through the tenant-scoped store (their DKIM keys: `domains/signing.rs`).

use super::entities::kinds::{DomainStatus, KeyStatus};
use super::entities::{dkim_keys, domains, events, local_parts, mailboxes, tenants};
use super::page::{Page, PageRequest};
use super::scope::all_tenants;
use super::{TenantStore, on_unique};
use crate::domains::dkim::{self, Algorithm};
use crate::domains::records::{self, DkimEntry, Plan, RecordCheck, Status};
use crate::domains::{DomainService, normalize};
use crate::error::{Error, Result};
use crate::ids::new_id;
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use std::collections::HashSet;
use uuid::Uuid;

mod signing;

/// A domain as the API shows it.
#[derive(Debug, Clone)]
pub struct DomainView {
    /// The row.
    pub domain: domains::Model,
    /// Its DKIM keys, oldest first (private keys stay sealed).
    pub keys: Vec<dkim_keys::Model>,
    /// Another tenant holds this name verified: this claim can never be verified.
    pub owned_elsewhere: bool,
}

impl DomainView {
    /// `pending`, `verified` or `owned_by_another_tenant`.
    pub fn status(&self) -> String {
        if self.domain.status == DomainStatus::Pending && self.owned_elsewhere {
            "owned_by_another_tenant".into()
        } else {
            self.domain.status.to_value()
        }
    }

    /// The records of the last check.
    pub fn last_checks(&self) -> Vec<RecordCheck> {
        self.domain
            .check_results
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default()
    }

    /// Verified, and its MX records are right (as of the last check).
    pub fn ready_to_receive(&self) -> bool {
        self.domain.status == DomainStatus::Verified
            && records::purpose_ok(&self.last_checks(), "mx")
    }

    /// Verified, and SPF and the signing DKIM key are published (as of the last check).
    pub fn ready_to_send(&self) -> bool {
        let c = self.last_checks();
        self.domain.status == DomainStatus::Verified
            && records::purpose_ok(&c, "spf")
            && records::purpose_ok(&c, "dkim")
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The domain after the check.
    pub view: DomainView,
    /// Every record with its status.
    pub records: Vec<RecordCheck>,
}

impl TenantStore {
    /// The tenant's domains in creation order.
    pub async fn list_domains(&self, page: PageRequest) -> Result<Page<DomainView>> {
        let q = self.find::<domains::Entity>();
        let page =
            super::page::fetch_page(self.store.db(), q, domains::Column::Id, page, false, |d| {
                d.id
            })
            .await?;
        let ids: Vec<Uuid> = page.items.iter().map(|d| d.id).collect();
        let mut keys = self
            .find::<dkim_keys::Entity>()
            .filter(dkim_keys::Column::DomainId.is_in(ids))
            .order_by_asc(dkim_keys::Column::Id)
            .all(self.store.db())
            .await?;
        let elsewhere = self
            .names_verified_elsewhere(
                self.store.db(),
                page.items.iter().map(|d| d.name.clone()).collect(),
            )
            .await?;
        Ok(page.map(|d| {
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut keys)
                .into_iter()
                .partition(|k| k.domain_id == d.id);
            keys = rest;
            let owned_elsewhere = elsewhere.contains(&d.name);
            DomainView {
                domain: d,
                keys: mine,
                owned_elsewhere,
            }
        }))
    }

    /// One domain of the tenant.
    pub async fn domain(&self, id: Uuid) -> Result<DomainView> {
        self.domain_on(self.store.db(), id).await
    }

    async fn domain_on<C: ConnectionTrait>(&self, c: &C, id: Uuid) -> Result<DomainView> {
        let domain = self
            .find_by_id::<domains::Entity>(id)
            .one(c)
            .await?
            .ok_or(Error::NotFound)?;
        let keys = self
            .find::<dkim_keys::Entity>()
            .filter(dkim_keys::Column::DomainId.eq(id))
            .order_by_asc(dkim_keys::Column::Id)
            .all(c)
            .await?;
        let owned_elsewhere = !self
            .names_verified_elsewhere(c, vec![domain.name.clone()])
            .await?
            .is_empty();
        Ok(DomainView {
            domain,
            keys,
            owned_elsewhere,
        })
    }

    /// Which of `names` another tenant holds verified. Reveals only that, never the tenant.
    async fn names_verified_elsewhere<C: ConnectionTrait>(
        &self,
        c: &C,
        names: Vec<String>,
    ) -> Result<HashSet<String>> {
        if names.is_empty() {
            return Ok(HashSet::new());
        }
        // Deliberately across tenants: the point is to see other tenants' claims.
        let held: Vec<String> = all_tenants::find::<domains::Entity>()
            .select_only()
            .column(domains::Column::Name)
            .filter(domains::Column::Name.is_in(names))
            .filter(domains::Column::Status.eq(DomainStatus::Verified))
            .filter(domains::Column::TenantId.ne(self.tid()))
            .into_tuple()
            .all(c)
            .await?;
        Ok(held.into_iter().collect())
    }

    /// Adds a domain: normalises the name, checks the plan limit, and creates its ownership
    /// token and DKIM keys (RSA-2048 and Ed25519, private keys sealed).
    pub async fn create_domain(&self, svc: &DomainService, raw_name: &str) -> Result<DomainView> {
        let name = normalize(raw_name)?;
        if !self
            .names_verified_elsewhere(self.store.db(), vec![name.ascii.clone()])
            .await?
            .is_empty()
        {
            return Err(Error::conflict(
                "domain_owned_by_another_tenant",
                format!(
                    "{} is verified by another tenant; it can be added again once they remove it",
                    name.ascii
                ),
            ));
        }
        let (rsa, ed) = tokio::try_join!(
            dkim::generate(Algorithm::Rsa),
            dkim::generate(Algorithm::Ed25519)
        )?;
        let now = Utc::now();
        let tx = self.store.tx().await?;
        let tenant = all_tenants::find_by_id::<tenants::Entity>(self.tid())
            .one(&*tx)
            .await?
            .ok_or(Error::NotFound)?;
        if let Some(max) = tenant.max_domains {
            let count = self.find::<domains::Entity>().count(&*tx).await?;
            if count as i64 >= max {
                return Err(Error::PlanLimit(format!(
                    "the plan allows {max} domains; remove one or raise the limit"
                )));
            }
        }
        let token = crate::secrets::random_bytes::<16>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let domain = domains::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            name: Set(name.ascii.clone()),
            unicode_name: Set(name.unicode.clone()),
            status: Set(DomainStatus::Pending),
            verification_token: Set(token),
            dmarc_policy: Set(svc.cfg.dmarc_policy.clone()),
            verified_at: Set(None),
            last_checked_at: Set(None),
            next_check_at: Set(now.timestamp_millis()),
            check_results: Set(None),
            alias_of: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&*tx)
        .await
        .map_err(|e| on_unique(e, "domain_exists", "this tenant already has this domain"))?;
        for key in [rsa, ed] {
            self.insert_key(&tx, svc, &domain, key, KeyStatus::Active, now)
                .await?;
        }
        self.audit(
            &*tx,
            "domain.create",
            "domain",
            Some(domain.id),
            json!({"name": domain.name}),
        )
        .await?;
        tx.commit().await?;
        self.domain(domain.id).await
    }

    /// Changes the DMARC policy suggested for a domain.
    pub async fn update_domain(
        &self,
        id: Uuid,
        dmarc_policy: Option<String>,
    ) -> Result<DomainView> {
        let tx = self.store.tx().await?;
        let view = self.domain_on(&*tx, id).await?;
        if let Some(p) = dmarc_policy {
            if !matches!(p.as_str(), "none" | "quarantine" | "reject") {
                return Err(Error::invalid(
                    "dmarc_policy",
                    "must be none, quarantine or reject",
                ));
            }
            let mut am: domains::ActiveModel = view.domain.into();
            am.dmarc_policy = Set(p.clone());
            am.updated_at = Set(Utc::now());
            am.update(&*tx).await?;
            self.audit(
                &*tx,
                "domain.update",
                "domain",
                Some(id),
                json!({"dmarc_policy": p}),
            )
            .await?;
        }
        tx.commit().await?;
        self.domain(id).await
    }

    /// Removes a domain and its keys; a verified name becomes free for others. A domain that
    /// still has mailboxes, aliases or groups, or that other domains alias, is refused.
    pub async fn delete_domain(&self, id: Uuid) -> Result<()> {
        let tx = self.store.tx().await?;
        let view = self.domain_on(&*tx, id).await?;
        let in_use = self
            .find::<local_parts::Entity>()
            .filter(local_parts::Column::DomainId.eq(id))
            .count(&*tx)
            .await?;
        let mailboxes_left = self
            .find::<mailboxes::Entity>()
            .filter(mailboxes::Column::DomainId.eq(id))
            .count(&*tx)
            .await?;
        let aliased = self
            .find::<domains::Entity>()
            .filter(domains::Column::AliasOf.eq(id))
            .count(&*tx)
            .await?;
        if in_use + mailboxes_left + aliased > 0 {
            return Err(Error::conflict(
                "domain_in_use",
                "remove the domain's mailboxes, aliases and groups (and domain aliases pointing to it) first",
            ));
        }
        self.delete_many::<dkim_keys::Entity>()
            .filter(dkim_keys::Column::DomainId.eq(id))
            .exec(&*tx)
            .await?;
        self.delete_many::<domains::Entity>()
            .filter(domains::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        self.audit(
            &*tx,
            "domain.delete",
            "domain",
            Some(id),
            json!({"name": view.domain.name}),
        )
        .await?;
        tx.commit().await
    }

    fn plan(&self, svc: &DomainService, view: &DomainView) -> Plan {
        let dkim = view
            .keys
            .iter()
            .filter(|k| k.status != KeyStatus::Retired)
            .filter_map(|k| {
                let algorithm = Algorithm::parse(&k.algorithm)?;
                // Required: the RSA key that signs and a new RSA key being rotated in. Ed25519 is
                // signed alongside RSA and recommended; a retiring key may be removed from DNS.
                let required = algorithm == Algorithm::Rsa
                    && matches!(k.status, KeyStatus::Active | KeyStatus::Pending);
                Some(DkimEntry {
                    selector: k.selector.clone(),
                    algorithm,
                    public_b64: k.public_key.clone(),
                    required,
                })
            })
            .collect();
        Plan {
            domain: view.domain.name.clone(),
            verification_prefix: svc.cfg.verification_prefix.clone(),
            token: view.domain.verification_token.clone(),
            mx_hosts: svc.cfg.mx_hosts(&svc.public_hostname),
            spf_include: svc.cfg.spf_include(&svc.public_hostname),
            dmarc_policy: view.domain.dmarc_policy.clone(),
            dkim,
        }
    }

    /// Checks every record of a domain against DNS now, changing nothing.
    pub async fn dns_records(&self, svc: &DomainService, id: Uuid) -> Result<Vec<RecordCheck>> {
        let view = self.domain(id).await?;
        Ok(self.plan(svc, &view).check(&svc.dns).await)
    }

    /// Checks every record now and acts on the result, in one transaction: the domain becomes
    /// verified when its ownership record matches (unless another tenant holds it), a rotated-in
    /// DKIM key becomes active once seen, the key it replaces starts its grace period, and a
    /// verified domain whose required records break raises `domain.dns_error`.
    pub async fn verify_domain(&self, svc: &DomainService, id: Uuid) -> Result<Verification> {
        let before = self.domain(id).await?;
        let records = self.plan(svc, &before).check(&svc.dns).await;
        let now = Utc::now();
        let tx = self.store.tx().await?;
        let view = self.domain_on(&*tx, id).await?;
        let mut d = view.domain.clone();

        if records::ownership_ok(&records)
            && d.status == DomainStatus::Pending
            && !view.owned_elsewhere
        {
            let won = self
                .update_many::<domains::Entity>()
                .col_expr(
                    domains::Column::Status,
                    sea_orm::sea_query::Expr::value(DomainStatus::Verified),
                )
                .col_expr(
                    domains::Column::VerifiedAt,
                    sea_orm::sea_query::Expr::value(Some(now)),
                )
                .filter(domains::Column::Id.eq(id))
                .filter(domains::Column::Status.eq(DomainStatus::Pending))
                .exec(&*tx)
                .await;
            match won {
                Ok(r) if r.rows_affected == 1 => {
                    d.status = DomainStatus::Verified;
                    d.verified_at = Some(now);
                    self.event(&*tx, "domain.verified", id, json!({"name": d.name}))
                        .await?;
                    self.audit(
                        &*tx,
                        "domain.verified",
                        "domain",
                        Some(id),
                        json!({"name": d.name}),
                    )
                    .await?;
                }
                Ok(_) => {}
                // Another tenant verified the same name a moment earlier: the unique index
                // decided. The transaction is unusable after the violation on Postgres.
                Err(e)
                    if matches!(
                        e.sql_err(),
                        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                    ) =>
                {
                    drop(tx);
                    return Ok(Verification {
                        view: self.domain(id).await?,
                        records,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }

        self.advance_dkim(&tx, &view.keys, &records, now, svc)
            .await?;

        if d.status == DomainStatus::Verified {
            let failing = |checks: &[RecordCheck]| -> Vec<String> {
                checks
                    .iter()
                    .filter(|c| c.required && c.status != Status::Ok)
                    .map(|c| format!("{} {}", c.purpose, c.name))
                    .collect()
            };
            let (was, is) = (failing(&view.last_checks()), failing(&records));
            if !is.is_empty() && is != was {
                tracing::warn!(domain = %d.name, failing = ?is, "verified domain has DNS errors");
                self.event(
                    &*tx,
                    "domain.dns_error",
                    id,
                    json!({"name": d.name, "failing": is}),
                )
                .await?;
            } else if is.is_empty() && !was.is_empty() && view.domain.check_results.is_some() {
                self.event(&*tx, "domain.dns_recovered", id, json!({"name": d.name}))
                    .await?;
            }
        }

        let next = if d.status == DomainStatus::Pending
            && now - d.created_at < Duration::seconds(svc.cfg.pending_window_secs as i64)
        {
            svc.cfg.pending_recheck_secs
        } else {
            svc.cfg.verified_recheck_secs
        };
        let mut am: domains::ActiveModel = view.domain.clone().into();
        am.status = Set(d.status);
        am.verified_at = Set(d.verified_at);
        am.last_checked_at = Set(Some(now));
        am.next_check_at = Set(now.timestamp_millis() + next as i64 * 1000);
        am.check_results = Set(Some(serde_json::to_string(&records).unwrap_or_default()));
        am.updated_at = Set(now);
        am.update(&*tx).await?;
        tx.commit().await?;
        Ok(Verification {
            view: self.domain(id).await?,
            records,
        })
    }

    async fn event<C: ConnectionTrait>(
        &self,
        c: &C,
        kind: &str,
        object: Uuid,
        payload: serde_json::Value,
    ) -> Result<()> {
        self.record_event(c, kind, "domain", object, payload).await
    }

    /// Records an event of the tenant (for webhooks and `GET /v1/events`) on `c`, usually
    /// the transaction of the change it tells of.
    pub(crate) async fn record_event<C: ConnectionTrait>(
        &self,
        c: &C,
        kind: &str,
        object_type: &str,
        object: Uuid,
        payload: serde_json::Value,
    ) -> Result<()> {
        events::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            kind: Set(kind.into()),
            object_type: Set(object_type.into()),
            object_id: Set(Some(object)),
            payload: Set(payload.to_string()),
            created_at: Set(Utc::now()),
        }
        .insert(c)
        .await?;
        Ok(())
    }

    /// The tenant's events, newest first.
    pub async fn list_events(
        &self,
        kind: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<events::Model>> {
        let mut q = self.find::<events::Entity>();
        if let Some(k) = kind {
            q = q.filter(events::Column::Kind.eq(k));
        }
        super::page::fetch_page(self.store.db(), q, events::Column::Id, page, true, |e| e.id).await
    }
}
