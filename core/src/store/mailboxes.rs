//! Mailboxes, through the tenant-scoped store (their app passwords: `app_passwords.rs`). A mailbox owner's store is
//! confined to its own mailbox: any other mailbox id is simply not found.

use super::entities::kinds::DomainStatus;
use super::entities::kinds::MailboxStatus;
use super::entities::{
    app_passwords, contacts, domains, expunged, folders, identities, local_parts, mailboxes,
    messages, refresh_tokens, sessions, signatures, tenants, thread_refs, threads,
};
use super::page::{Page, PageRequest};
use super::scope::all_tenants;
use super::{TenantStore, Tx, on_unique};
use crate::auth::hash_password;
use crate::error::{Error, Result};
use crate::ids::new_id;
use crate::jobs::{self, NewJob};
use chrono::{Duration, Utc};
use sea_orm::ActiveEnum;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, PaginatorTrait, QueryFilter, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

/// Folders every new mailbox gets, with their SPECIAL-USE roles (RFC 6154).
pub const DEFAULT_FOLDERS: [(&str, &str); 6] = [
    ("INBOX", "inbox"),
    ("Sent", "sent"),
    ("Drafts", "drafts"),
    ("Junk", "junk"),
    ("Trash", "trash"),
    ("Archive", "archive"),
];

/// What POP3 does with a message once downloaded.
pub const POP3_BEHAVIOURS: [&str; 3] = ["keep", "move_to_trash", "delete"];

/// A new mailbox's password.
#[derive(Debug, Clone)]
pub enum Password {
    /// In clear; hashed with argon2id on creation.
    Clear(String),
    /// Already an argon2id hash (bulk provisioning, benchmarks).
    Hashed(String),
}

/// A mailbox to create.
#[derive(Debug, Clone)]
pub struct NewMailbox {
    /// A verified domain of the tenant.
    pub domain_id: Uuid,
    /// Validated, lower-case local part.
    pub local_part: String,
    /// Display name.
    pub display_name: String,
    /// The password.
    pub password: Password,
    /// Quota: `None` uses the default, `Some(None)` is unlimited.
    pub quota_bytes: Option<Option<i64>>,
    /// `keep`, `move_to_trash` or `delete` (default `keep`).
    pub pop3_after_download: Option<String>,
}

/// Changes to a mailbox; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct MailboxPatch {
    /// Display name (the owner may change it).
    pub display_name: Option<String>,
    /// POP3 behaviour (the owner may change it).
    pub pop3_after_download: Option<String>,
    /// Quota (admins only); `Some(None)` is unlimited.
    pub quota_bytes: Option<Option<i64>>,
    /// `active` or `suspended` (admins only).
    pub status: Option<String>,
    /// The mailbox's own spam Junk threshold (the owner may change it); `Some(None)`: the
    /// tenant's.
    pub spam_junk_threshold: Option<Option<f64>>,
}

impl TenantStore {
    /// Refuses mailbox owners (`admin_required`): for what only the tenant's admins and keys may do.
    pub fn not_confined(&self) -> Result<()> {
        if self.actor.mailbox.is_some() {
            Err(Error::forbidden(
                "admin_required",
                "a mailbox owner cannot do this; ask the tenant's admin",
            ))
        } else {
            Ok(())
        }
    }

    /// The tenant's live mailboxes in creation order (a mailbox owner sees only its own).
    pub async fn list_mailboxes(
        &self,
        domain: Option<Uuid>,
        page: PageRequest,
    ) -> Result<Page<mailboxes::Model>> {
        let mut q = self
            .find::<mailboxes::Entity>()
            .filter(mailboxes::Column::DeletedAt.is_null());
        if let Some(own) = self.actor.mailbox {
            q = q.filter(mailboxes::Column::Id.eq(own));
        }
        if let Some(d) = domain {
            q = q.filter(mailboxes::Column::DomainId.eq(d));
        }
        super::page::fetch_page(
            self.store.db(),
            q,
            mailboxes::Column::Id,
            page,
            false,
            |m| m.id,
        )
        .await
    }

