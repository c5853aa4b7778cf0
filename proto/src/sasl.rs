//! SASL PLAIN (RFC 4616), shared by IMAP's AUTHENTICATE and POP3's AUTH: a client response is
//! `authzid NUL authcid NUL password` in base64 (`=` for an empty one, `*` to cancel).

/// Why a PLAIN response is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainError {
    /// The client sent `*`.
    Cancelled,
    /// Not base64.
    NotBase64,
    /// Not three NUL-separated parts.
    NotPlain,
    /// An authorization identity other than the authentication identity.
    ActingForAnother,
}

/// Decodes a PLAIN response into (user, password).
pub fn plain(line: &[u8]) -> Result<(String, String), PlainError> {
    if line == b"*" {
        return Err(PlainError::Cancelled);
    }
    let line = if line == b"=" { &b""[..] } else { line };
    let decoded = base64(line).ok_or(PlainError::NotBase64)?;
    let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
    let [authz, authc, password] = parts.as_slice() else {
        return Err(PlainError::NotPlain);
    };
    if !authz.is_empty() && authz != authc {
        return Err(PlainError::ActingForAnother);
    }
    Ok((
        String::from_utf8_lossy(authc).into_owned(),
        String::from_utf8_lossy(password).into_owned(),
    ))
}

/// Decodes one base64 line of an exchange (SMTP AUTH LOGIN) as text.
pub fn decode(line: &[u8]) -> Option<String> {
    let bytes = base64(line)?;
    String::from_utf8(bytes).ok()
}

/// Strict base64 (padding only at the end, no white space), as SASL has it; the decoding is
/// the IMAP BINARY decoder's, once the text is known to be well formed.
fn base64(s: &[u8]) -> Option<Vec<u8>> {
    let body = s
        .strip_suffix(b"==")
        .or_else(|| s.strip_suffix(b"="))
        .unwrap_or(s);
    let well_formed = s.len().is_multiple_of(4)
        && body
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/');
    well_formed.then(|| crate::imap::binary::base64(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_responses() {
        // "\0ana\0pw" and "ana\0ana\0pw".
        assert_eq!(plain(b"AGFuYQBwdw=="), Ok(("ana".into(), "pw".into())));
        assert_eq!(plain(b"YW5hAGFuYQBwdw=="), Ok(("ana".into(), "pw".into())));
        assert_eq!(plain(b"*"), Err(PlainError::Cancelled));
        assert_eq!(plain(b"=@@="), Err(PlainError::NotBase64));
        assert_eq!(plain(b"AGFuYQBwdw"), Err(PlainError::NotBase64));
        assert_eq!(plain(b"="), Err(PlainError::NotPlain));
        // "bob\0ana\0pw"
        assert_eq!(
            plain(b"Ym9iAGFuYQBwdw=="),
            Err(PlainError::ActingForAnother)
        );
        assert_eq!(base64(b"YWJj").unwrap(), b"abc");
        assert_eq!(base64(b"YQ==").unwrap(), b"a");
        assert!(base64(b"YQ==YWJj").is_none());
    }
}
