//! API keys, through the tenant-scoped store.

use super::entities::api_keys;
use super::page::{Page, PageRequest};
use super::{TenantStore, on_unique};
use crate::auth::{API_KEY_PREFIX, Role, Scope, sha256_hex};
use crate::auth::{parse_scopes, random_token};
use crate::error::{Error, Result};
use crate::ids::new_id;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, Select, Set};
use serde_json::json;
use uuid::Uuid;

/// How many characters of a key are kept in clear to tell keys apart.
const SHOWN_PREFIX_LEN: usize = 12;

/// An API key to create.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// A name people recognise ("CRM sync").
    pub name: String,
    /// What it may do; never more than its creator may.
    pub scopes: Vec<Scope>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored key with its parsed scopes.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    /// The row (its hash is never shown).
    pub key: api_keys::Model,
    /// The scopes it carries.
    pub scopes: Vec<Scope>,
}

impl From<api_keys::Model> for ApiKeyRecord {
    fn from(key: api_keys::Model) -> Self {
        let scopes = parse_scopes(&key.scopes);
        Self { key, scopes }
    }
}

impl TenantStore {
    /// Members see and manage only the keys they created; admins and owners see all.
    fn visible_keys(&self) -> Select<api_keys::Entity> {
        let q = self.find::<api_keys::Entity>();
        match (self.actor.role, self.actor.user_id) {
            (Role::Member, Some(uid)) => q.filter(api_keys::Column::CreatedBy.eq(uid)),
            _ => q,
        }
    }

    /// The keys visible to the actor, in creation order.
    pub async fn list_api_keys(&self, page: PageRequest) -> Result<Page<ApiKeyRecord>> {
        let q = self.visible_keys();
        Ok(
            super::page::fetch_page(self.store.db(), q, api_keys::Column::Id, page, false, |k| {
                k.id
            })
            .await?
            .map(ApiKeyRecord::from),
        )
    }

    /// One key visible to the actor.
    pub async fn api_key(&self, id: Uuid) -> Result<ApiKeyRecord> {
        let key = self
            .visible_keys()
            .filter(api_keys::Column::Id.eq(id))
            .one(self.store.db())
            .await?;
        key.map(ApiKeyRecord::from).ok_or(Error::NotFound)
    }

    /// Creates a key and returns it with its secret, which is not stored and cannot be shown
    /// again. Write scopes bring their read scope along.
    pub async fn create_api_key(&self, new: NewApiKey) -> Result<(ApiKeyRecord, String)> {
        let Some(creator) = self.actor.user_id else {
            return Err(Error::forbidden(
                "user_required",
                "API keys are created by users",
            ));
        };
        if new.scopes.is_empty() {
            return Err(Error::invalid("scopes", "must name at least one scope"));
        }
        let mut scopes = new.scopes.clone();
        scopes.extend(new.scopes.iter().filter_map(|s| s.implied_read()));
        scopes.sort();
        scopes.dedup();
        if let Some(s) = scopes.iter().find(|s| !self.actor.scopes.contains(s)) {
            return Err(Error::forbidden(
                "scope_exceeds_rights",
                format!(
                    "you cannot grant {}: you do not hold it yourself",
                    s.as_str()
                ),
            ));
        }
        if new.expires_at.is_some_and(|e| e <= Utc::now()) {
            return Err(Error::invalid("expires_at", "must be in the future"));
        }
        let secret = random_token(API_KEY_PREFIX)?;
        let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let tx = self.store.tx().await?;
        let key = api_keys::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            created_by: Set(creator),
            name: Set(new.name),
            prefix: Set(secret.chars().take(SHOWN_PREFIX_LEN).collect()),
            key_hash: Set(sha256_hex(&secret)),
            scopes: Set(json!(names).to_string()),
            created_at: Set(Utc::now()),
            expires_at: Set(new.expires_at),
            last_used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(&*tx)
        .await
        .map_err(|e| on_unique(e, "key_collision", "try again"))?;
        self.audit(
            &*tx,
            "api_key.create",
            "api_key",
            Some(key.id),
            json!({"name": key.name, "scopes": names}),
        )
        .await?;
        tx.commit().await?;
        Ok((ApiKeyRecord::from(key), secret))
    }

    /// Revokes a key; it stops working at once. Revoking twice is not an error.
    pub async fn revoke_api_key(&self, id: Uuid) -> Result<()> {
        let tx = self.store.tx().await?;
        let key = self
            .visible_keys()
            .filter(api_keys::Column::Id.eq(id))
            .one(&*tx)
            .await?
            .ok_or(Error::NotFound)?;
        if key.revoked_at.is_none() {
            self.update_many::<api_keys::Entity>()
                .col_expr(api_keys::Column::RevokedAt, Expr::value(Some(Utc::now())))
                .filter(api_keys::Column::Id.eq(id))
                .exec(&*tx)
                .await?;
            self.audit(
                &*tx,
                "api_key.revoke",
                "api_key",
                Some(id),
                json!({"name": key.name}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