    /// A live mailbox within reach.
    pub async fn mailbox(&self, id: Uuid) -> Result<mailboxes::Model> {
        self.mailbox_on(self.store.db(), id).await
    }

    pub(crate) async fn mailbox_on<C: ConnectionTrait>(
        &self,
        c: &C,
        id: Uuid,
    ) -> Result<mailboxes::Model> {
        if self.actor.mailbox.is_some_and(|own| own != id) {
            return Err(Error::NotFound);
        }
        self.find_by_id::<mailboxes::Entity>(id)
            .filter(mailboxes::Column::DeletedAt.is_null())
            .one(c)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Claims `local_part` on `domain` for an owner; `address_taken` when a mailbox, alias or
    /// group already has it.
    pub(crate) async fn claim_local_part(
        &self,
        tx: &Tx,
        domain: Uuid,
        local: &str,
        owner_type: &str,
        owner: Uuid,
    ) -> Result<()> {
        local_parts::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            domain_id: Set(domain),
            local_part: Set(local.to_string()),
            owner_type: Set(owner_type.into()),
            owner_id: Set(owner),
            created_at: Set(Utc::now()),
        }
        .insert(&**tx)
        .await
        .map_err(|e| {
            on_unique(
                e,
                "address_taken",
                "a mailbox, alias or group already uses this address",
            )
        })?;
        Ok(())
    }

    /// Frees the local parts an owner holds.
    pub(crate) async fn release_local_parts<C: ConnectionTrait>(
        &self,
        c: &C,
        owner: Uuid,
    ) -> Result<()> {
        self.delete_many::<local_parts::Entity>()
            .filter(local_parts::Column::OwnerId.eq(owner))
            .exec(c)
            .await?;
        Ok(())
    }

    /// A verified domain of the tenant (mailboxes, aliases and groups live only on those).
    pub(crate) async fn verified_domain<C: ConnectionTrait>(
        &self,
        c: &C,
        id: Uuid,
    ) -> Result<domains::Model> {
        let d = self
            .find_by_id::<domains::Entity>(id)
            .one(c)
            .await?
            .ok_or_else(|| Error::invalid("domain_id", "is not a domain of this tenant"))?;
        if d.status != DomainStatus::Verified {
            return Err(Error::Rejected {
                code: "domain_not_verified",
                field: "domain_id".into(),
                message: format!(
                    "{} is not verified yet: publish its records and verify it first",
                    d.name
                ),
            });
        }
        Ok(d)
    }

