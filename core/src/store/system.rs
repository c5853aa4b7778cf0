//! Unscoped access: authentication look-ups, bootstrap, jobs and purges. Nothing here is
//! reachable from a request handler except through [`crate::auth::Auth`].

use super::audit::{self, Actor};
use super::entities::kinds::DomainStatus;
use super::entities::kinds::UserStatus;
use super::entities::{
    aliases, api_keys, app_passwords, audit_log, contacts, dkim_keys, domains, events, greylist,
    group_members, groups, jobs as job_rows, local_parts, mailboxes, outbound, outbound_recipients,
    refresh_tokens, rules, rules_versions, sessions, spam_learned, spam_lists, spam_quarantine,
    spam_settings, spam_tokens, suppressions, tenants, users, vacation_replies, vacations,
};
use super::platform::PlatformStore;
use super::scope::{Tenant, all_tenants};
use super::users::{delete_user_rows, revoke_user_sessions};
use super::{Store, on_unique};
use crate::auth::{Account, LoginKind};
use crate::auth::{ClientInfo, Role, hash_password};
use crate::error::{Error, Result};
use crate::ids::new_id;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::json;
use uuid::Uuid;

/// The unscoped handle.
#[derive(Clone)]
pub struct SystemStore {
    pub(crate) store: Store,
}

impl SystemStore {
    pub(crate) fn new(store: Store) -> Self {
        Self { store }
    }

    /// The process's health state.
    pub fn health(&self) -> &crate::health::Health {
        self.store.health()
    }

    /// A platform handle acting as Mailroom itself (for the `admin` CLI).
    pub fn platform(&self, label: &str) -> PlatformStore {
        PlatformStore::new(self.store.clone(), Actor::system(label))
    }

    pub(crate) async fn user_by_email(&self, email: &str) -> Result<Option<users::Model>> {
        Ok(all_tenants::find::<users::Entity>()
            .filter(users::Column::Email.eq(email))
            .one(self.store.db())
            .await?)
    }

    pub(crate) async fn user(&self, id: Uuid) -> Result<Option<users::Model>> {
        Ok(all_tenants::find_by_id::<users::Entity>(id)
            .one(self.store.db())
            .await?)
    }

    pub(crate) async fn live_tenant(&self, id: Uuid) -> Result<Option<tenants::Model>> {
        Ok(all_tenants::find_by_id::<tenants::Entity>(id)
            .filter(tenants::Column::DeletedAt.is_null())
            .one(self.store.db())
            .await?)
    }

    pub(crate) async fn session(&self, id: Uuid) -> Result<Option<sessions::Model>> {
        Ok(all_tenants::find_by_id::<sessions::Entity>(id)
            .one(self.store.db())
            .await?)
    }

    pub(crate) async fn open_session(
        &self,
        account: &Account,
        client: &ClientInfo,
        ttl: Duration,
    ) -> Result<Uuid> {
        let now = Utc::now();
        let (user_id, mailbox_id) = match account {
            Account::User(u) => (Some(u.id), None),
            Account::Mailbox(m) => (None, Some(m.id)),
        };
        let w = self.store.writer_quiet().await;
        let s = sessions::ActiveModel {
            id: Set(new_id()),
            user_id: Set(user_id),
            mailbox_id: Set(mailbox_id),
            tenant_id: Set(account.tenant_id()),
            ip: Set(client.ip.clone()),
            user_agent: Set(client
                .user_agent
                .as_ref()
                .map(|u| u.chars().take(512).collect())),
            created_at: Set(now),
            expires_at: Set(now + ttl),
            revoked_at: Set(None),
        }
        .insert(&*w)
        .await?;
        Ok(s.id)
    }

    /// The accounts a login names: a user with that email, then a live mailbox with that
    /// address (a person may have both, with different passwords).
    pub(crate) async fn account_by_login(
        &self,
        login: &str,
        kind: Option<LoginKind>,
    ) -> Result<Option<Account>> {
        // Both look-ups run whatever they find, so an answer takes as long for any address.
        let user = self.user_by_email(login).await?;
        let mailbox = all_tenants::find::<mailboxes::Entity>()
            .filter(mailboxes::Column::Address.eq(login))
            .filter(mailboxes::Column::DeletedAt.is_null())
            .one(self.store.db())
            .await?;
        Ok(match kind {
            Some(LoginKind::User) => user.map(Account::User),
            Some(LoginKind::Mailbox) => mailbox.map(Account::Mailbox),
            None => user.map(Account::User).or(mailbox.map(Account::Mailbox)),
        })
    }

