//! Password hashing with argon2id. It is deliberately slow and takes 19 MiB per call, so it
//! runs on a few threads of its own ([`on_password_threads`]), not on the blocking pool: a burst
//! of logins (IMAP clients reconnecting, say) would otherwise spread those 19 MiB over as many
//! threads as there are logins at once, and each thread's allocator arena keeps what it had.

use crate::error::{Error, Result};
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

/// Runs `f` on the password threads (one per CPU, at least two), in arrival order.
async fn on_password_threads<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    static POOL: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        let n = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        for i in 0..n {
            let rx = rx.clone();
            let _ = std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
        }
        Mutex::new(tx)
    });
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(f());
    });
    pool.lock()
        .map_err(|_| Error::Internal("password threads gone".into()))?
        .send(job)
        .map_err(|_| Error::Internal("password threads gone".into()))?;
    result
        .await
        .map_err(|_| Error::Internal("password task failed".into()))
}

/// Hashes a password into an argon2id PHC string (default parameters: 19 MiB, t=2, p=1).
pub async fn hash_password(password: &str) -> Result<String> {
    let pw = password.to_owned();
    on_password_threads(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(pw.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("hashing failed: {e}")))
    })
    .await?
}

/// Checks a password against a stored hash. With `None` (no such account) it still spends the
/// same time on a dummy hash, so response times do not reveal which emails exist.
pub async fn verify_password(password: &str, hash: Option<&str>) -> Result<bool> {
    let pw = password.to_owned();
    let hash = hash.map(str::to_owned);
    on_password_threads(move || {
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
