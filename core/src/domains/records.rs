//! The DNS records a tenant publishes for a domain, and how each is checked.

use super::dkim::{self, Algorithm};
use crate::dns::{Answer, Dns};
use serde::{Deserialize, Serialize};

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Published as expected.
    Ok,
    /// Not published.
    Missing,
    /// Published, but not as expected (see `detail`).
    Mismatch,
    /// DNS did not answer (timeout, SERVFAIL): try again. Never read as missing.
    Error,
}

/// One record to publish, with what was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordCheck {
    /// `ownership`, `mx`, `spf`, `dkim` or `dmarc`. (Client-discovery records, SRV and
    /// autoconfig, join the list when the services they point to exist.)
    pub purpose: String,
    /// `TXT` or `MX`.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Where to publish it.
    pub name: String,
    /// What to publish (the suggested value where several would do).
    pub value: String,
    /// Whether the domain needs it to work (false: recommended for client set-up).
    pub required: bool,
    /// What the check found.
    pub status: Status,
    /// The records found at that name (of that type).
    pub found: Vec<String>,
    /// Why the status is not `ok`, for people.
    pub detail: Option<String>,
}

/// A DKIM key to be listed.
#[derive(Debug, Clone)]
pub struct DkimEntry {
    /// The selector.
    pub selector: String,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The `p=` value.
    pub public_b64: String,
    /// Whether the record must be published (the signing key and a rotation's new key).
    pub required: bool,
}

/// Everything needed to list and check a domain's records.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The domain (ASCII).
    pub domain: String,
    /// Ownership label (`_mailroom`).
    pub verification_prefix: String,
    /// The domain's ownership token.
    pub token: String,
    /// MX hosts.
    pub mx_hosts: Vec<String>,
    /// SPF include domain.
    pub spf_include: String,
    /// DMARC policy to suggest.
    pub dmarc_policy: String,
    /// DKIM keys to list.
    pub dkim: Vec<DkimEntry>,
}

impl Plan {
    /// The ownership TXT value.
    pub fn ownership_value(&self) -> String {
        format!("mailroom-verification={}", self.token)
    }

    /// Checks every record against DNS, concurrently.
    pub async fn check(&self, dns: &Dns) -> Vec<RecordCheck> {
        let d = &self.domain;
        let ownership_name = format!("{}.{d}", self.verification_prefix);
        let dmarc_name = format!("_dmarc.{d}");
        let dkim_names: Vec<String> = self
            .dkim
            .iter()
            .map(|k| format!("{}._domainkey.{d}", k.selector))
            .collect();
        let (ownership, mx, spf, dmarc, dkim_answers) = tokio::join!(
            dns.txt(&ownership_name),
            dns.mx(d),
            dns.txt(d),
            dns.txt(&dmarc_name),
            futures_util::future::join_all(dkim_names.iter().map(|n| dns.txt(n))),
        );

        let mut out = vec![check_ownership(
            &ownership_name,
            &self.ownership_value(),
            ownership,
        )];
        out.extend(check_mx(d, &self.mx_hosts, mx));
        out.push(check_spf(d, &self.spf_include, spf));
        for (k, answer) in self.dkim.iter().zip(dkim_answers) {
            out.push(check_dkim(d, k, answer));
        }
        out.push(check_dmarc(&dmarc_name, &self.dmarc_policy, dmarc));
        out
    }
}

/// Whether the ownership record matched.
pub fn ownership_ok(checks: &[RecordCheck]) -> bool {
    checks
        .iter()
        .any(|c| c.purpose == "ownership" && c.status == Status::Ok)
}

/// Whether every required record of `purpose` is ok (and there is at least one).
pub fn purpose_ok(checks: &[RecordCheck], purpose: &str) -> bool {
    let mut of = checks
        .iter()
        .filter(|c| c.purpose == purpose && c.required)
        .peekable();
    of.peek().is_some() && of.all(|c| c.status == Status::Ok)
}