    /// Creates a mailbox with its default folders on a verified domain. Plan limits apply: the
    /// number of mailboxes, and the sum of their quotas against the storage limit.
    pub async fn create_mailbox(
        &self,
        new: NewMailbox,
        default_quota: i64,
    ) -> Result<mailboxes::Model> {
        self.not_confined()?;
        let pop3 = new.pop3_after_download.unwrap_or_else(|| "keep".into());
        if !POP3_BEHAVIOURS.contains(&pop3.as_str()) {
            return Err(Error::invalid(
                "pop3_after_download",
                "must be keep, move_to_trash or delete",
            ));
        }
        let quota = new.quota_bytes.unwrap_or(Some(default_quota));
        if quota.is_some_and(|q| q < 0) {
            return Err(Error::invalid(
                "quota_bytes",
                "must be zero or more, or null for unlimited",
            ));
        }
        let hash = match new.password {
            Password::Clear(p) => hash_password(&p).await?,
            Password::Hashed(h) => h,
        };
        let now = Utc::now();
        let tx = self.store.tx().await?;
        let domain = self.verified_domain(&*tx, new.domain_id).await?;
        self.check_mailbox_limits(&tx, None, quota).await?;
        let id = new_id();
        self.claim_local_part(&tx, domain.id, &new.local_part, "mailbox", id)
            .await?;
        let mailbox = mailboxes::ActiveModel {
            id: Set(id),
            tenant_id: Set(self.tid()),
            domain_id: Set(domain.id),
            local_part: Set(new.local_part.clone()),
            address: Set(format!("{}@{}", new.local_part, domain.name)),
            display_name: Set(new.display_name),
            password_hash: Set(hash),
            quota_bytes: Set(quota),
            used_bytes: Set(0),
            status: Set(MailboxStatus::Active),
            pop3_after_download: Set(pop3),
            spam_junk_threshold: Set(None),
            uidvalidity_seq: Set(now.timestamp()),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        }
        .insert(&*tx)
        .await?;
        for (name, role) in DEFAULT_FOLDERS {
            self.insert_folder(&tx, id, name, Some(role), true).await?;
        }
        self.insert_own_identity(&tx, id, &mailbox.address, &mailbox.display_name)
            .await?;
        self.add_directory_entry(&*tx, id, &mailbox.display_name, &mailbox.address)
            .await?;
        self.audit(
            &*tx,
            "mailbox.create",
            "mailbox",
            Some(id),
            json!({"address": mailbox.address, "quota_bytes": quota}),
        )
        .await?;
        tx.commit().await?;
        Ok(mailbox)
    }

