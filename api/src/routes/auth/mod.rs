//! Login, token refresh and logout.

pub mod login;
pub mod logout;
pub mod refresh;

use mailroom_core::auth::{LoginKind, TokenPair};
use serde::Serialize;
use utoipa::ToSchema;

/// A fresh token pair.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Whose session this is: `user` or `mailbox`.
    #[schema(value_type = String, example = "user")]
    pub kind: LoginKind,
    /// The user's or the mailbox's id.
    pub principal_id: uuid::Uuid,
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
            kind: p.kind,
            principal_id: p.principal_id,
            access_token: p.access_token,
            refresh_token: p.refresh_token,
            token_type: "Bearer",
            expires_in: p.expires_in,
        }
    }
}