    /// A user, or a live mailbox, by id.
    pub(crate) async fn account(&self, id: Uuid, mailbox: bool) -> Result<Option<Account>> {
        if mailbox {
            let m = all_tenants::find_by_id::<mailboxes::Entity>(id)
                .filter(mailboxes::Column::DeletedAt.is_null())
                .one(self.store.db())
                .await?;
            Ok(m.map(Account::Mailbox))
        } else {
            Ok(self.user(id).await?.map(Account::User))
        }
    }

    /// The account a session belongs to.
    pub(crate) async fn account_of_session(&self, s: &sessions::Model) -> Result<Option<Account>> {
        match (s.user_id, s.mailbox_id) {
            (Some(u), _) => self.account(u, false).await,
            (None, Some(m)) => self.account(m, true).await,
            (None, None) => Ok(None),
        }
    }

    /// The live app password of a mailbox with this lookup key (id, argon2 hash), if any.
    pub(crate) async fn app_password_by_lookup(
        &self,
        mailbox: Uuid,
        lookup: &str,
    ) -> Result<Option<(Uuid, String)>> {
        Ok(all_tenants::find::<app_passwords::Entity>()
            .select_only()
            .column(app_passwords::Column::Id)
            .column(app_passwords::Column::PasswordHash)
            .filter(app_passwords::Column::MailboxId.eq(mailbox))
            .filter(app_passwords::Column::Lookup.eq(lookup))
            .filter(app_passwords::Column::RevokedAt.is_null())
            .into_tuple()
            .one(self.store.db())
            .await?)
    }

    pub(crate) async fn touch_app_password(&self, id: Uuid) -> Result<()> {
        let w = self.store.writer_quiet().await;
        all_tenants::update_many::<app_passwords::Entity>()
            .col_expr(
                app_passwords::Column::LastUsedAt,
                Expr::value(Some(Utc::now())),
            )
            .filter(app_passwords::Column::Id.eq(id))
            .exec(&*w)
            .await?;
        Ok(())
    }

    pub(crate) async fn add_refresh_token(
        &self,
        session: Uuid,
        hash: &str,
        ttl: Duration,
    ) -> Result<()> {
        let now = Utc::now();
        let w = self.store.writer_quiet().await;
        refresh_tokens::ActiveModel {
            id: Set(new_id()),
            session_id: Set(session),
            token_hash: Set(hash.to_string()),
            created_at: Set(now),
            expires_at: Set(now + ttl),
            used_at: Set(None),
        }
        .insert(&*w)
        .await?;
        Ok(())
    }

    pub(crate) async fn refresh_token(
        &self,
        hash: &str,
    ) -> Result<Option<(refresh_tokens::Model, sessions::Model)>> {
        let Some(tok) = all_tenants::find::<refresh_tokens::Entity>()
            .filter(refresh_tokens::Column::TokenHash.eq(hash))
            .one(self.store.db())
            .await?
        else {
            return Ok(None);
        };
        Ok(self.session(tok.session_id).await?.map(|s| (tok, s)))
    }

    /// Marks a refresh token used; false when another request used it first.
    pub(crate) async fn mark_refresh_used(&self, id: Uuid) -> Result<bool> {
        let w = self.store.writer_quiet().await;
        let r = all_tenants::update_many::<refresh_tokens::Entity>()
            .col_expr(
                refresh_tokens::Column::UsedAt,
                Expr::value(Some(Utc::now())),
            )
            .filter(refresh_tokens::Column::Id.eq(id))
            .filter(refresh_tokens::Column::UsedAt.is_null())
            .exec(&*w)
            .await?;
        Ok(r.rows_affected == 1)
    }

    pub(crate) async fn revoke_session(&self, id: Uuid) -> Result<()> {
        let w = self.store.writer().await;
        all_tenants::update_many::<sessions::Entity>()
            .col_expr(sessions::Column::RevokedAt, Expr::value(Some(Utc::now())))
            .filter(sessions::Column::Id.eq(id))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec(&*w)
            .await?;
        Ok(())
    }