fn record(purpose: &str, rtype: &str, name: &str, value: String, required: bool) -> RecordCheck {
    RecordCheck {
        purpose: purpose.into(),
        rtype: rtype.into(),
        name: name.into(),
        value,
        required,
        status: Status::Missing,
        found: Vec::new(),
        detail: None,
    }
}

/// Sets status and detail from an answer whose records are already in `r.found`; `judge` is
/// called only when records were found.
fn settle<T>(
    mut r: RecordCheck,
    answer: &Answer<T>,
    judge: impl FnOnce(&RecordCheck) -> Result<(), String>,
) -> RecordCheck {
    match answer {
        Answer::Failed(e) => {
            r.status = Status::Error;
            r.detail = Some(format!("DNS did not answer ({e}); try again"));
        }
        Answer::Missing => {
            r.status = Status::Missing;
            r.detail = Some(format!("no {} record at {}", r.rtype, r.name));
        }
        Answer::Found(_) => match judge(&r) {
            Ok(()) => r.status = Status::Ok,
            Err(why) => {
                r.status = Status::Mismatch;
                r.detail = Some(why);
            }
        },
    }
    r
}

fn found_strings<T: Clone>(answer: &Answer<T>, show: impl Fn(&T) -> String) -> Vec<String> {
    match answer {
        Answer::Found(v) => v.iter().map(show).collect(),
        _ => Vec::new(),
    }
}

fn check_ownership(name: &str, value: &str, answer: Answer<String>) -> RecordCheck {
    let mut r = record("ownership", "TXT", name, value.to_string(), true);
    r.found = found_strings(&answer, Clone::clone);
    settle(r, &answer, |r| {
        if r.found.iter().any(|f| f.trim().eq_ignore_ascii_case(value)) {
            Ok(())
        } else {
            Err(format!("none of the TXT records at {name} is {value}"))
        }
    })
}

fn check_mx(domain: &str, hosts: &[String], answer: Answer<crate::dns::Mx>) -> Vec<RecordCheck> {
    let found = found_strings(&answer, |m| format!("{} {}", m.preference, m.host));
    let found_hosts: Vec<String> = match &answer {
        Answer::Found(v) => v.iter().map(|m| m.host.clone()).collect(),
        _ => Vec::new(),
    };
    let foreign: Vec<&String> = found_hosts.iter().filter(|h| !hosts.contains(h)).collect();
    hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let mut r = record("mx", "MX", domain, format!("{} {host}", 10 * (i + 1)), true);
            r.found = found.clone();
            settle(r, &answer, |_| {
                if !foreign.is_empty() {
                    Err(format!(
                        "MX also points to {}: mail would go there; remove those records",
                        foreign
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                } else if found_hosts.contains(host) {
                    Ok(())
                } else {
                    Err(format!("no MX record points to {host}"))
                }
            })
        })
        .collect()
}

fn check_spf(domain: &str, include: &str, answer: Answer<String>) -> RecordCheck {
    let value = format!("v=spf1 mx include:{include} ~all");
    let mut r = record("spf", "TXT", domain, value, true);
    let spf: Vec<String> = found_strings(&answer, Clone::clone)
        .into_iter()
        .filter(|t| t.trim_start().to_ascii_lowercase().starts_with("v=spf1"))
        .collect();
    r.found = spf.clone();
    let answer = match answer {
        Answer::Found(_) if spf.is_empty() => Answer::Missing,
        other => other,
    };
    let want = format!("include:{include}");
    settle(r, &answer, |_| match spf.as_slice() {
        [one]
            if one.split_whitespace().any(|t| {
                t.eq_ignore_ascii_case(&want) || t.eq_ignore_ascii_case(&format!("+{want}"))
            }) =>
        {
            Ok(())
        }
        [_] => Err(format!("the SPF record does not contain {want}")),
        many => Err(format!(
            "permerror: {} SPF records; a domain must publish exactly one (RFC 7208 §4.5), merge them",
            many.len()
        )),
    })
}

