//! Autolearn: a tenant's classifier also learns, by itself, from messages whose verdict other
//! evidence makes certain, so it follows the spam its users receive without anyone teaching it.
//!
//! Guarded against poisoning (a sender shaping what the classifier learns):
//! - The label comes from the rules alone (authentication, headers, content, DNS lists), never
//!   from the classifier (it would only confirm itself) nor from the recipient's own lists.
//! - Spam: the rules alone score at least [`AUTOLEARN_SPAM`] and the message is not delivered
//!   to the inbox. Ham: the From is authenticated (DMARC pass), the rules find nothing against
//!   it ([`AUTOLEARN_HAM`] or less) and it is delivered to the inbox.
//! - At most [`PER_SENDER_DOMAIN_PER_DAY`] lessons per sender domain and day, and
//!   [`PER_TENANT_PER_HOUR`] per tenant and hour (per process), so a flood cannot swamp the
//!   counts.
//! - A message learnt before (by a user, or by autolearn) is left as it is; a user's later
//!   lesson on the same message takes autolearn's back.

use super::{Report, Verdict};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The rules alone at or above this: learnt as spam.
pub const AUTOLEARN_SPAM: f64 = 10.0;
/// The rules alone at or below this (with an authenticated From): learnt as ham.
pub const AUTOLEARN_HAM: f64 = 0.0;
/// Lessons per sender domain (per tenant) and day.
pub const PER_SENDER_DOMAIN_PER_DAY: u32 = 10;
/// Lessons per tenant and hour.
pub const PER_TENANT_PER_HOUR: u32 = 200;

/// Symbols that say nothing about the message itself: the classifier and the recipient's
/// own lists and contacts.
fn is_evidence(name: &str) -> bool {
    !name.starts_with("BAYES_")
        && !matches!(
            name,
            "BLOCKLIST" | "ALLOWLIST" | "ALLOWLIST_UNAUTH" | "FROM_CONTACT"
        )
}

/// The rules' own score: the symbols that are evidence about the message.
pub fn rules_score(report: &Report) -> f64 {
    report
        .symbols
        .iter()
        .filter(|s| is_evidence(&s.name))
        .map(|s| s.score)
        .sum()
}

/// What autolearn learns a message as (`Some(true)`: spam, `Some(false)`: ham), if anything.
pub fn label(report: &Report, authenticated: bool, verdict: Verdict) -> Option<bool> {
    let rules = rules_score(report);
    if rules >= AUTOLEARN_SPAM && verdict != Verdict::Ham {
        Some(true)
    } else if authenticated
        && rules <= AUTOLEARN_HAM
        && verdict == Verdict::Ham
        && !report.symbols.iter().any(|s| s.name == "BLOCKLIST")
    {
        Some(false)
    } else {
        None
    }
}

/// How many lessons are left, per tenant and per sender domain.
#[derive(Default)]
pub struct Budget {
    counts: Mutex<HashMap<(Uuid, String), (u32, Instant)>>,
}

impl Budget {
    /// Takes one lesson for `tenant` from `sender_domain` (empty: the null sender) when both
    /// allowances have one left.
    pub fn take(&self, tenant: Uuid, sender_domain: &str) -> bool {
        let Ok(mut c) = self.counts.lock() else {
            return false;
        };
        let now = Instant::now();
        if c.len() > 100_000 {
            c.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(86_400));
        }
        let left = |c: &HashMap<(Uuid, String), (u32, Instant)>, k: &(Uuid, String), max, win| {
            c.get(k)
                .is_none_or(|(n, at)| now.duration_since(*at) >= win || *n < max)
        };
        let tenant_key = (tenant, String::new());
        let domain_key = (tenant, format!("@{}", sender_domain.to_ascii_lowercase()));
        let hour = Duration::from_secs(3600);
        let day = Duration::from_secs(86_400);
        if !left(&c, &tenant_key, PER_TENANT_PER_HOUR, hour)
            || !left(&c, &domain_key, PER_SENDER_DOMAIN_PER_DAY, day)
        {
            return false;
        }
        for (k, win) in [(tenant_key, hour), (domain_key, day)] {
            let e = c.entry(k).or_insert((0, now));
            if now.duration_since(e.1) >= win {
                *e = (0, now);
            }
            e.0 += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spam::Symbol;

    fn report(symbols: &[(&str, f64)]) -> Report {
        let mut r = Report {
            score: 0.0,
            probability: 0.5,
            symbols: symbols
                .iter()
                .map(|(n, s)| Symbol {
                    name: n.to_string(),
                    score: *s,
                    detail: String::new(),
                })
                .collect(),
        };
        r.rescore();
        r
    }

    #[test]
    fn only_the_rules_decide_and_only_when_certain() {
        let exe = report(&[
            ("ATTACH_EXECUTABLE", 6.0),
            ("LINK_TEXT_OTHER_SITE", 2.5),
            ("ATTACH_DOUBLE_EXT", 2.0),
        ]);
        assert_eq!(label(&exe, false, Verdict::Junk), Some(true));
        // Filed in the inbox (a user's allow list, say): not learnt as spam.
        assert_eq!(label(&exe, false, Verdict::Ham), None);
        // The classifier's own opinion does not make a message certain.
        let bayes = report(&[
            ("BAYES_999", 8.0),
            ("MISSING_DATE", 1.0),
            ("URL_IP_LITERAL", 1.5),
        ]);
        assert_eq!(label(&bayes, false, Verdict::Junk), None);
        // Nor does a block list.
        let blocked = report(&[("BLOCKLIST", 20.0)]);
        assert_eq!(label(&blocked, false, Verdict::Junk), None);
        // Ham: authenticated, nothing against it, in the inbox.
        let clean = report(&[
            ("DMARC_PASS", -0.2),
            ("DKIM_VALID", -0.1),
            ("BAYES_50", 0.0),
        ]);
        assert_eq!(label(&clean, true, Verdict::Ham), Some(false));
        assert_eq!(
            label(&clean, false, Verdict::Ham),
            None,
            "not authenticated"
        );
        let odd = report(&[("DMARC_PASS", -0.2), ("MISSING_MID", 0.5)]);
        assert_eq!(
            label(&odd, true, Verdict::Ham),
            None,
            "something against it"
        );
        // An allow list does not make it ham either.
        let listed = report(&[("ALLOWLIST", -20.0), ("MISSING_MID", 0.5)]);
        assert_eq!(label(&listed, true, Verdict::Ham), None);
    }

    #[test]
    fn lessons_are_capped_per_sender_domain_and_tenant() {
        let b = Budget::default();
        let (t, u) = (Uuid::now_v7(), Uuid::now_v7());
        for _ in 0..PER_SENDER_DOMAIN_PER_DAY {
            assert!(b.take(t, "flood.example"));
        }
        assert!(!b.take(t, "flood.example"));
        assert!(!b.take(t, "FLOOD.example"));
        // Another domain, and another tenant, have their own.
        assert!(b.take(t, "other.example"));
        assert!(b.take(u, "flood.example"));
        let mut n = PER_SENDER_DOMAIN_PER_DAY + 1;
        let mut i = 0;
        while b.take(t, &format!("d{i}.example")) {
            n += 1;
            i += 1;
        }
        assert_eq!(n, PER_TENANT_PER_HOUR);
    }
}
