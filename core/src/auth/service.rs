//! Login, token refresh, logout and per-request authentication.

use super::account::{Account, LoginKind};
use super::cache::{Credential, PrincipalCache};
use super::password::verify_password;
use super::principal::{ClientInfo, Principal, PrincipalKind};
use super::scopes::{Role, Scope};
use super::tokens::{API_KEY_PREFIX, JwtKeys, REFRESH_TOKEN_PREFIX, random_token, sha256_hex};
use crate::config::AuthConfig;
use crate::error::{Error, Result};
use crate::ids::TenantId;
use crate::ratelimit::RateLimiter;
use crate::store::entities::kinds::{MailboxStatus, TenantStatus, UserStatus};
use crate::store::{Store, SystemStore};
use chrono::{Duration, Utc};
use uuid::Uuid;

/// A fresh pair of tokens.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// Who logged in: a user or a mailbox's owner.
    pub kind: LoginKind,
    /// The user's or the mailbox's id.
    pub principal_id: Uuid,
    /// The JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Exchange at `/v1/auth/refresh` for a new pair; single use.
    pub refresh_token: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
}

/// How a mail-protocol login ([`Auth::mail_login`]) failed, in the classes IMAP, POP3 and
/// SMTP submission each answer in their own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong address or password.
    Invalid,
    /// Too many attempts from the address or on the account: later.
    TooMany,
    /// The account may not log in (suspended mailbox or tenant): the reason.
    Refused(String),
    /// A failure on our side (logged here): later.
    OurSide,
}

impl LoginFailure {
    /// The class of a login's error; one on our side is logged, naming `protocol`.
    pub fn of(e: &Error, protocol: &str) -> Self {
        match e {
            Error::Unauthenticated(_) => Self::Invalid,
            Error::RateLimited { .. } => Self::TooMany,
            Error::Forbidden { detail, .. } => Self::Refused(detail.to_string()),
            e => {
                tracing::warn!(error = %e, protocol, "mail login failed on our side");
                Self::OurSide
            }
        }
    }
}

/// The authentication service.
#[derive(Clone)]
pub struct Auth {
    sys: SystemStore,
    keys: JwtKeys,
    cfg: AuthConfig,
    limiter: RateLimiter,
    cache: PrincipalCache,
}

/// How often `last_used_at` of an API key is written at most (it would otherwise cost a write
/// per request).
const LAST_USED_GRANULARITY_SECS: i64 = 60;

impl Auth {
    /// Builds the service.
    pub fn new(store: &Store, jwt_secret: &[u8], cfg: AuthConfig, limiter: RateLimiter) -> Self {
        let cache = PrincipalCache::new(
            std::time::Duration::from_secs(cfg.principal_cache_secs),
            store.auth_epoch().clone(),
        );
        Self {
            sys: store.system(),
            keys: JwtKeys::new(jwt_secret),
            cfg,
            limiter,
            cache,
        }
    }

