//! Password hashing with argon2id. Hashing runs on the blocking pool: it is deliberately slow.

use crate::error::{Error, Result};
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use std::sync::OnceLock;

/// Hashes a password into an argon2id PHC string (default parameters: 19 MiB, t=2, p=1).
pub async fn hash_password(password: &str) -> Result<String> {
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(pw.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
}

/// Checks a password against a stored hash. With `None` (no such account) it still spends the
/// same time on a dummy hash, so response times do not reveal which emails exist.
pub async fn verify_password(password: &str, hash: Option<&str>) -> Result<bool> {
    let pw = password.to_owned();
    let hash = hash.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let (stored, real) = match hash {
            Some(h) => (h, true),
            None => (dummy_hash().to_owned(), false),
        };
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(pw.as_bytes(), &parsed)
            .is_ok();
        ok && real
    })
    .await
    .map_err(|e| Error::Internal(format!("verify task failed: {e}")))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"mailroom-dummy-password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash_password("correct horse battery").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse battery", Some(&h))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("wrong horse battery", Some(&h))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("mailroom-dummy-password", None)
                .await
                .unwrap()
        );
    }
}
