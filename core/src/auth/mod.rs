//! Authentication and authorisation.
//!
//! A request becomes a [`Principal`] here and nowhere else: from a JWT access token, or from
//! an API key. The principal is the only way to a [`crate::store::TenantStore`], so the tenant a
//! handler works in always comes from verified credentials, never from the request.

mod account;
mod cache;
mod password;
mod principal;
mod scopes;
mod service;
mod tokens;

pub(crate) use account::Account;
pub use account::LoginKind;
pub use password::{hash_password, verify_password};
pub use principal::{ClientInfo, Principal, PrincipalKind};
pub use scopes::{Role, Scope};
pub(crate) use service::parse_scopes;
pub use service::{Auth, LoginFailure, TokenPair};
pub(crate) use tokens::random_token;
pub use tokens::{API_KEY_PREFIX, REFRESH_TOKEN_PREFIX, sha256_hex};