    pub(crate) async fn touch_api_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<()> {
        let w = self.store.writer_quiet().await;
        all_tenants::update_many::<api_keys::Entity>()
            .col_expr(api_keys::Column::LastUsedAt, Expr::value(Some(now)))
            .filter(api_keys::Column::Id.eq(id))
            .exec(&*w)
            .await?;
        Ok(())
    }

    pub(crate) async fn record_login(&self, account: &Account, client: &ClientInfo) -> Result<()> {
        let tx = self.store.tx_quiet().await?;
        let (kind, role) = match account {
            Account::User(u) => {
                all_tenants::update_many::<users::Entity>()
                    .col_expr(users::Column::LastLoginAt, Expr::value(Some(Utc::now())))
                    .filter(users::Column::Id.eq(u.id))
                    .exec(&*tx)
                    .await?;
                let role = Role::parse(&u.role).unwrap_or(Role::Member);
                (
                    if role == Role::PlatformAdmin {
                        audit::ActorKind::PlatformAdmin
                    } else {
                        audit::ActorKind::User
                    },
                    role,
                )
            }
            Account::Mailbox(_) => (audit::ActorKind::Mailbox, Role::Mailbox),
        };
        let actor = Actor {
            kind,
            id: Some(account.id()),
            label: account.login().to_string(),
            ip: client.ip.clone(),
            request_id: client.request_id.clone(),
            user_id: (!account.is_mailbox()).then(|| account.id()),
            role,
            scopes: Vec::new(),
            mailbox: None,
        };
        let object = if account.is_mailbox() {
            "mailbox"
        } else {
            "user"
        };
        audit::record(
            &*tx,
            account.tenant_id(),
            &actor,
            "auth.login",
            object,
            Some(account.id()),
            json!({}),
        )
        .await?;
        tx.commit().await
    }

    /// Sets an account's password hash and ends every session but `keep`.
    pub(crate) async fn set_password(
        &self,
        account: &Account,
        hash: &str,
        keep: Option<Uuid>,
        actor: &Actor,
    ) -> Result<()> {
        let tx = self.store.tx().await?;
        let now = Utc::now();
        let mut q = all_tenants::update_many::<sessions::Entity>()
            .col_expr(sessions::Column::RevokedAt, Expr::value(Some(now)))
            .filter(sessions::Column::RevokedAt.is_null());
        let object = match account {
            Account::User(u) => {
                all_tenants::update_many::<users::Entity>()
                    .col_expr(users::Column::PasswordHash, Expr::value(hash))
                    .col_expr(users::Column::UpdatedAt, Expr::value(now))
                    .filter(users::Column::Id.eq(u.id))
                    .exec(&*tx)
                    .await?;
                q = q.filter(sessions::Column::UserId.eq(u.id));
                "user"
            }
            Account::Mailbox(m) => {
                all_tenants::update_many::<mailboxes::Entity>()
                    .col_expr(mailboxes::Column::PasswordHash, Expr::value(hash))
                    .col_expr(mailboxes::Column::UpdatedAt, Expr::value(now))
                    .filter(mailboxes::Column::Id.eq(m.id))
                    .exec(&*tx)
                    .await?;
                q = q.filter(sessions::Column::MailboxId.eq(m.id));
                "mailbox"
            }
        };
        if let Some(k) = keep {
            q = q.filter(sessions::Column::Id.ne(k));
        }
        q.exec(&*tx).await?;
        let action = format!("{object}.password_change");
        audit::record(
            &*tx,
            account.tenant_id(),
            actor,
            &action,
            object,
            Some(account.id()),
            json!({}),
        )
        .await?;
        tx.commit().await
    }

