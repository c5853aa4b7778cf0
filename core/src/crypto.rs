//! Encryption at rest: secrets such as DKIM private keys are sealed with ChaCha20-Poly1305
//! under a key derived (HKDF-SHA256) from the master key and a purpose label. The row's identity
//! is the associated data, so a sealed value copied into another row does not open.

use crate::error::{Error, Result};
use crate::secrets::random_bytes;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

const VERSION: &str = "v1";

/// Seals and opens values for one purpose.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer { .. }")
    }
}

impl Sealer {
    /// A sealer for `purpose` (such as `dkim-private-key`) under `master`.
    pub fn new(master: &[u8], purpose: &str) -> Result<Self> {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"mailroom at-rest encryption"), master)
            .expand(purpose.as_bytes(), &mut key)
            .map_err(|_| Error::Internal("key derivation failed".into()))?;
        Ok(Self {
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
        })
    }

    /// `v1:<base64(nonce ‖ ciphertext)>`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<String> {
        let nonce = random_bytes::<12>()?;
        let ct = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| Error::Internal("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!(
            "{VERSION}:{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    /// Opens a sealed value; fails when it was altered, bound to other `aad`, or sealed under
    /// another master key.
    pub fn open(&self, aad: &[u8], sealed: &str) -> Result<Vec<u8>> {
        let bad = || {
            Error::Internal(
                "a sealed secret does not open: wrong master key or damaged data".into(),
            )
        };
        let b64 = sealed.strip_prefix("v1:").ok_or_else(bad)?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad())?;
        if raw.len() < 12 + 16 {
            return Err(bad());
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| bad())?;
        self.cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad })
            .map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refusals() {
        let s = Sealer::new(b"master key of at least thirty-two bytes", "dkim").unwrap();
        let sealed = s.seal(b"row-1", b"secret").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(s.open(b"row-1", &sealed).unwrap(), b"secret");
        assert!(
            s.open(b"row-2", &sealed).is_err(),
            "opened under other associated data"
        );
        let other = Sealer::new(b"another master key, also long enough", "dkim").unwrap();
        assert!(
            other.open(b"row-1", &sealed).is_err(),
            "opened under another master key"
        );
        let purpose = Sealer::new(b"master key of at least thirty-two bytes", "other").unwrap();
        assert!(purpose.open(b"row-1", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.replace_range(sealed.len() - 3.., "AAA");
        assert!(s.open(b"row-1", &tampered).is_err());
    }
}
