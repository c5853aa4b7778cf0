//! Login, token refresh and logout.

pub mod login;
pub mod logout;
pub mod refresh;

use mailroom_core::auth::TokenPair;
use serde::Serialize;
use utoipa::ToSchema;

/// A fresh token pair.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Single-use token for `/v1/auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl From<TokenPair> for TokenResponse {
    fn from(p: TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            refresh_token: p.refresh_token,
            token_type: "Bearer",
            expires_in: p.expires_in,
        }
    }
}
