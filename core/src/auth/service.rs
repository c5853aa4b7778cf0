//! Login, token refresh, logout and per-request authentication.

use super::password::verify_password;
use super::principal::{ClientInfo, Principal, PrincipalKind};
use super::scopes::{Role, Scope};
use super::tokens::{API_KEY_PREFIX, JwtKeys, REFRESH_TOKEN_PREFIX, random_token, sha256_hex};
use crate::config::AuthConfig;
use crate::error::{Error, Result};
use crate::ids::TenantId;
use crate::ratelimit::RateLimiter;
use crate::store::entities::{tenants, users};
use crate::store::{Store, SystemStore};
use chrono::{Duration, Utc};
use uuid::Uuid;

/// A fresh pair of tokens.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Exchange at `/v1/auth/refresh` for a new pair; single use.
    pub refresh_token: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
}

/// The authentication service.
#[derive(Clone)]
pub struct Auth {
    sys: SystemStore,
    keys: JwtKeys,
    cfg: AuthConfig,
    limiter: RateLimiter,
}

/// How often `last_used_at` of an API key is written at most (it would otherwise cost a write
/// per request).
const LAST_USED_GRANULARITY_SECS: i64 = 60;

impl Auth {
    /// Builds the service.
    pub fn new(store: &Store, jwt_secret: &[u8], cfg: AuthConfig, limiter: RateLimiter) -> Self {
        Self {
            sys: store.system(),
            keys: JwtKeys::new(jwt_secret),
            cfg,
            limiter,
        }
    }

    /// Checks an email and password and opens a session.
    ///
    /// Failures are counted per account and attempts per client address; past either limit the
    /// answer is `rate_limited` without checking the password. The error for an unknown email
    /// and a wrong password is the same, and takes the same time.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<TokenPair> {
        let email = email.trim().to_ascii_lowercase();
        let window = self.cfg.login_window_secs;
        let ip_key = format!("login:ip:{}", client.ip.as_deref().unwrap_or("unknown"));
        let account_key = account_key(&email);
        self.limiter
            .hit(&ip_key, self.cfg.login_max_attempts_per_ip, window)
            .await?
            .check()?;
        self.ensure_not_locked(&account_key).await?;

