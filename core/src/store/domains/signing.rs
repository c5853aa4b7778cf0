//! DKIM keys of a tenant's domains: creation (sealed at rest), rotation driven by what DNS
//! shows, and opening the signing keys for the outbound pipeline.

use super::DomainView;
use crate::domains::DomainService;
use crate::domains::dkim::{self, Algorithm};
use crate::domains::records::{RecordCheck, Status};
use crate::error::{Error, Result};
use crate::ids::new_id;
use crate::store::TenantStore;
use crate::store::Tx;
use crate::store::entities::kinds::KeyStatus;
use crate::store::entities::{dkim_keys, domains};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::json;
use uuid::Uuid;

impl TenantStore {
    /// Stores a new DKIM key of `domain`, its private half sealed.
    pub(super) async fn insert_key(
        &self,
        tx: &Tx,
        svc: &DomainService,
        domain: &domains::Model,
        key: dkim::KeyPair,
        status: KeyStatus,
        now: DateTime<Utc>,
    ) -> Result<dkim_keys::Model> {
        let id = new_id();
        let selector = dkim::new_selector(key.algorithm, now)?;
        let sealed = svc.sealer.seal(id.as_bytes(), &key.private_pkcs8)?;
        Ok(dkim_keys::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tid()),
            domain_id: Set(domain.id),
            selector: Set(selector),
            algorithm: Set(key.algorithm.as_str().into()),
            public_key: Set(key.public_b64),
            private_key: Set(sealed),
            status: Set(status),
            created_at: Set(now),
            activated_at: Set((status == KeyStatus::Active).then_some(now)),
            retire_at: Set(None),
        }
        .insert(&**tx)
        .await?)
    }

    /// DKIM rotation steps driven by what DNS shows.
    pub(super) async fn advance_dkim(
        &self,
        tx: &Tx,
        keys: &[dkim_keys::Model],
        records: &[RecordCheck],
        now: DateTime<Utc>,
        svc: &DomainService,
    ) -> Result<()> {
        let published = |k: &dkim_keys::Model| {
            records.iter().any(|r| {
                r.purpose == "dkim"
                    && r.name.starts_with(&format!("{}._domainkey.", k.selector))
                    && r.status == Status::Ok
            })
        };
        let grace = Duration::seconds(svc.cfg.dkim_rotation_grace_secs as i64);
        for new in keys
            .iter()
            .filter(|k| k.status == KeyStatus::Pending && published(k))
        {
            for old in keys
                .iter()
                .filter(|k| k.status == KeyStatus::Active && k.algorithm == new.algorithm)
            {
                let mut am: dkim_keys::ActiveModel = old.clone().into();
                am.status = Set(KeyStatus::Retiring);
                am.retire_at = Set(Some(now + grace));
                am.update(&**tx).await?;
            }
            let mut am: dkim_keys::ActiveModel = new.clone().into();
            am.status = Set(KeyStatus::Active);
            am.activated_at = Set(Some(now));
            am.update(&**tx).await?;
            self.event(
                &**tx,
                "domain.dkim_rotated",
                new.domain_id,
                json!({"selector": new.selector, "algorithm": new.algorithm}),
            )
            .await?;
        }
        for old in keys
            .iter()
            .filter(|k| k.status == KeyStatus::Retiring && k.retire_at.is_some_and(|t| t <= now))
        {
            let mut am: dkim_keys::ActiveModel = old.clone().into();
            am.status = Set(KeyStatus::Retired);
            // A retired key never signs again: its private half is destroyed.
            am.private_key = Set(String::new());
            am.update(&**tx).await?;
        }
        Ok(())
    }

    /// Starts a DKIM rotation: a new key with a new selector. The current key keeps signing until
    /// the new record is seen in DNS; then it is retired after the grace period.
    pub async fn rotate_dkim(
        &self,
        svc: &DomainService,
        id: Uuid,
        algorithm: Algorithm,
    ) -> Result<DomainView> {
        let view = self.domain(id).await?;
        if view
            .keys
            .iter()
            .any(|k| k.status == KeyStatus::Pending && k.algorithm == algorithm.as_str())
        {
            return Err(Error::conflict(
                "rotation_in_progress",
                "a new key is already waiting to be published; publish it and verify, or remove the domain's pending key first",
            ));
        }
        let key = dkim::generate(algorithm).await?;
        let now = Utc::now();
        let tx = self.store.tx().await?;
        let fresh = self.domain_on(&*tx, id).await?;
        let k = self
            .insert_key(&tx, svc, &fresh.domain, key, KeyStatus::Pending, now)
            .await?;
        self.audit(
            &*tx,
            "domain.dkim_rotate",
            "domain",
            Some(id),
            json!({"selector": k.selector, "algorithm": k.algorithm}),
        )
        .await?;
        tx.commit().await?;
        self.domain(id).await
    }

    /// Opens a domain's signing keys: the active and retiring ones.
    pub async fn signing_keys(
        &self,
        svc: &DomainService,
        id: Uuid,
    ) -> Result<Vec<(String, Algorithm, Vec<u8>)>> {
        self.open_keys(svc, id, &[KeyStatus::Active, KeyStatus::Retiring])
            .await
    }

    /// Opens the keys outgoing mail is signed with now: the active ones (one per algorithm).
    pub async fn active_signing_keys(
        &self,
        svc: &DomainService,
        id: Uuid,
    ) -> Result<Vec<(String, Algorithm, Vec<u8>)>> {
        self.open_keys(svc, id, &[KeyStatus::Active]).await
    }

    async fn open_keys(
        &self,
        svc: &DomainService,
        id: Uuid,
        statuses: &[KeyStatus],
    ) -> Result<Vec<(String, Algorithm, Vec<u8>)>> {
        let view = self.domain(id).await?;
        let mut out = Vec::new();
        for k in view.keys.iter().filter(|k| statuses.contains(&k.status)) {
            let Some(alg) = Algorithm::parse(&k.algorithm) else {
                continue;
            };
            out.push((
                k.selector.clone(),
                alg,
                svc.sealer.open(k.id.as_bytes(), &k.private_key)?,
            ));
        }
        Ok(out)
    }
}
