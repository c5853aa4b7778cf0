//! The STARTTLS certificate: from the configured PEM files, or a self-signed one generated on
//! first start and kept in `<data_dir>/smtp-tls/` so restarts present the same certificate.

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Loads (or creates) the certificate and builds the rustls server configuration.
pub fn server_config(
    cert: &str,
    key: &str,
    data_dir: &Path,
    hostname: &str,
) -> Result<Arc<ServerConfig>, String> {
    let (cert_path, key_path) = if cert.is_empty() {
        self_signed(data_dir, hostname)?
    } else {
        (PathBuf::from(cert), PathBuf::from(key))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| format!("{}: {e}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", cert_path.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| format!("{}: {e}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS certificate and key do not fit: {e}"))?;
    Ok(Arc::new(cfg))
}

fn self_signed(data_dir: &Path, hostname: &str) -> Result<(PathBuf, PathBuf), String> {
    let dir = data_dir.join("smtp-tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let made = rcgen::generate_simple_self_signed(vec![hostname.to_string()])
        .map_err(|e| format!("cannot generate a TLS certificate: {e}"))?;
    write_private(&key, made.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&cert, made.cert.pem()).map_err(|e| format!("{}: {e}", cert.display()))?;
    tracing::info!(path = %cert.display(), "generated a self-signed SMTP TLS certificate");
    Ok((cert, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}
