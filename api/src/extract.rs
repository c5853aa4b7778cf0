//! Extractors: who is calling ([`Authed`]) and from where ([`ClientInfo`]).

use crate::AppState;
use crate::error::ApiError;
use crate::middleware::RequestId;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use mailroom_core::auth::{ClientInfo, Principal, Scope};
use mailroom_core::net::client_ip;
use mailroom_core::store::{PlatformStore, TenantStore};

/// Where the request came from. Behind a load balancer listed in `api.trusted_proxies`, the
/// client is taken from `X-Forwarded-For`; otherwise it is the TCP peer.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        ip: req.peer_addr().map(|a| {
            let trusted = req
                .app_data::<web::Data<AppState>>()
                .map_or(&[][..], |s| &s.trusted_proxies[..]);
            let forwarded = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok());
            client_ip(a.ip(), forwarded, trusted).to_string()
        }),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// The bearer credential of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// An authenticated request. The only way a handler reaches tenant data is
/// [`Authed::tenant`], which binds the store to the principal's own tenant.
pub struct Authed {
    /// Who is calling.
    pub principal: Principal,
    /// From where.
    pub client: ClientInfo,
    state: web::Data<AppState>,
}

impl Authed {
    /// The caller's tenant store, if it holds `scope`.
    pub fn tenant(&self, scope: Scope) -> Result<TenantStore, ApiError> {
        Ok(self
            .state
            .tenant_store(&self.principal, scope, &self.client)?)
    }

    /// The platform store, for platform admins holding `scope`.
    pub fn platform(&self, scope: Scope) -> Result<PlatformStore, ApiError> {
        Ok(self
            .state
            .platform_store(&self.principal, scope, &self.client)?)
    }
}

impl FromRequest for Authed {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| {
                    ApiError::from(mailroom_core::Error::Internal("no app state".into()))
                })?;
            let Some(token) = bearer(&req) else {
                return Err(mailroom_core::Error::Unauthenticated(
                    "send Authorization: Bearer <token or API key>",
                )
                .into());
            };
            let principal = state.auth.authenticate(&token).await?;
            Ok(Authed {
                principal,
                client: client_info(&req),
                state,
            })
        })
    }
}
