//! What every handler shares. The database handle is private here: a handler reaches tenant
//! data only through [`crate::extract::Authed`] (a `TenantStore` bound to the caller's tenant,
//! or the platform store for platform admins), never the unscoped store.

use mailroom_core::auth::{Auth, ClientInfo, Principal, Scope};
use mailroom_core::config::Config;
use mailroom_core::error::Result;
use mailroom_core::health::Health;
use mailroom_core::ratelimit::RateLimiter;
use mailroom_core::store::{PlatformStore, Store, TenantStore};
use std::sync::Arc;

/// What every handler shares.
pub struct AppState {
    /// The database: private, see the module documentation.
    store: Store,
    /// Authentication.
    pub auth: Auth,
    /// The ingest pipeline (imports).
    pub pipeline: mailroom_core::mail::ingest::Pipeline,
    /// DNS, domain settings, DKIM key sealing.
    pub domains: mailroom_core::domains::DomainService,
    /// Rate limiter (in process or Redis).
    pub limiter: RateLimiter,
    /// The configuration.
    pub config: Arc<Config>,
    /// Proxies whose `X-Forwarded-For` is believed (parsed `api.trusted_proxies`).
    pub trusted_proxies: Vec<mailroom_core::net::Cidr>,
    /// The outbound path (REST send), as SMTP submission uses it.
    pub outbound: mailroom_core::mail::outbound::Outbound,
}

impl AppState {
    /// The shared state over `store`.
    pub fn new(
        store: Store,
        auth: Auth,
        pipeline: mailroom_core::mail::ingest::Pipeline,
        domains: mailroom_core::domains::DomainService,
        limiter: RateLimiter,
        config: Arc<Config>,
        trusted_proxies: Vec<mailroom_core::net::Cidr>,
    ) -> Self {
        let outbound = mailroom_core::mail::outbound::Outbound::new(
            config.outbound.clone(),
            config.smtp.hostname(&config.public_hostname),
            domains.clone(),
            &pipeline,
            limiter.clone(),
        );
        Self {
            store,
            auth,
            pipeline,
            domains,
            limiter,
            config,
            trusted_proxies,
            outbound,
        }
    }

    /// The caller's tenant store, if the principal holds `scope` (for [`crate::extract::Authed`]).
    pub(crate) fn tenant_store(
        &self,
        principal: &Principal,
        scope: Scope,
        client: &ClientInfo,
    ) -> Result<TenantStore> {
        principal.tenant_store(&self.store, scope, client)
    }

    /// The platform store, for platform admins holding `scope` (for [`crate::extract::Authed`]).
    pub(crate) fn platform_store(
        &self,
        principal: &Principal,
        scope: Scope,
        client: &ClientInfo,
    ) -> Result<PlatformStore> {
        principal.platform_store(&self.store, scope, client)
    }

    /// What is up and what is down (health and readiness, metrics).
    pub fn health(&self) -> &Health {
        self.store.health()
    }

    /// Checks the database answers (readiness).
    pub async fn ping_database(&self) -> Result<()> {
        self.store.ping().await
    }
}