    /// Checks a login (a user's email, or a mailbox address) and password (for a mailbox also
    /// any of its app passwords), and opens a session. An address names one account: when it is
    /// both a user's email and a mailbox's address, the user, unless `kind` names the mailbox.
    ///
    /// Failures are counted per account and attempts per client address; past either limit the
    /// answer is `rate_limited` without checking the password. Every attempt costs exactly one
    /// argon2 verification (a dummy one for an unknown login), whatever the account and its
    /// number of app passwords, so the answer's time tells nothing about the account.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        kind: Option<LoginKind>,
        client: &ClientInfo,
    ) -> Result<TokenPair> {
        let account = self.verify(login, password, kind, client).await?;
        let session = self
            .sys
            .open_session(&account, client, self.refresh_ttl())
            .await?;
        let refresh = random_token(REFRESH_TOKEN_PREFIX)?;
        self.sys
            .add_refresh_token(session, &sha256_hex(&refresh), self.refresh_ttl())
            .await?;
        self.sys.record_login(&account, client).await?;
        self.pair(&account, session, refresh)
    }

    /// Checks a mailbox's address and password (or one of its app passwords) for a mail
    /// protocol (IMAP now; POP3 and submission next) under the rules of [`Auth::login`]: the
    /// same limits per client address and per account, exactly one argon2 verification, the
    /// same refusals (suspended mailbox, suspended or deleted tenant). No REST session is
    /// opened. The principal is the mailbox's owner, confined to the mailbox.
    pub async fn mail_login(
        &self,
        login: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<Principal> {
        let account = self
            .verify(login, password, Some(LoginKind::Mailbox), client)
            .await?;
        let Account::Mailbox(m) = account else {
            return Err(Error::Unauthenticated("invalid email or password"));
        };
        Ok(Principal::new(
            PrincipalKind::Mailbox,
            m.id,
            m.address.clone(),
            Role::Mailbox,
            Some(TenantId::from_uuid(m.tenant_id)),
            Role::Mailbox.scopes(),
        )
        .confined_to(m.id))
    }

    /// The checks every login makes before anything is opened: rate limits, the one password
    /// verification, whether the account may log in.
    async fn verify(
        &self,
        login: &str,
        password: &str,
        kind: Option<LoginKind>,
        client: &ClientInfo,
    ) -> Result<Account> {
        let login = login.trim().to_ascii_lowercase();
        let ip_key = format!("login:ip:{}", client.ip.as_deref().unwrap_or("unknown"));
        let account_key = account_key(&login);
        self.limiter
            .hit(
                &ip_key,
                self.cfg.login_max_attempts_per_ip,
                self.cfg.login_window_secs,
            )
            .await?
            .check()?;
        self.ensure_not_locked(&account_key).await?;

        // One address names one principal (the user when it is both, unless `kind` says
        // otherwise), and every attempt costs exactly one password verification: an unknown
        // address is checked against a dummy hash.
        let account = self.sys.account_by_login(&login, kind).await?;
        let verified = match &account {
            Some(a) => self.check_password(a, password).await?,
            None => {
                verify_password(password, None).await?;
                false
            }
        };
        let Some(account) = account.filter(|_| verified) else {
            self.count_failure(&account_key).await?;
            return Err(Error::Unauthenticated("invalid email or password"));
        };
        self.usable(&account).await?;
        self.limiter.reset(&account_key).await?;
        Ok(account)
    }

    /// The password, or for a mailbox one of its app passwords: one argon2 verification
    /// either way. Input shaped like an app password (16 letters, spaces ignored) is looked
    /// up by its SHA-256 first; when no app password has it, the mailbox password is checked.
    async fn check_password(&self, account: &Account, password: &str) -> Result<bool> {
        match account {
            Account::User(u) => verify_password(password, Some(&u.password_hash)).await,
            Account::Mailbox(m) => {
                let app = match crate::store::app_password_lookup_of_input(password) {
                    Some(lookup) => self.sys.app_password_by_lookup(m.id, &lookup).await?,
                    None => None,
                };
                match app {
                    Some((id, hash)) => {
                        let compact: String =
                            password.chars().filter(|c| !c.is_whitespace()).collect();
                        let ok = verify_password(&compact, Some(&hash)).await?;
                        if ok {
                            self.sys.touch_app_password(id).await?;
                        }
                        Ok(ok)
                    }
                    None => verify_password(password, Some(&m.password_hash)).await,
                }
            }
        }
    }

    /// Exchanges a refresh token for a new pair. A token presented a second time means it was
    /// stolen or replayed: the whole session is revoked.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        let invalid = Error::Unauthenticated("invalid or expired refresh token");
        if !refresh_token.starts_with(REFRESH_TOKEN_PREFIX) {
            return Err(invalid);
        }
        let Some((token, session)) = self.sys.refresh_token(&sha256_hex(refresh_token)).await?
        else {
            return Err(invalid);
        };
        if session.revoked_at.is_some() {
            return Err(invalid);
        }
        let now = Utc::now();
        if token.used_at.is_some() || !self.sys.mark_refresh_used(token.id).await? {
            self.sys.revoke_session(session.id).await?;
            tracing::warn!(session = %session.id, "refresh token reused: session revoked");
            return Err(Error::Unauthenticated(
                "refresh token was already used; the session has been revoked",
            ));
        }
        if token.expires_at <= now || session.expires_at <= now {
            return Err(invalid);
        }
        let Some(account) = self.sys.account_of_session(&session).await? else {
            return Err(invalid);
        };
        self.usable(&account).await?;
        let refresh = random_token(REFRESH_TOKEN_PREFIX)?;
        self.sys
            .add_refresh_token(session.id, &sha256_hex(&refresh), self.refresh_ttl())
            .await?;
        self.pair(&account, session.id, refresh)
    }

    /// Ends a session, found by its refresh token or by the access token's session.
    pub async fn logout(
        &self,
        refresh_token: Option<&str>,
        principal: Option<&Principal>,
    ) -> Result<()> {
        if let Some(sid) = principal.and_then(|p| p.session_id) {
            self.sys.revoke_session(sid).await?;
        }
        if let Some(tok) = refresh_token
            && let Some((_, session)) = self.sys.refresh_token(&sha256_hex(tok)).await?
        {
            self.sys.revoke_session(session.id).await?;
        }
        Ok(())
    }

    /// Changes the caller's own password (a user's, or a mailbox owner's mailbox password) after
    /// checking the current one. Every other session ends; the caller's stays. Wrong current
    /// passwords count as failed logins.
    pub async fn change_password(
        &self,
        p: &Principal,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        if p.kind == PrincipalKind::ApiKey {
            return Err(Error::forbidden(
                "user_required",
                "API keys cannot change passwords; log in as the user",
            ));
        }
        crate::validate::Checker::new()
            .push(crate::validate::password("new_password", new))
            .finish()?;
        let account_key = account_key(&p.email);
        self.ensure_not_locked(&account_key).await?;
        let Some(account) = self
            .sys
            .account(p.user_id, p.kind == PrincipalKind::Mailbox)
            .await?
        else {
            return Err(Error::Unauthenticated("account no longer exists"));
        };
        let hash = match &account {
            Account::User(u) => &u.password_hash,
            Account::Mailbox(m) => &m.password_hash,
        };
        if !verify_password(current, Some(hash)).await? {
            self.count_failure(&account_key).await?;
            return Err(Error::invalid(
                "current_password",
                "is not the current password",
            ));
        }
        let hash = super::hash_password(new).await?;
        self.sys
            .set_password(&account, &hash, p.session_id, &p.actor(client))
            .await
    }

    /// Authenticates a bearer credential: an API key (`mrk_…`) or an access token. A credential
    /// authenticated a moment ago is answered from the principal cache (`cache.rs`) until any
    /// write that may change who can authenticate, or `auth.principal_cache_secs`.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal> {
        if bearer.starts_with(API_KEY_PREFIX) {
            self.authenticate_key(bearer).await
        } else {
            self.authenticate_jwt(bearer).await
        }
    }

    async fn authenticate_jwt(&self, token: &str) -> Result<Principal> {
        let invalid = Error::Unauthenticated("invalid or expired access token");
        let Some(claims) = self.keys.check(token) else {
            return Err(invalid);
        };
        let credential = Credential::Session {
            sid: claims.sid,
            sub: claims.sub,
            mailbox: claims.mbx,
        };
        if let Some(p) = self.cache.get(&credential) {
            return Ok(p);
        }
        let epoch = self.cache.epoch();
        // The session, its account and the account's tenant, in one query.
        let Some(f) = self.sys.session_facts(claims.sid).await? else {
            return Err(invalid);
        };
        let owner = if claims.mbx { f.mailbox_id } else { f.user_id };
        if f.revoked_at.is_some() || owner != Some(claims.sub) {
            return Err(invalid);
        }
        let principal = if claims.mbx {
            let (Some(address), Some(status)) = (f.m_address, f.m_status) else {
                return Err(invalid);
            };
            let tenant = usable_tenant(mailbox_suspended(status), f.m_tenant, f.t_id, f.t_status)?;
            Principal::new(
                PrincipalKind::Mailbox,
                claims.sub,
                address,
                Role::Mailbox,
                tenant.map(TenantId::from_uuid),
                Role::Mailbox.scopes(),
            )
            .confined_to(claims.sub)
        } else {
            let (Some(email), Some(role), Some(status)) = (f.u_email, f.u_role, f.u_status) else {
                return Err(invalid);
            };
            let tenant = usable_tenant(user_disabled(status), f.u_tenant, f.t_id, f.t_status)?;
            let role = role_of(&role, claims.sub)?;
            Principal::new(
                PrincipalKind::User,
                claims.sub,
                email,
                role,
                tenant.map(TenantId::from_uuid),
                role.scopes(),
            )
        };
        let principal = principal.with_session(claims.sid);
        self.cache.put(credential, &principal, epoch, None);
        Ok(principal)
    }

    async fn authenticate_key(&self, key: &str) -> Result<Principal> {
        let invalid = Error::Unauthenticated("invalid, expired or revoked API key");
        let hash = sha256_hex(key);
        let credential = Credential::Key(hash.clone());
        if let Some(p) = self.cache.get(&credential) {
            return Ok(p);
        }
        let epoch = self.cache.epoch();
        // The key, its creator and the creator's tenant, in one query.
        let Some(k) = self.sys.key_facts(&hash).await? else {
            return Err(invalid);
        };
        let now = Utc::now();
        if k.k_revoked_at.is_some() || k.k_expires_at.is_some_and(|e| e <= now) {
            return Err(invalid);
        }
        let (Some(email), Some(role), Some(status)) = (k.u_email, k.u_role, k.u_status) else {
            return Err(invalid);
        };
        let tenant = usable_tenant(user_disabled(status), k.u_tenant, k.t_id, k.t_status)?;
        if tenant != Some(k.k_tenant) {
            return Err(invalid);
        }
        let role = role_of(&role, k.user_id)?;
        let scopes: Vec<Scope> = parse_scopes(&k.k_scopes)
            .into_iter()
            .filter(|s| role.allows(*s))
            .collect();
        if k.k_last_used_at
            .is_none_or(|t| (now - t).num_seconds() >= LAST_USED_GRANULARITY_SECS)
        {
            self.sys.touch_api_key(k.k_id, now).await?;
        }
        let principal = Principal::new(
            PrincipalKind::ApiKey,
            k.user_id,
            email,
            role,
            Some(TenantId::from_uuid(k.k_tenant)),
            scopes,
        )
        .with_api_key(k.k_id, k.k_name);
        self.cache
            .put(credential, &principal, epoch, k.k_expires_at);
        Ok(principal)
    }

    /// Refuses disabled users, suspended mailboxes and accounts of suspended or deleted tenants
    /// (the same judgement a request's authentication makes, [`usable_tenant`]).
    async fn usable(&self, account: &Account) -> Result<()> {
        let refusal = match account {
            Account::User(u) => user_disabled(u.status),
            Account::Mailbox(m) => mailbox_suspended(m.status),
        };
        if let Some(e) = refusal {
            return Err(e);
        }
        let tenant = match account.tenant_id() {
            Some(tid) => self.sys.live_tenant(tid).await?,
            None => None,
        };
        usable_tenant(
            None,
            account.tenant_id(),
            tenant.as_ref().map(|t| t.id),
            tenant.as_ref().map(|t| t.status),
        )?;
        Ok(())
    }

    fn pair(&self, account: &Account, session: Uuid, refresh_token: String) -> Result<TokenPair> {
        let ttl = self.cfg.access_token_ttl_secs;
        let access_token = self.keys.issue(
            account.id(),
            session,
            account.tenant_id(),
            account.is_mailbox(),
            Utc::now().timestamp(),
            ttl as i64,
        )?;
        Ok(TokenPair {
            kind: if account.is_mailbox() {
                LoginKind::Mailbox
            } else {
                LoginKind::User
            },
            principal_id: account.id(),
            access_token,
            refresh_token,
            expires_in: ttl,
        })
    }

    /// Refuses when the account has had too many failed password checks in the window.
    async fn ensure_not_locked(&self, account_key: &str) -> Result<()> {
        let (limit, window) = (
            self.cfg.login_max_failures_per_account,
            self.cfg.login_window_secs,
        );
        self.limiter.peek(account_key, limit, window).await?.check()
    }

    /// Counts one failed password check of the account.
    async fn count_failure(&self, account_key: &str) -> Result<()> {
        let (limit, window) = (
            self.cfg.login_max_failures_per_account,
            self.cfg.login_window_secs,
        );
        self.limiter.hit(account_key, limit, window).await?;
        Ok(())
    }

    fn refresh_ttl(&self) -> Duration {
        Duration::seconds(self.cfg.refresh_token_ttl_secs as i64)
    }
}