        let user = self.sys.user_by_email(&email).await?;
        let ok = verify_password(password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
        let Some(user) = user.filter(|_| ok) else {
            self.count_failure(&account_key).await?;
            return Err(Error::Unauthenticated("invalid email or password"));
        };
        let tenant = self.usable_account(&user).await?;
        self.limiter.reset(&account_key).await?;

        let session = self
            .sys
            .open_session(&user, client, self.refresh_ttl())
            .await?;
        let refresh = random_token(REFRESH_TOKEN_PREFIX)?;
        self.sys
            .add_refresh_token(session, &sha256_hex(&refresh), self.refresh_ttl())
            .await?;
        self.sys
            .record_login(&user, tenant.as_ref(), client)
            .await?;
        self.pair(&user, session, refresh)
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
        let Some(user) = self.sys.user(session.user_id).await? else {
            return Err(invalid);
        };
        self.usable_account(&user).await?;
        let refresh = random_token(REFRESH_TOKEN_PREFIX)?;
        self.sys
            .add_refresh_token(session.id, &sha256_hex(&refresh), self.refresh_ttl())
            .await?;
        self.pair(&user, session.id, refresh)
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

    /// Changes the caller's own password after checking the current one. Every other session of
    /// the user ends; the caller's stays. Wrong current passwords count as failed logins.
    pub async fn change_password(
        &self,
        p: &Principal,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        if p.kind != PrincipalKind::User {
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
        let Some(user) = self.sys.user(p.user_id).await? else {
            return Err(Error::Unauthenticated("user no longer exists"));
        };
        if !verify_password(current, Some(&user.password_hash)).await? {
            self.count_failure(&account_key).await?;
            return Err(Error::invalid(
                "current_password",
                "is not the current password",
            ));
        }
        let hash = super::hash_password(new).await?;
        self.sys
            .set_password(&user, &hash, p.session_id, &p.actor(client))
            .await
    }

    /// Authenticates a bearer credential: an API key (`mrk_…`) or an access token.
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
        let Some(session) = self.sys.session(claims.sid).await? else {
            return Err(invalid);
        };
        if session.revoked_at.is_some() || session.user_id != claims.sub {
            return Err(invalid);
        }
        let Some(user) = self.sys.user(claims.sub).await? else {
            return Err(invalid);
        };
        let tenant = self.usable_account(&user).await?;
        let role = role_of(&user)?;
        let tenant_id = tenant.map(|t| TenantId::from_uuid(t.id));
        Ok(Principal::new(
            PrincipalKind::User,
            user.id,
            user.email,
            role,
            tenant_id,
            role.scopes(),
        )
        .with_session(session.id))
    }

    async fn authenticate_key(&self, key: &str) -> Result<Principal> {
        let invalid = Error::Unauthenticated("invalid, expired or revoked API key");
        let Some(k) = self.sys.api_key_by_hash(&sha256_hex(key)).await? else {
            return Err(invalid);
        };
        let now = Utc::now();
        if k.revoked_at.is_some() || k.expires_at.is_some_and(|e| e <= now) {
            return Err(invalid);
        }
        let Some(user) = self.sys.user(k.created_by).await? else {
            return Err(invalid);
        };
        let tenant = self.usable_account(&user).await?;
        let Some(tenant) = tenant.filter(|t| t.id == k.tenant_id) else {
            return Err(invalid);
        };
        let role = role_of(&user)?;
        let scopes: Vec<Scope> = parse_scopes(&k.scopes)
            .into_iter()
            .filter(|s| role.allows(*s))
            .collect();
        if k.last_used_at
            .is_none_or(|t| (now - t).num_seconds() >= LAST_USED_GRANULARITY_SECS)
        {
            self.sys.touch_api_key(k.id, now).await?;
        }
        let tenant_id = Some(TenantId::from_uuid(tenant.id));
        Ok(Principal::new(
            PrincipalKind::ApiKey,
            user.id,
            user.email,
            role,
            tenant_id,
            scopes,
        )
        .with_api_key(k.id, k.name))
    }

    /// Refuses disabled users and users of suspended or deleted tenants; returns the tenant.
    async fn usable_account(&self, user: &users::Model) -> Result<Option<tenants::Model>> {
        if user.status != "active" {
            return Err(Error::forbidden(
                "user_disabled",
                "this account is disabled",
            ));
        }
        let Some(tid) = user.tenant_id else {
            return Ok(None);
        };
        let tenant = self
            .sys
            .live_tenant(tid)
            .await?
            .ok_or(Error::Unauthenticated("invalid credentials"))?;
        if tenant.status != "active" {
            return Err(Error::forbidden(
                "tenant_suspended",
                "this tenant is suspended",
            ));
        }
        Ok(Some(tenant))
    }

    fn pair(&self, user: &users::Model, session: Uuid, refresh_token: String) -> Result<TokenPair> {
        let ttl = self.cfg.access_token_ttl_secs;
        let access_token = self.keys.issue(
            user.id,
            session,
            user.tenant_id,
            Utc::now().timestamp(),
            ttl as i64,
        )?;
        Ok(TokenPair {
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

/// The rate-limit key of an account's failed password checks (the email is hashed so Redis
/// holds no addresses).
fn account_key(email: &str) -> String {
    format!("login:account:{}", sha256_hex(email))
}

fn role_of(user: &users::Model) -> Result<Role> {
    Role::parse(&user.role)
        .ok_or_else(|| Error::Internal(format!("user {} has unknown role {}", user.id, user.role)))
}

/// Parses a stored JSON array of scope names, skipping names no longer known.
pub(crate) fn parse_scopes(json: &str) -> Vec<Scope> {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| Scope::parse(s))
        .collect()
}
