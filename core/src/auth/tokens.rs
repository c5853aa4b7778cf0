//! Access tokens (JWT, HS256), refresh tokens and API keys.
//!
//! Refresh tokens and API keys are 256-bit random strings with a recognisable prefix (so
//! secret scanners and people can tell them apart). The database stores only their SHA-256:
//! with that much entropy a fast hash is as safe as a slow one and lets us look them up.

use crate::error::{Error, Result};
use crate::secrets::random_bytes;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Every API key starts with this.
pub const API_KEY_PREFIX: &str = "mrk_";
/// Every refresh token starts with this.
pub const REFRESH_TOKEN_PREFIX: &str = "mrr_";
const ISSUER: &str = "mailroom";

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The session (refresh-token family) it was issued in.
    pub sid: Uuid,
    /// The tenant, absent for platform admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<Uuid>,
    /// The subject is a mailbox (its owner logged in), not a user.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mbx: bool,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

/// Signs and checks access tokens.
#[derive(Clone)]
pub(crate) struct JwtKeys {
    enc: EncodingKey,
    dec: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub(crate) fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 5;
        Self {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub(crate) fn issue(
        &self,
        user: Uuid,
        session: Uuid,
        tenant: Option<Uuid>,
        mailbox: bool,
        now: i64,
        ttl: i64,
    ) -> Result<String> {
        let claims = Claims {
            sub: user,
            sid: session,
            tid: tenant,
            mbx: mailbox,
            iat: now,
            exp: now + ttl,
            iss: ISSUER.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.enc)
            .map_err(|e| Error::Internal(format!("cannot sign token: {e}")))
    }

    pub(crate) fn check(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.dec, &self.validation)
            .ok()
            .map(|d| d.claims)
    }
}

/// A new random secret with the given prefix.
pub(crate) fn random_token(prefix: &str) -> Result<String> {
    let bytes = random_bytes::<32>()?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Hex SHA-256 of a token, as stored.
pub fn sha256_hex(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_round_trip_and_rejections() {
        let keys = JwtKeys::new(&[7u8; 32]);
        let (u, s, t) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let now = chrono::Utc::now().timestamp();
        let tok = keys.issue(u, s, Some(t), false, now, 60).unwrap();
        let c = keys.check(&tok).unwrap();
        assert_eq!((c.sub, c.sid, c.tid), (u, s, Some(t)));
        assert!(
            keys.check(&keys.issue(u, s, None, false, now - 600, 60).unwrap())
                .is_none(),
            "expired accepted"
        );
        assert!(
            JwtKeys::new(&[8u8; 32]).check(&tok).is_none(),
            "foreign key accepted"
        );
        let mut forged = tok.clone();
        forged.pop();
        assert!(keys.check(&forged).is_none());
    }

    #[test]
    fn tokens_are_random_and_prefixed() {
        let a = random_token(API_KEY_PREFIX).unwrap();
        assert!(a.starts_with("mrk_") && a.len() > 40);
        assert_ne!(a, random_token(API_KEY_PREFIX).unwrap());
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
