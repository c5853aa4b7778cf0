//! Greylisting state in the database (used when no Redis is configured) and the sweep that
//! removes lapsed triplets and quarantined messages past their tenant's retention.

use super::entities::{greylist, spam_quarantine};
use super::scope::all_tenants;
use super::{SystemStore, TenantStore};
use crate::error::Result;
use crate::spam::greylist::{Grey, PASS_TTL, RETRY_WINDOW};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

/// Quarantined messages deleted per tenant and sweep.
const SWEEP_BATCH: u64 = 1000;

impl TenantStore {
    /// Looks up (and records) `triplet` at `now`: passes a triplet that already passed, or
    /// one retried at least `delay` after it was first seen; asks anything else to wait.
    pub async fn greylist_db(
        &self,
        triplet: &str,
        delay: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<Grey> {
        let db = self.store.db();
        let row = self
            .find::<greylist::Entity>()
            .filter(greylist::Column::Triplet.eq(triplet))
            .one(db)
            .await?;
        let (first_seen, passed) = match row {
            Some(r) if r.expires_at > now => (r.first_seen, r.passed_at.is_some()),
            // New, or lapsed: it starts over.
            _ => {
                greylist::Entity::insert(greylist::ActiveModel {
                    tenant_id: Set(self.tid()),
                    triplet: Set(triplet.to_string()),
                    first_seen: Set(now),
                    passed_at: Set(None),
                    expires_at: Set(now + RETRY_WINDOW),
                })
                .on_conflict(
                    OnConflict::columns([greylist::Column::TenantId, greylist::Column::Triplet])
                        .update_columns([
                            greylist::Column::FirstSeen,
                            greylist::Column::PassedAt,
                            greylist::Column::ExpiresAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
                return Ok(Grey::Wait(delay));
            }
        };
        if passed {
            return Ok(Grey::Pass);
        }
        let waited = now - first_seen;
        if waited < delay {
            return Ok(Grey::Wait(delay - waited));
        }
        self.update_many::<greylist::Entity>()
            .filter(greylist::Column::Triplet.eq(triplet))
            .col_expr(
                greylist::Column::PassedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .col_expr(
                greylist::Column::ExpiresAt,
                sea_orm::sea_query::Expr::value(now + PASS_TTL),
            )
            .exec(db)
            .await?;
        Ok(Grey::Pass)
    }
}

impl SystemStore {
    /// Deletes lapsed greylisting triplets and quarantined messages older than their tenant's
    /// `quarantine_days` (a batch per tenant at a time); returns how many rows went.
    pub async fn sweep_spam_state(&self, now: DateTime<Utc>) -> Result<u64> {
        let db = self.store.db();
        let mut gone = all_tenants::delete_many::<greylist::Entity>()
            .filter(greylist::Column::ExpiresAt.lte(now))
            .exec(db)
            .await?
            .rows_affected;
        let tenants: Vec<uuid::Uuid> = all_tenants::find::<spam_quarantine::Entity>()
            .select_only()
            .column(spam_quarantine::Column::TenantId)
            .distinct()
            .into_tuple()
            .all(db)
            .await?;
        for tenant in tenants {
            let ts = self.spam_store(tenant);
            let days = ts.spam_settings().await?.quarantine_days;
            let cutoff = now - chrono::Duration::days(i64::from(days));
            let old: Vec<uuid::Uuid> = ts
                .find::<spam_quarantine::Entity>()
                .select_only()
                .column(spam_quarantine::Column::Id)
                .filter(spam_quarantine::Column::CreatedAt.lt(cutoff))
                .limit(SWEEP_BATCH)
                .into_tuple()
                .all(db)
                .await?;
            if old.is_empty() {
                continue;
            }
            gone += ts
                .delete_many::<spam_quarantine::Entity>()
                .filter(spam_quarantine::Column::Id.is_in(old))
                .exec(db)
                .await?
                .rows_affected;
        }
        Ok(gone)
    }
}