/// The rate-limit key of an account's failed password checks (the login is hashed so Redis
/// holds no addresses).
fn account_key(login: &str) -> String {
    format!("login:account:{}", sha256_hex(login))
}

/// The refusal for a user that is not active.
fn user_disabled(status: UserStatus) -> Option<Error> {
    (status != UserStatus::Active)
        .then(|| Error::forbidden("user_disabled", "this account is disabled"))
}

/// The refusal for a mailbox that is not active.
fn mailbox_suspended(status: MailboxStatus) -> Option<Error> {
    (status != MailboxStatus::Active)
        .then(|| Error::forbidden("mailbox_suspended", "this mailbox is suspended"))
}

/// Whether an account may act, from what is known of it: its own refusal first, then its
/// tenant (`account_tenant`), which must be live (`live_tenant`) and active. Returns the tenant
/// (none for platform admins). Logins and requests judge alike through it.
fn usable_tenant(
    refusal: Option<Error>,
    account_tenant: Option<Uuid>,
    live_tenant: Option<Uuid>,
    tenant_status: Option<TenantStatus>,
) -> Result<Option<Uuid>> {
    if let Some(e) = refusal {
        return Err(e);
    }
    let Some(tid) = account_tenant else {
        return Ok(None);
    };
    if live_tenant != Some(tid) {
        return Err(Error::Unauthenticated("invalid credentials"));
    }
    if tenant_status != Some(TenantStatus::Active) {
        return Err(Error::forbidden(
            "tenant_suspended",
            "this tenant is suspended",
        ));
    }
    Ok(Some(tid))
}

fn role_of(role: &str, id: Uuid) -> Result<Role> {
    Role::parse(role).ok_or_else(|| Error::Internal(format!("user {id} has unknown role {role}")))
}

/// Parses a stored JSON array of scope names, skipping names no longer known.
pub(crate) fn parse_scopes(json: &str) -> Vec<Scope> {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| Scope::parse(s))
        .collect()
}