/// The tags of a `k=v; k=v` record, names lower-cased.
fn tags(record: &str) -> Vec<(String, String)> {
    record
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

fn check_dkim(domain: &str, key: &DkimEntry, answer: Answer<String>) -> RecordCheck {
    let name = format!("{}._domainkey.{domain}", key.selector);
    let mut r = record(
        "dkim",
        "TXT",
        &name,
        dkim::dns_value(key.algorithm, &key.public_b64),
        key.required,
    );
    r.found = found_strings(&answer, Clone::clone);
    settle(r, &answer, |r| {
        let matches = r.found.iter().any(|txt| {
            let t = tags(txt);
            let get = |k: &str| t.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            let p: String = get("p")
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let k = get("k").unwrap_or("rsa");
            p == key.public_b64 && k.eq_ignore_ascii_case(key.algorithm.key_type())
        });
        if matches {
            Ok(())
        } else {
            Err(format!(
                "the key published at {name} is not this domain's {} key",
                key.algorithm.key_type()
            ))
        }
    })
}

fn check_dmarc(name: &str, policy: &str, answer: Answer<String>) -> RecordCheck {
    let mut r = record(
        "dmarc",
        "TXT",
        name,
        format!("v=DMARC1; p={policy}; adkim=r; aspf=r"),
        true,
    );
    let dmarc: Vec<String> = found_strings(&answer, Clone::clone)
        .into_iter()
        .filter(|t| t.trim_start().to_ascii_uppercase().starts_with("V=DMARC1"))
        .collect();
    r.found = dmarc.clone();
    let answer = match answer {
        Answer::Found(_) if dmarc.is_empty() => Answer::Missing,
        other => other,
    };
    settle(r, &answer, |_| match dmarc.as_slice() {
        [one] => match tags(one)
            .iter()
            .find(|(k, _)| k == "p")
            .map(|(_, v)| v.to_ascii_lowercase())
        {
            Some(p) if matches!(p.as_str(), "none" | "quarantine" | "reject") => Ok(()),
            _ => Err("the DMARC record has no valid p= policy (none, quarantine or reject)".into()),
        },
        many => Err(format!(
            "{} DMARC records; receivers ignore all of them when there is more than one",
            many.len()
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spf_needs_exactly_one_record_with_the_include() {
        let ok = check_spf(
            "a.com",
            "_spf.mx.test",
            Answer::Found(vec![
                "v=spf1 mx include:_spf.mx.test ~all".into(),
                "google-site-verification=x".into(),
            ]),
        );
        assert_eq!(ok.status, Status::Ok);
        let two = check_spf(
            "a.com",
            "_spf.mx.test",
            Answer::Found(vec![
                "v=spf1 include:_spf.mx.test -all".into(),
                "v=spf1 -all".into(),
            ]),
        );
        assert_eq!(two.status, Status::Mismatch);
        assert!(two.detail.unwrap().starts_with("permerror"));
        let none = check_spf("a.com", "x", Answer::Found(vec!["unrelated".into()]));
        assert_eq!(none.status, Status::Missing);
        assert_eq!(
            check_spf("a.com", "x", Answer::Failed("timeout".into())).status,
            Status::Error
        );
    }

    #[test]
    fn ownership_is_case_and_space_insensitive_and_errors_are_not_missing() {
        let c = check_ownership(
            "_m.a.com",
            "mailroom-verification=AbC",
            Answer::Found(vec![" MAILROOM-verification=abc ".into()]),
        );
        assert_eq!(c.status, Status::Ok);
        assert_eq!(
            check_ownership("_m.a.com", "v", Answer::Failed("SERVFAIL".into())).status,
            Status::Error
        );
        assert_eq!(
            check_ownership("_m.a.com", "v", Answer::Missing).status,
            Status::Missing
        );
        assert_eq!(
            check_ownership("_m.a.com", "v", Answer::Found(vec!["w".into()])).status,
            Status::Mismatch
        );
    }
}
