//! DKIM keys: RSA-2048 (what every verifier supports) and Ed25519 (RFC 8463, signed alongside).
//! Private keys leave this module only as PKCS#8 DER, to be sealed before storage.

use crate::error::{Error, Result};
use argon2::password_hash::rand_core::OsRng;
use base64::Engine;

/// A DKIM signing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// rsa-sha256 with a 2048-bit key.
    Rsa,
    /// ed25519-sha256.
    Ed25519,
}

impl Algorithm {
    /// The name stored and shown (`rsa-sha256`, `ed25519-sha256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rsa => "rsa-sha256",
            Algorithm::Ed25519 => "ed25519-sha256",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rsa-sha256" => Some(Algorithm::Rsa),
            "ed25519-sha256" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }

    /// The `k=` tag of the DNS record.
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::Rsa => "rsa",
            Algorithm::Ed25519 => "ed25519",
        }
    }
}

/// A freshly generated key pair.
pub struct KeyPair {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// PKCS#8 DER of the private key.
    pub private_pkcs8: Vec<u8>,
    /// The `p=` value: base64 of the SubjectPublicKeyInfo (RSA) or of the raw key (Ed25519).
    pub public_b64: String,
}

/// Generates a key pair on the blocking pool (RSA generation takes a while).
pub async fn generate(algorithm: Algorithm) -> Result<KeyPair> {
    tokio::task::spawn_blocking(move || generate_now(algorithm))
        .await
        .map_err(|e| Error::Internal(format!("key generation task failed: {e}")))?
}

fn generate_now(algorithm: Algorithm) -> Result<KeyPair> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let fail = |e: &dyn std::fmt::Display| Error::Internal(format!("key generation failed: {e}"));
    match algorithm {
        Algorithm::Rsa => {
            use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
            let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).map_err(|e| fail(&e))?;
            let private = key.to_pkcs8_der().map_err(|e| fail(&e))?;
            let public = key
                .to_public_key()
                .to_public_key_der()
                .map_err(|e| fail(&e))?;
            Ok(KeyPair {
                algorithm,
                private_pkcs8: private.as_bytes().to_vec(),
                public_b64: b64(public.as_bytes()),
            })
        }
        Algorithm::Ed25519 => {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            let seed = crate::secrets::random_bytes::<32>()?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let private = key.to_pkcs8_der().map_err(|e| fail(&e))?;
            Ok(KeyPair {
                algorithm,
                private_pkcs8: private.as_bytes().to_vec(),
                public_b64: b64(key.verifying_key().as_bytes()),
            })
        }
    }
}

/// The TXT value to publish at `<selector>._domainkey.<domain>`.
pub fn dns_value(algorithm: Algorithm, public_b64: &str) -> String {
    format!("v=DKIM1; k={}; p={public_b64}", algorithm.key_type())
}

/// A new selector: `mr` + date + `r` (RSA) or `e` (Ed25519) + 4 random hex digits, so rotations
/// on one day still differ.
pub fn new_selector(algorithm: Algorithm, now: chrono::DateTime<chrono::Utc>) -> Result<String> {
    let r = crate::secrets::random_bytes::<2>()?;
    let kind = match algorithm {
        Algorithm::Rsa => 'r',
        Algorithm::Ed25519 => 'e',
    };
    Ok(format!(
        "mr{}{kind}{:02x}{:02x}",
        now.format("%Y%m%d"),
        r[0],
        r[1]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_generated_in_publishable_form() {
        let rsa = generate(Algorithm::Rsa).await.unwrap();
        use rsa::pkcs8::DecodePrivateKey;
        let key = rsa::RsaPrivateKey::from_pkcs8_der(&rsa.private_pkcs8).unwrap();
        assert_eq!(rsa::traits::PublicKeyParts::size(&key), 256);
        assert!(
            dns_value(Algorithm::Rsa, &rsa.public_b64).starts_with("v=DKIM1; k=rsa; p=MIIBIjAN")
        );
        let ed = generate(Algorithm::Ed25519).await.unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&ed.public_b64)
                .unwrap()
                .len(),
            32
        );
        let s = new_selector(Algorithm::Ed25519, chrono::Utc::now()).unwrap();
        assert!(s.starts_with("mr") && s.len() == 15, "{s}");
    }
}
