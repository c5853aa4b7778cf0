//! Secrets that must survive restarts and be shared by replicas: the JWT signing key and the
//! master key. When the configuration does not set them, they are generated once into
//! `<data_dir>/secrets/` with mode 0600 and read back on every later start.

use crate::config::Config;
use crate::error::{Error, Result};
use base64::Engine;
use std::path::Path;

/// The process's long-lived secrets.
#[derive(Clone)]
pub struct Secrets {
    /// HS256 key for access tokens.
    pub jwt: Vec<u8>,
    /// Root key for at-rest encryption.
    pub master: Vec<u8>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

impl Secrets {
    /// Takes the secrets from the configuration, or loads / generates them in the data directory.
    pub fn load(cfg: &Config) -> Result<Self> {
        let dir = cfg.data_dir.join("secrets");
        let jwt = from_config_or_file(&cfg.jwt_secret, &dir.join("jwt.key"))?;
        let master = from_config_or_file(&cfg.master_key, &dir.join("master.key"))?;
        if cfg.is_postgres() && (cfg.jwt_secret.is_empty() || cfg.master_key.is_empty()) {
            tracing::warn!(
                "jwt_secret or master_key is not configured: using keys generated in {}; \
                 every replica must use the same keys (set MAILROOM_JWT_SECRET and MAILROOM_MASTER_KEY)",
                dir.display()
            );
        }
        Ok(Self { jwt, master })
    }
}

fn from_config_or_file(configured: &str, path: &Path) -> Result<Vec<u8>> {
    if !configured.is_empty() {
        return Ok(configured.as_bytes().to_vec());
    }
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = text.trim();
            if key.len() < 32 {
                return Err(Error::Config(format!(
                    "{} holds a key shorter than 32 characters",
                    path.display()
                )));
            }
            Ok(key.as_bytes().to_vec())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => generate(path),
        Err(e) => Err(Error::Config(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn generate(path: &Path) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| Error::Config(format!("cannot write {}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<48>()?);
    write_private(path, &key).map_err(io)?;
    tracing::info!(path = %path.display(), "generated a new secret key");
    Ok(key.into_bytes())
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // create_new: two processes starting at once must not overwrite each other's key.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// `N` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let a = Secrets::load(&cfg).unwrap();
        let b = Secrets::load(&cfg).unwrap();
        assert_eq!(a.jwt, b.jwt);
        assert_ne!(a.jwt, a.master);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secrets/jwt.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let set = Config {
            jwt_secret: "k".repeat(40),
            ..cfg
        };
        assert_eq!(
            Secrets::load(&set).unwrap().jwt,
            "k".repeat(40).into_bytes()
        );
    }
}