    /// Inserts a folder with fresh IMAP state: a UIDVALIDITY never used before in this mailbox.
    pub(crate) async fn insert_folder(
        &self,
        tx: &Tx,
        mailbox: Uuid,
        name: &str,
        role: Option<&str>,
        subscribed: bool,
    ) -> Result<folders::Model> {
        let uidvalidity = super::mail_state::new_uidvalidity(tx, self.tid(), mailbox).await?;
        let now = Utc::now();
        let folder = folders::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            mailbox_id: Set(mailbox),
            name: Set(name.to_string()),
            special_use: Set(role.map(str::to_string)),
            uidvalidity: Set(uidvalidity),
            uidnext: Set(1),
            highestmodseq: Set(1),
            recent_uid: Set(1),
            subscribed: Set(subscribed),
            total_messages: Set(0),
            unseen_messages: Set(0),
            total_bytes: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&**tx)
        .await
        .map_err(|e| on_unique(e, "folder_exists", "a folder with this name already exists"))?;
        // A subscription left by a folder of this name becomes the new folder's.
        self.adopt_subscription(tx, folder).await
    }

    async fn check_mailbox_limits(
        &self,
        tx: &Tx,
        except: Option<Uuid>,
        quota: Option<i64>,
    ) -> Result<()> {
        let tenant = all_tenants::find_by_id::<tenants::Entity>(self.tid())
            .one(&**tx)
            .await?
            .ok_or(Error::NotFound)?;
        let live = || {
            let mut q = self
                .find::<mailboxes::Entity>()
                .filter(mailboxes::Column::DeletedAt.is_null());
            if let Some(e) = except {
                q = q.filter(mailboxes::Column::Id.ne(e));
            }
            q
        };
        if except.is_none()
            && let Some(max) = tenant.max_mailboxes
            && live().count(&**tx).await? as i64 >= max
        {
            return Err(Error::PlanLimit(format!("the plan allows {max} mailboxes")));
        }
        if let Some(max) = tenant.max_storage_bytes {
            let Some(quota) = quota else {
                return Err(Error::PlanLimit(
                    "the plan limits storage, so every mailbox needs a quota".into(),
                ));
            };
            let quotas: Vec<Option<i64>> = live()
                .select_only()
                .column(mailboxes::Column::QuotaBytes)
                .into_tuple()
                .all(&**tx)
                .await?;
            let allotted: i64 = quotas.into_iter().map(|q| q.unwrap_or(0)).sum();
            if allotted.saturating_add(quota) > max {
                return Err(Error::PlanLimit(format!(
                    "the plan's storage is {max} bytes and {allotted} are already given to other mailboxes"
                )));
            }
        }
        Ok(())
    }

    /// Changes a mailbox. Its owner may change the display name and POP3 behaviour; quota and
    /// status are for admins. Suspending ends the mailbox's sessions.
    pub async fn update_mailbox(&self, id: Uuid, patch: MailboxPatch) -> Result<mailboxes::Model> {
        if patch.quota_bytes.is_some() || patch.status.is_some() {
            self.not_confined()?;
        }
        if let Some(p) = &patch.pop3_after_download
            && !POP3_BEHAVIOURS.contains(&p.as_str())
        {
            return Err(Error::invalid(
                "pop3_after_download",
                "must be keep, move_to_trash or delete",
            ));
        }
        let status = match &patch.status {
            Some(s) => Some(
                MailboxStatus::try_from_value(s)
                    .map_err(|_| Error::invalid("status", "must be active or suspended"))?,
            ),
            None => None,
        };
        if patch.quota_bytes.is_some_and(|q| q.is_some_and(|q| q < 0)) {
            return Err(Error::invalid(
                "quota_bytes",
                "must be zero or more, or null for unlimited",
            ));
        }
        if let Some(Some(t)) = patch.spam_junk_threshold
            && !(t.is_finite() && (-100.0..=1000.0).contains(&t))
        {
            return Err(Error::invalid(
                "spam_junk_threshold",
                "must be a number from -100 to 1000, or null (the organisation's)",
            ));
        }
        let tx = self.store.tx().await?;
        let m = self.mailbox_on(&*tx, id).await?;
        if let Some(q) = patch.quota_bytes {
            self.check_mailbox_limits(&tx, Some(id), q).await?;
        }
        let mut changed = serde_json::Map::new();
        let mut am: mailboxes::ActiveModel = m.into();
        if let Some(v) = patch.display_name {
            changed.insert("display_name".into(), json!(v));
            am.display_name = Set(v);
        }
        if let Some(v) = patch.pop3_after_download {
            changed.insert("pop3_after_download".into(), json!(v));
            am.pop3_after_download = Set(v);
        }
        if let Some(v) = patch.quota_bytes {
            changed.insert("quota_bytes".into(), json!(v));
            am.quota_bytes = Set(v);
        }
        if let Some(v) = patch.spam_junk_threshold {
            changed.insert("spam_junk_threshold".into(), json!(v));
            am.spam_junk_threshold = Set(v);
        }
        let suspend = status == Some(MailboxStatus::Suspended);
        if let Some(v) = status {
            changed.insert("status".into(), json!(v.to_string()));
            am.status = Set(v);
        }
        am.updated_at = Set(Utc::now());
        let m = am.update(&*tx).await?;
        self.sync_directory_entry(&*tx, id, Some(&m.display_name))
            .await?;
        if suspend {
            revoke_mailbox_sessions(&*tx, id, None).await?;
        }
        self.audit(&*tx, "mailbox.update", "mailbox", Some(id), changed.into())
            .await?;
        tx.commit().await?;
        Ok(m)
    }

    /// Sets a mailbox's password (admins, or the owner through `/v1/me/password`) and ends its
    /// sessions.
    pub async fn set_mailbox_password(&self, id: Uuid, password: &str) -> Result<()> {
        let hash = hash_password(password).await?;
        let tx = self.store.tx().await?;
        self.mailbox_on(&*tx, id).await?;
        self.update_many::<mailboxes::Entity>()
            .col_expr(mailboxes::Column::PasswordHash, Expr::value(hash))
            .col_expr(mailboxes::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(mailboxes::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        revoke_mailbox_sessions(&*tx, id, None).await?;
        self.audit(&*tx, "mailbox.password_set", "mailbox", Some(id), json!({}))
            .await?;
        tx.commit().await
    }

    /// Deletes a mailbox: it stops receiving and logging in at once, its address is free, and
    /// a job purges its data.
    pub async fn delete_mailbox(&self, id: Uuid, purge_delay: Duration) -> Result<Uuid> {
        self.not_confined()?;
        let tx = self.store.tx().await?;
        let m = self.mailbox_on(&*tx, id).await?;
        let now = Utc::now();
        let mut am: mailboxes::ActiveModel = m.clone().into();
        am.deleted_at = Set(Some(now));
        am.updated_at = Set(now);
        am.update(&*tx).await?;
        self.release_local_parts(&*tx, id).await?;
        revoke_mailbox_sessions(&*tx, id, None).await?;
        self.sync_directory_entry(&*tx, id, None).await?;
        let job = super::jobs::enqueue(
            &*tx,
            NewJob::new(jobs::MAILBOX_PURGE, json!({"mailbox_id": id}))
                .tenant(self.tid())
                .run_at(now + purge_delay),
        )
        .await?;
        self.audit(
            &*tx,
            "mailbox.delete",
            "mailbox",
            Some(id),
            json!({"address": m.address, "purge_job": job}),
        )
        .await?;
        tx.commit().await?;
        Ok(job)
    }
}

/// Ends a mailbox's sessions (all but `keep`).
pub(crate) async fn revoke_mailbox_sessions<C: ConnectionTrait>(
    c: &C,
    mailbox: Uuid,
    keep: Option<Uuid>,
) -> Result<()> {
    let mut q = all_tenants::update_many::<sessions::Entity>()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .filter(sessions::Column::MailboxId.eq(mailbox))
        .filter(sessions::Column::RevokedAt.is_null());
    if let Some(k) = keep {
        q = q.filter(sessions::Column::Id.ne(k));
    }
    q.exec(c).await?;
    Ok(())
}

/// Removes every row of a deleted mailbox. Idempotent.
pub(crate) async fn purge_mailbox_rows<C: ConnectionTrait>(c: &C, mailbox: Uuid) -> Result<()> {
    let session_ids: Vec<Uuid> = all_tenants::find::<sessions::Entity>()
        .select_only()
        .column(sessions::Column::Id)
        .filter(sessions::Column::MailboxId.eq(mailbox))
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
        .filter(sessions::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<app_passwords::Entity>()
        .filter(app_passwords::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<super::entities::spam_lists::Entity>()
        .filter(super::entities::spam_lists::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<super::entities::spam_quarantine::Entity>()
        .filter(super::entities::spam_quarantine::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    // Its own rules and auto-reply.
    all_tenants::delete_many::<super::entities::rules::Entity>()
        .filter(super::entities::rules::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<super::entities::vacations::Entity>()
        .filter(super::entities::vacations::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<super::entities::vacation_replies::Entity>()
        .filter(super::entities::vacation_replies::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<messages::Entity>()
        .filter(messages::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<thread_refs::Entity>()
        .filter(thread_refs::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<threads::Entity>()
        .filter(threads::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<expunged::Entity>()
        .filter(expunged::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<folders::Entity>()
        .filter(folders::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<super::entities::subscriptions::Entity>()
        .filter(super::entities::subscriptions::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<super::entities::pop3_taken::Entity>()
        .filter(super::entities::pop3_taken::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<super::entities::pop3_leases::Entity>()
        .filter(super::entities::pop3_leases::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<identities::Entity>()
        .filter(identities::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<contacts::Entity>()
        .filter(contacts::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<contacts::Entity>()
        .filter(contacts::Column::SourceMailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<signatures::Entity>()
        .filter(signatures::Column::MailboxId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<local_parts::Entity>()
        .filter(local_parts::Column::OwnerId.eq(mailbox))
        .exec(c)
        .await?;
    all_tenants::delete_many::<mailboxes::Entity>()
        .filter(mailboxes::Column::Id.eq(mailbox))
        .exec(c)
        .await?;
    Ok(())
}
