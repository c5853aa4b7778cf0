//! Tenant users (owners, admins, members), through the tenant-scoped store.

use super::entities::kinds::UserStatus;
use super::entities::{api_keys, refresh_tokens, sessions, users};
use super::page::{Page, PageRequest};
use super::scope::all_tenants;
use super::{TenantStore, on_unique};
use crate::auth::{Role, hash_password};
use crate::error::{Error, Result};
use crate::ids::new_id;
use chrono::Utc;
use sea_orm::ActiveEnum;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, PaginatorTrait, QueryFilter, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Normalised (lower-case) email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Password in clear (hashed here).
    pub password: String,
    /// Owner, admin or member.
    pub role: Role,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// New display name.
    pub name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New password (ends every session of the user).
    pub password: Option<String>,
    /// `active` or `disabled` (disabling ends every session).
    pub status: Option<String>,
}

impl TenantStore {
    /// The tenant's users in creation order.
    pub async fn list_users(&self, page: PageRequest) -> Result<Page<users::Model>> {
        let q = self.find::<users::Entity>();
        super::page::fetch_page(self.store.db(), q, users::Column::Id, page, false, |u| u.id).await
    }

    /// One user of the tenant.
    pub async fn user(&self, id: Uuid) -> Result<users::Model> {
        self.user_on(self.store.db(), id).await
    }

    async fn user_on<C: ConnectionTrait>(&self, c: &C, id: Uuid) -> Result<users::Model> {
        self.find_by_id::<users::Entity>(id)
            .one(c)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Creates a user. Only owners may create owners.
    pub async fn create_user(&self, new: NewUser) -> Result<users::Model> {
        if new.role == Role::PlatformAdmin {
            return Err(Error::invalid("role", "must be owner, admin or member"));
        }
        if new.role == Role::Owner {
            self.require_owner()?;
        }
        let hash = hash_password(&new.password).await?;
        let now = Utc::now();
        let tx = self.store.tx().await?;
        let user = users::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(Some(self.tid())),
            email: Set(new.email.clone()),
            name: Set(new.name),
            password_hash: Set(hash),
            role: Set(new.role.as_str().into()),
            status: Set(UserStatus::Active),
            created_at: Set(now),
            updated_at: Set(now),
            last_login_at: Set(None),
        }
        .insert(&*tx)
        .await
        .map_err(|e| on_unique(e, "email_taken", "a user with this email already exists"))?;
        self.audit(
            &*tx,
            "user.create",
            "user",
            Some(user.id),
            json!({"email": user.email, "role": user.role}),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Changes a user. Owners may only be changed by owners, and the last active owner can be
    /// neither demoted nor disabled.
    pub async fn update_user(&self, id: Uuid, patch: UserPatch) -> Result<users::Model> {
        if patch.role == Some(Role::PlatformAdmin) {
            return Err(Error::invalid("role", "must be owner, admin or member"));
        }
        let status = match &patch.status {
            Some(s) => Some(
                UserStatus::try_from_value(s)
                    .map_err(|_| Error::invalid("status", "must be active or disabled"))?,
            ),
            None => None,
        };
        let hash = match &patch.password {
            Some(p) => Some(hash_password(p).await?),
            None => None,
        };
        let tx = self.store.tx().await?;
        let user = self.user_on(&*tx, id).await?;
        if user.role == Role::Owner.as_str() || patch.role == Some(Role::Owner) {
            self.require_owner()?;
        }
        let loses_owner = user.role == Role::Owner.as_str()
            && user.status == UserStatus::Active
            && (patch.role.is_some_and(|r| r != Role::Owner)
                || status == Some(UserStatus::Disabled));
        if loses_owner {
            self.ensure_other_owner(&*tx, id).await?;
        }
        let ends_sessions = hash.is_some() || status == Some(UserStatus::Disabled);
        let mut changed = serde_json::Map::new();
        let mut am: users::ActiveModel = user.into();
        if let Some(n) = patch.name {
            changed.insert("name".into(), json!(n));
            am.name = Set(n);
        }
        if let Some(r) = patch.role {
            changed.insert("role".into(), json!(r.as_str()));
            am.role = Set(r.as_str().into());
        }
        if let Some(s) = status {
            changed.insert("status".into(), json!(s.to_string()));
            am.status = Set(s);
        }
        if let Some(h) = hash {
            changed.insert("password".into(), json!("changed"));
            am.password_hash = Set(h);
        }
        am.updated_at = Set(Utc::now());
        let user = am.update(&*tx).await?;
        if ends_sessions {
            revoke_user_sessions(&*tx, id).await?;
        }
        self.audit(
            &*tx,
            "user.update",
            "user",
            Some(id),
            serde_json::Value::Object(changed),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Deletes a user, their sessions and their API keys.
    pub async fn delete_user(&self, id: Uuid) -> Result<()> {
        let tx = self.store.tx().await?;
        let user = self.user_on(&*tx, id).await?;
        if user.role == Role::Owner.as_str() {
            self.require_owner()?;
            if user.status == UserStatus::Active {
                self.ensure_other_owner(&*tx, id).await?;
            }
        }
        delete_user_rows(&*tx, &[id]).await?;
        self.audit(
            &*tx,
            "user.delete",
            "user",
            Some(id),
            json!({"email": user.email}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    fn require_owner(&self) -> Result<()> {
        if self.actor.role == Role::Owner {
            Ok(())
        } else {
            Err(Error::forbidden(
                "owner_required",
                "only an owner may create, change or delete owners",
            ))
        }
    }

    async fn ensure_other_owner<C: ConnectionTrait>(&self, c: &C, except: Uuid) -> Result<()> {
        let others = self
            .find::<users::Entity>()
            .filter(users::Column::Role.eq(Role::Owner.as_str()))
            .filter(users::Column::Status.eq(UserStatus::Active))
            .filter(users::Column::Id.ne(except))
            .count(c)
            .await?;
        if others == 0 {
            Err(Error::conflict(
                "last_owner",
                "a tenant must keep at least one active owner",
            ))
        } else {
            Ok(())
        }
    }
}

/// Revokes every session of a user.
pub(crate) async fn revoke_user_sessions<C: ConnectionTrait>(c: &C, user: Uuid) -> Result<()> {
    all_tenants::update_many::<sessions::Entity>()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(sessions::Column::UserId.eq(user))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(c)
        .await?;
    Ok(())
}

/// Deletes users with everything that hangs off them (tokens, sessions, keys).
pub(crate) async fn delete_user_rows<C: ConnectionTrait>(c: &C, ids: &[Uuid]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let session_ids: Vec<Uuid> = all_tenants::find::<sessions::Entity>()
        .select_only()
        .column(sessions::Column::Id)
        .filter(sessions::Column::UserId.is_in(ids.to_vec()))
        .into_tuple()
        .all(c)
        .await?;
    for chunk in session_ids.chunks(500) {
        all_tenants::delete_many::<refresh_tokens::Entity>()
            .filter(refresh_tokens::Column::SessionId.is_in(chunk.to_vec()))
            .exec(c)
            .await?;
    }
    all_tenants::delete_many::<sessions::Entity>()
        .filter(sessions::Column::UserId.is_in(ids.to_vec()))
        .exec(c)
        .await?;
    all_tenants::delete_many::<api_keys::Entity>()
        .filter(api_keys::Column::CreatedBy.is_in(ids.to_vec()))
        .exec(c)
        .await?;
    all_tenants::delete_many::<users::Entity>()
        .filter(users::Column::Id.is_in(ids.to_vec()))
        .exec(c)
        .await?;
    Ok(())
}