    /// Creates a platform admin. Fails with `email_taken` when the email is in use.
    pub async fn create_platform_admin(
        &self,
        email: &str,
        name: &str,
        password: &str,
    ) -> Result<users::Model> {
        // Every offending field at once.
        let mut c = crate::validate::Checker::new();
        let email = c.take(crate::validate::normalize_email("email", email));
        c.push(crate::validate::password("password", password))
            .finish()?;
        let hash = hash_password(password).await?;
        let now = Utc::now();
        let tx = self.store.tx().await?;
        let user = users::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(None),
            email: Set(email),
            name: Set(name.to_string()),
            password_hash: Set(hash),
            role: Set(Role::PlatformAdmin.as_str().into()),
            status: Set(UserStatus::Active),
            created_at: Set(now),
            updated_at: Set(now),
            last_login_at: Set(None),
        }
        .insert(&*tx)
        .await
        .map_err(|e| on_unique(e, "email_taken", "a user with this email already exists"))?;
        audit::record(
            &*tx,
            None,
            &Actor::system("cli"),
            "platform_admin.create",
            "user",
            Some(user.id),
            json!({"email": user.email}),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Creates the platform admin named by the bootstrap settings unless that email exists.
    /// Returns true when it created one.
    pub async fn ensure_platform_admin(&self, email: &str, password: &str) -> Result<bool> {
        let normalized = email.trim().to_ascii_lowercase();
        if self.user_by_email(&normalized).await?.is_some() {
            return Ok(false);
        }
        match self
            .create_platform_admin(email, "Platform admin", password)
            .await
        {
            Ok(_) => Ok(true),
            // Another replica bootstrapped it at the same moment.
            Err(Error::Conflict {
                code: "email_taken",
                ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sets a user's password and ends their sessions (the `admin reset-password` command).
    pub async fn reset_password(&self, email: &str, password: &str) -> Result<()> {
        crate::validate::Checker::new()
            .push(crate::validate::password("password", password))
            .finish()?;
        let user = self
            .user_by_email(&email.trim().to_ascii_lowercase())
            .await?
            .ok_or(Error::NotFound)?;
        let hash = hash_password(password).await?;
        let tx = self.store.tx().await?;
        let mut am: users::ActiveModel = user.clone().into();
        am.password_hash = Set(hash);
        am.status = Set(UserStatus::Active);
        am.updated_at = Set(Utc::now());
        am.update(&*tx).await?;
        revoke_user_sessions(&*tx, user.id).await?;
        audit::record(
            &*tx,
            user.tenant_id,
            &Actor::system("cli"),
            "user.reset_password",
            "user",
            Some(user.id),
            json!({}),
        )
        .await?;
        tx.commit().await
    }

    /// Removes every row of a soft-deleted tenant, then the tenant. Idempotent: purging a
    /// tenant already gone, or one not deleted, changes nothing and returns false.
    pub async fn purge_tenant(&self, tenant: Uuid) -> Result<bool> {
        let tx = self.store.tx().await?;
        let Some(t) = all_tenants::find_by_id::<tenants::Entity>(tenant)
            .one(&*tx)
            .await?
        else {
            return Ok(false);
        };
        if t.deleted_at.is_none() {
            return Ok(false);
        }
        let user_ids: Vec<Uuid> = Tenant(tenant)
            .find::<users::Entity>()
            .select_only()
            .column(users::Column::Id)
            .into_tuple()
            .all(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<api_keys::Entity>()
            .exec(&*tx)
            .await?;
        delete_user_rows(&*tx, &user_ids).await?;
        let mailbox_ids: Vec<Uuid> = Tenant(tenant)
            .find::<mailboxes::Entity>()
            .select_only()
            .column(mailboxes::Column::Id)
            .into_tuple()
            .all(&*tx)
            .await?;
        for m in mailbox_ids {
            super::mailboxes::purge_mailbox_rows(&*tx, m).await?;
        }
        Tenant(tenant)
            .delete_many::<contacts::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<group_members::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<groups::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<aliases::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<local_parts::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<dkim_keys::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<domains::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<events::Entity>()
            .exec(&*tx)
            .await?;
        // The queue (with the bytes of messages not yet delivered) and the suppression list.
        Tenant(tenant)
            .delete_many::<outbound_recipients::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<outbound::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<suppressions::Entity>()
            .exec(&*tx)
            .await?;
        // What its users taught the spam filter, and its settings.
        Tenant(tenant)
            .delete_many::<spam_tokens::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<spam_learned::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<spam_lists::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<spam_quarantine::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<spam_settings::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<greylist::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<rules::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<rules_versions::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<vacations::Entity>()
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<vacation_replies::Entity>()
            .exec(&*tx)
            .await?;
        // Its other jobs would find nothing to do; the purge job stays as its record.
        all_tenants::delete_many::<job_rows::Entity>()
            .filter(job_rows::Column::TenantId.eq(tenant))
            .filter(job_rows::Column::Kind.ne(crate::jobs::TENANT_PURGE))
            .exec(&*tx)
            .await?;
        Tenant(tenant)
            .delete_many::<audit_log::Entity>()
            .exec(&*tx)
            .await?;
        all_tenants::delete_many::<tenants::Entity>()
            .filter(tenants::Column::Id.eq(tenant))
            .exec(&*tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A tenant store acting as Mailroom itself, for a job working on a tenant's data; `None`
    /// when the tenant is gone or deleted.
    pub async fn tenant_for_job(
        &self,
        tenant: Uuid,
        job: &str,
    ) -> Result<Option<super::TenantStore>> {
        if self.live_tenant(tenant).await?.is_none() {
            return Ok(None);
        }
        let id = crate::ids::TenantId::from_uuid(tenant);
        Ok(Some(super::TenantStore::new(
            self.store.clone(),
            id,
            Actor::system(job),
        )))
    }

    /// Enqueues a `domain.check` job for every domain whose re-check is due (at most `limit`)
    /// and returns how many. Each domain is taken with a conditional update, so several workers
    /// scheduling at once never enqueue the same check twice.
    pub async fn schedule_domain_checks(&self, limit: u64, hold: Duration) -> Result<usize> {
        let now = Utc::now().timestamp_millis();
        let due = all_tenants::find::<domains::Entity>()
            .filter(domains::Column::NextCheckAt.lte(now))
            .order_by_asc(domains::Column::NextCheckAt)
            .limit(limit)
            .all(self.store.db())
            .await?;
        let mut n = 0;
        for d in due {
            let tx = self.store.tx_quiet().await?;
            // Until the job records the real next time, hold the domain off the schedule.
            let taken = all_tenants::update_many::<domains::Entity>()
                .col_expr(
                    domains::Column::NextCheckAt,
                    Expr::value(now + hold.num_milliseconds()),
                )
                .filter(domains::Column::Id.eq(d.id))
                .filter(domains::Column::NextCheckAt.eq(d.next_check_at))
                .exec(&*tx)
                .await?;
            if taken.rows_affected == 1 {
                let job =
                    crate::jobs::NewJob::new(crate::jobs::DOMAIN_CHECK, json!({"domain_id": d.id}))
                        .tenant(d.tenant_id)
                        .max_attempts(3);
                super::jobs::enqueue(&*tx, job).await?;
                n += 1;
            }
            tx.commit().await?;
        }
        Ok(n)
    }

    /// Removes every row of a deleted mailbox. Idempotent: a mailbox already gone, or not
    /// deleted, is left alone and false returned.
    pub async fn purge_mailbox(&self, mailbox: Uuid) -> Result<bool> {
        let tx = self.store.tx().await?;
        let Some(m) = all_tenants::find_by_id::<mailboxes::Entity>(mailbox)
            .one(&*tx)
            .await?
        else {
            return Ok(false);
        };
        if m.deleted_at.is_none() {
            return Ok(false);
        }
        super::mailboxes::purge_mailbox_rows(&*tx, mailbox).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// For `mailroom bench` only: marks a domain verified without asking DNS.
    pub async fn bench_mark_verified(&self, domain: Uuid) -> Result<()> {
        let w = self.store.writer().await;
        all_tenants::update_many::<domains::Entity>()
            .col_expr(domains::Column::Status, Expr::value(DomainStatus::Verified))
            .col_expr(domains::Column::VerifiedAt, Expr::value(Some(Utc::now())))
            .filter(domains::Column::Id.eq(domain))
            .exec(&*w)
            .await?;
        Ok(())
    }

    /// A job by id.
    pub async fn job(&self, id: Uuid) -> Result<Option<job_rows::Model>> {
        Ok(all_tenants::find_by_id::<job_rows::Entity>(id)
            .one(self.store.db())
            .await?)
    }
}
