//! Input validation shared by the store and the API.

use crate::error::{Error, FieldError, Result};

/// Shortest password accepted for a person's account.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest password accepted (bounds the work of hashing).
pub const PASSWORD_MAX_BYTES: usize = 512;

/// Collects field errors and turns them into one [`Error::Validation`].
#[derive(Debug, Default)]
pub struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    /// An empty checker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an error for `field` when `ok` is false.
    pub fn check(&mut self, ok: bool, field: &str, message: &str) -> &mut Self {
        if !ok {
            self.errors.push(FieldError::new(field, message));
        }
        self
    }

    /// Records the error of a field validator, if any.
    pub fn push(&mut self, result: std::result::Result<(), FieldError>) -> &mut Self {
        if let Err(e) = result {
            self.errors.push(e);
        }
        self
    }

    /// Takes a normalised value, recording its error if it has one; [`Checker::finish`] then
    /// fails, so the default returned in that case is never used.
    pub fn take<T: Default>(&mut self, result: std::result::Result<T, FieldError>) -> T {
        match result {
            Ok(v) => v,
            Err(e) => {
                self.errors.push(e);
                T::default()
            }
        }
    }

    /// Ok when nothing was recorded.
    pub fn finish(&mut self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(std::mem::take(&mut self.errors)))
        }
    }
}

/// Lower-cases and checks an email address used as a login name.
pub fn normalize_email(field: &str, raw: &str) -> std::result::Result<String, FieldError> {
    let email = raw.trim().to_ascii_lowercase();
    let bad = |m: &str| FieldError::new(field, m);
    if email.is_empty() || email.len() > 254 {
        return Err(bad("must be an email address of at most 254 characters"));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(bad("must be an email address such as ana@example.com"));
    };
    let printable = |s: &str| s.chars().all(|c| !c.is_control() && !c.is_whitespace());
    if local.is_empty()
        || local.len() > 64
        || local.contains('@')
        || !printable(local)
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || !domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
    {
        return Err(bad("must be an email address such as ana@example.com"));
    }
    Ok(email)
}

/// Checks a new password against the minimum policy.
pub fn password(field: &str, pw: &str) -> std::result::Result<(), FieldError> {
    if pw.chars().count() < PASSWORD_MIN_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if pw.len() > PASSWORD_MAX_BYTES {
        return Err(FieldError::new(
            field,
            format!("must be at most {PASSWORD_MAX_BYTES} bytes"),
        ));
    }
    if pw.trim().is_empty() {
        return Err(FieldError::new(field, "must not be only white space"));
    }
    Ok(())
}

/// Checks a tenant slug: 2–63 of `a-z`, `0-9` and inner `-`.
pub fn slug(field: &str, s: &str) -> std::result::Result<(), FieldError> {
    let ok = (2..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            "must be 2-63 characters of a-z, 0-9 and '-', not starting or ending with '-'",
        ))
    }
}

/// Checks a display name: 1–200 characters, no control characters.
pub fn name(field: &str, s: &str, max: usize) -> std::result::Result<(), FieldError> {
    let n = s.trim().chars().count();
    if n == 0 || n > max || s.chars().any(char::is_control) {
        Err(FieldError::new(
            field,
            format!("must be 1-{max} characters without control characters"),
        ))
    } else {
        Ok(())
    }
}

/// Checks and lower-cases the local part of an address on one of our domains (RFC 5321
/// dot-atom). `+` is refused: it separates sub-addresses (`ana+news@` reaches `ana@`); `*` is the
/// catch-all and only allowed where the caller says so.
pub fn local_part(
    field: &str,
    raw: &str,
    allow_catch_all: bool,
) -> std::result::Result<String, FieldError> {
    let s = raw.trim().to_ascii_lowercase();
    if allow_catch_all && s == "*" {
        return Ok(s);
    }
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*/=?^_`{|}~-".contains(c);
    let ok = (1..=64).contains(&s.len())
        && !s.starts_with('.')
        && !s.ends_with('.')
        && !s.contains("..")
        && s.chars().all(|c| c == '.' || (atext(c) && c != '*'));
    if ok {
        Ok(s)
    } else {
        Err(FieldError::new(
            field,
            "must be 1-64 characters of letters, digits and !#$%&'/=?^_`{|}~-. (no '+', no leading, trailing or double dots)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            normalize_email("e", " Ana@Example.COM ").unwrap(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "ana@exa..com",
        ] {
            assert!(normalize_email("e", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn slugs() {
        assert!(slug("s", "acme-co").is_ok());
        for bad in ["a", "-acme", "acme-", "Acme", "ac me", "ac_me"] {
            assert!(slug("s", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn local_parts() {
        assert_eq!(local_part("l", " Ana.Silva ", false).unwrap(), "ana.silva");
        assert_eq!(local_part("l", "*", true).unwrap(), "*");
        for bad in [
            "",
            ".ana",
            "ana.",
            "a..b",
            "ana+x",
            "*",
            "a b",
            &"a".repeat(65),
            "ana@x",
        ] {
            assert!(local_part("l", bad, false).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn passwords() {
        assert!(password("p", "short").is_err());
        assert!(password("p", "          ").is_err());
        assert!(password("p", &"x".repeat(600)).is_err());
        assert!(password("p", "correct horse battery").is_ok());
    }
}
