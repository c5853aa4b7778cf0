//! What authenticating one request needs to know, read in a single query: the session (for an
//! access token) or the API key, with its account (user or mailbox) and the account's tenant.
//! Three to four round trips per request were most of the cost of a cheap call such as
//! `GET /v1/me`.

use super::SystemStore;
use super::entities::kinds::{MailboxStatus, TenantStatus, UserStatus};
use crate::error::Result;
use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, FromQueryResult, Statement};
use uuid::Uuid;

/// The account behind a credential and its tenant (columns of a left join: `None` where a row
/// is missing, deleted or not joined).
#[derive(Debug, Clone, FromQueryResult)]
pub(crate) struct SessionFacts {
    /// When the session was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The session's user, if it is a user's.
    pub user_id: Option<Uuid>,
    /// The session's mailbox, if it is a mailbox owner's.
    pub mailbox_id: Option<Uuid>,
    /// The user's email (absent: no such user).
    pub u_email: Option<String>,
    /// The user's role.
    pub u_role: Option<String>,
    /// The user's status.
    pub u_status: Option<UserStatus>,
    /// The user's tenant (none for platform admins).
    pub u_tenant: Option<Uuid>,
    /// The live mailbox's address (absent: no such live mailbox).
    pub m_address: Option<String>,
    /// The mailbox's status.
    pub m_status: Option<MailboxStatus>,
    /// The mailbox's tenant.
    pub m_tenant: Option<Uuid>,
    /// The account's tenant, if live.
    pub t_id: Option<Uuid>,
    /// Its status.
    pub t_status: Option<TenantStatus>,
}

/// An API key with its creator and the creator's tenant.
#[derive(Debug, Clone, FromQueryResult)]
pub(crate) struct KeyFacts {
    /// The key.
    pub k_id: Uuid,
    /// Its name.
    pub k_name: String,
    /// Its scopes (a JSON array).
    pub k_scopes: String,
    /// The tenant it was made in.
    pub k_tenant: Uuid,
    /// When it was revoked.
    pub k_revoked_at: Option<DateTime<Utc>>,
    /// When it expires.
    pub k_expires_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub k_last_used_at: Option<DateTime<Utc>>,
    /// Its creator.
    pub user_id: Uuid,
    /// The creator's email (absent: no such user).
    pub u_email: Option<String>,
    /// The creator's role.
    pub u_role: Option<String>,
    /// The creator's status.
    pub u_status: Option<UserStatus>,
    /// The creator's tenant.
    pub u_tenant: Option<Uuid>,
    /// That tenant, if live.
    pub t_id: Option<Uuid>,
    /// Its status.
    pub t_status: Option<TenantStatus>,
}

impl SystemStore {
    fn placeholder(&self) -> (DbBackend, &'static str) {
        if self.store.is_postgres() {
            (DbBackend::Postgres, "$1")
        } else {
            (DbBackend::Sqlite, "?")
        }
    }

    /// A session with its account and tenant, in one query.
    pub(crate) async fn session_facts(&self, id: Uuid) -> Result<Option<SessionFacts>> {
        let (backend, p) = self.placeholder();
        let sql = format!(
            "SELECT s.revoked_at AS revoked_at, s.user_id AS user_id, s.mailbox_id AS mailbox_id, \
             u.email AS u_email, u.role AS u_role, u.status AS u_status, u.tenant_id AS u_tenant, \
             m.address AS m_address, m.status AS m_status, m.tenant_id AS m_tenant, \
             t.id AS t_id, t.status AS t_status \
             FROM sessions s \
             LEFT JOIN users u ON u.id = s.user_id \
             LEFT JOIN mailboxes m ON m.id = s.mailbox_id AND m.deleted_at IS NULL \
             LEFT JOIN tenants t ON t.id = COALESCE(u.tenant_id, m.tenant_id) \
               AND t.deleted_at IS NULL \
             WHERE s.id = {p}"
        );
        Ok(
            SessionFacts::find_by_statement(Statement::from_sql_and_values(
                backend,
                sql,
                [id.into()],
            ))
            .one(self.store.db())
            .await?,
        )
    }

    /// An API key by the hash of its secret, with its creator and tenant, in one query.
    pub(crate) async fn key_facts(&self, hash: &str) -> Result<Option<KeyFacts>> {
        let (backend, p) = self.placeholder();
        let sql = format!(
            "SELECT k.id AS k_id, k.name AS k_name, k.scopes AS k_scopes, \
             k.tenant_id AS k_tenant, k.revoked_at AS k_revoked_at, \
             k.expires_at AS k_expires_at, k.last_used_at AS k_last_used_at, \
             k.created_by AS user_id, \
             u.email AS u_email, u.role AS u_role, u.status AS u_status, u.tenant_id AS u_tenant, \
             t.id AS t_id, t.status AS t_status \
             FROM api_keys k \
             LEFT JOIN users u ON u.id = k.created_by \
             LEFT JOIN tenants t ON t.id = u.tenant_id AND t.deleted_at IS NULL \
             WHERE k.key_hash = {p}"
        );
        Ok(
            KeyFacts::find_by_statement(Statement::from_sql_and_values(
                backend,
                sql,
                [hash.into()],
            ))
            .one(self.store.db())
            .await?,
        )
    }
}
