//! Who is making a request, and the store handles that identity may open.

use super::scopes::{Role, Scope};
use crate::error::{Error, Result};
use crate::ids::TenantId;
use crate::store::{Actor, ActorKind, PlatformStore, Store, TenantStore};
use uuid::Uuid;

/// Where a request came from; recorded in the audit log and used for rate limits.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The client's address.
    pub ip: Option<String>,
    /// The request id (also sent back in `X-Request-Id`).
    pub request_id: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

/// How the principal authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A person with an access token.
    User,
    /// An API key.
    ApiKey,
    /// A mailbox's owner with an access token (confined to that mailbox).
    Mailbox,
}

/// An authenticated caller. Only [`super::Auth`] constructs one.
#[derive(Debug, Clone)]
pub struct Principal {
    /// How it authenticated.
    pub kind: PrincipalKind,
    /// The user, for an API key the user who created it, for a mailbox owner the mailbox.
    pub user_id: Uuid,
    /// That user's email, or the mailbox's address.
    pub email: String,
    /// That user's current role.
    pub role: Role,
    /// The API key's id and name, for API keys.
    pub api_key: Option<(Uuid, String)>,
    /// The login session, for access tokens.
    pub session_id: Option<Uuid>,
    tenant: Option<TenantId>,
    scopes: Vec<Scope>,
    mailbox: Option<Uuid>,
}

impl Principal {
    pub(crate) fn new(
        kind: PrincipalKind,
        user_id: Uuid,
        email: String,
        role: Role,
        tenant: Option<TenantId>,
        scopes: Vec<Scope>,
    ) -> Self {
        Self {
            kind,
            user_id,
            email,
            role,
            api_key: None,
            session_id: None,
            tenant,
            scopes,
            mailbox: None,
        }
    }

    /// Confines the principal to one mailbox: every mailbox-scoped store call for another
    /// mailbox answers not found.
    pub(crate) fn confined_to(mut self, mailbox: Uuid) -> Self {
        self.mailbox = Some(mailbox);
        self
    }

    /// The mailbox a mailbox owner is confined to.
    pub fn mailbox(&self) -> Option<Uuid> {
        self.mailbox
    }

    pub(crate) fn with_api_key(mut self, id: Uuid, name: String) -> Self {
        self.api_key = Some((id, name));
        self
    }

    pub(crate) fn with_session(mut self, id: Uuid) -> Self {
        self.session_id = Some(id);
        self
    }

    /// The tenant it acts in (none for platform admins).
    pub fn tenant_id(&self) -> Option<TenantId> {
        self.tenant
    }

    /// The scopes in effect: the key's own scopes limited by its creator's role, or the role's.
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// Whether the principal holds `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Errs with `insufficient_scope` unless the principal holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "insufficient_scope",
                format!("this credential lacks the {} scope", scope.as_str()),
            ))
        }
    }

    /// Whether this is a platform admin.
    pub fn is_platform_admin(&self) -> bool {
        self.role == Role::PlatformAdmin
    }

    /// The audit actor for this principal and client.
    pub fn actor(&self, client: &ClientInfo) -> Actor {
        let (kind, id, label) = match (&self.api_key, self.role) {
            (Some((id, name)), _) => (ActorKind::ApiKey, *id, name.clone()),
            (None, Role::PlatformAdmin) => {
                (ActorKind::PlatformAdmin, self.user_id, self.email.clone())
            }
            (None, Role::Mailbox) => (ActorKind::Mailbox, self.user_id, self.email.clone()),
            (None, _) => (ActorKind::User, self.user_id, self.email.clone()),
        };
        let is_user = !matches!(self.kind, PrincipalKind::Mailbox);
        Actor {
            kind,
            id: Some(id),
            label,
            ip: client.ip.clone(),
            request_id: client.request_id.clone(),
            user_id: is_user.then_some(self.user_id),
            role: self.role,
            scopes: self.scopes.clone(),
            mailbox: self.mailbox,
        }
    }

    /// Opens the store of the principal's own tenant, after checking `scope`.
    pub fn tenant_store(
        &self,
        store: &Store,
        scope: Scope,
        client: &ClientInfo,
    ) -> Result<TenantStore> {
        let Some(tenant) = self.tenant else {
            return Err(Error::forbidden(
                "tenant_required",
                "this endpoint needs the credentials of a tenant user or key",
            ));
        };
        self.require(scope)?;
        Ok(TenantStore::new(store.clone(), tenant, self.actor(client)))
    }

    /// Opens the platform store; only platform admins may.
    pub fn platform_store(
        &self,
        store: &Store,
        scope: Scope,
        client: &ClientInfo,
    ) -> Result<PlatformStore> {
        if !self.is_platform_admin() {
            return Err(Error::forbidden(
                "platform_admin_required",
                "only platform admins may do this",
            ));
        }
        self.require(scope)?;
        Ok(PlatformStore::new(store.clone(), self.actor(client)))
    }
}
