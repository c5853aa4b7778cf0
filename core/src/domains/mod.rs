//! Custom domains: names, the DNS records a tenant must publish, and DKIM keys.

pub mod dkim;
pub mod records;

use crate::error::Error;

/// A normalised domain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainName {
    /// ASCII (punycode) form, lower case, no final dot: what DNS and SMTP use.
    pub ascii: String,
    /// Unicode form, for people.
    pub unicode: String,
}

/// Normalises a domain name: trims, drops the final dot, maps IDN to punycode (UTS #46), lower
/// cases, checks label syntax, and refuses public suffixes (`com`, `co.uk`, …), which no tenant
/// can own.
pub fn normalize(raw: &str) -> Result<DomainName, Error> {
    let invalid = |why: &str| Error::Rejected {
        code: "invalid_domain",
        field: "name".into(),
        message: why.into(),
    };
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(invalid("must be a domain name such as example.com"));
    }
    let ascii =
        idna::domain_to_ascii(trimmed).map_err(|_| invalid("is not a valid domain name"))?;
    if ascii.len() > 253 {
        return Err(invalid("must be at most 253 characters"));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(invalid(
            "must have at least two labels, such as example.com",
        ));
    }
    for label in &labels {
        let ok = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(invalid(
                "has a label that is not 1-63 letters, digits and inner hyphens",
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid("is an IP address, not a domain name"));
    }
    if psl::suffix_str(&ascii) == Some(ascii.as_str()) || psl::domain_str(&ascii).is_none() {
        return Err(Error::Rejected {
            code: "public_suffix",
            field: "name".into(),
            message: format!(
                "{ascii} is a public suffix (like com or co.uk) and cannot be owned; add a domain under it"
            ),
        });
    }
    let (unicode, _) = idna::domain_to_unicode(&ascii);
    Ok(DomainName { ascii, unicode })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<DomainName, Error>) -> String {
        match r {
            Err(Error::Rejected { code, .. }) => code.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn names_are_normalised() {
        let n = normalize(" Mail.Example.COM. ").unwrap();
        assert_eq!(n.ascii, "mail.example.com");
        let idn = normalize("Bücher.example").unwrap();
        assert_eq!(idn.ascii, "xn--bcher-kva.example");
        assert_eq!(idn.unicode, "bücher.example");
        assert_eq!(
            normalize("xn--bcher-kva.example").unwrap().unicode,
            "bücher.example"
        );
    }

    #[test]
    fn invalid_names_and_public_suffixes_are_refused() {
        for bad in [
            "",
            ".",
            "com.",
            "localhost",
            "-a.com",
            "a_b.com",
            "a..com",
            "192.168.0.1",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert_eq!(code(normalize(bad)), "invalid_domain", "{bad:?}");
        }
        for suffix in ["com", "co.uk", "github.io", "CO.UK."] {
            assert_eq!(
                code(normalize(suffix)),
                if suffix == "com" {
                    "invalid_domain"
                } else {
                    "public_suffix"
                },
                "{suffix}"
            );
        }
        assert!(normalize("acme.co.uk").is_ok());
    }
}

/// What domain operations need besides the database: DNS, settings, and the sealer for DKIM
/// private keys. Built once at start.
#[derive(Clone)]
pub struct DomainService {
    /// The resolver.
    pub dns: crate::dns::Dns,
    /// Domain settings.
    pub cfg: crate::config::DomainsConfig,
    /// The deployment's mail host name.
    pub public_hostname: String,
    /// Seals DKIM private keys.
    pub sealer: crate::crypto::Sealer,
}

impl DomainService {
    /// Builds the service from the configuration and the master key.
    pub fn new(cfg: &crate::config::Config, master_key: &[u8]) -> crate::Result<Self> {
        Ok(Self {
            dns: crate::dns::Dns::new(&cfg.dns)?,
            cfg: cfg.domains.clone(),
            public_hostname: cfg
                .public_hostname
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase(),
            sealer: crate::crypto::Sealer::new(master_key, "dkim-private-key")?,
        })
    }
}
