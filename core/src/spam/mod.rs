//! Spam filtering: a score for each message from named symbols, each with a score and a
//! detail (what the rules saw, [`rules`]; what the classifier thinks, [`bayes`]), and a
//! verdict from thresholds.
//!
//! - [`facts::Facts`]: one parse of the message, read by everything else.
//! - [`rules`]: sender authentication, header anomalies, HTML tricks, links, attachments.
//! - [`bayes`]: token statistics, a base model shipped with the code ([`base_model`],
//!   rebuilt by `mailroom spam train`, see the README) plus, per tenant, what its users
//!   taught it.
//!
//! The score is the sum of the symbols' scores; [`Thresholds`] turn it into a [`Verdict`].

pub mod autolearn;
pub mod bayes;
pub mod corpus;
pub mod dnsbl;
pub mod facts;
pub mod greylist;
pub mod html;
pub mod rdns;
pub mod rules;
pub mod stage;

use crate::mail::authn::AuthOutcome;
use bayes::{Classifier, Model};
use facts::Facts;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// One reason for a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Symbol {
    /// A stable name (`BAYES_99`, `SPF_FAIL`, `ATTACH_EXECUTABLE`, …).
    pub name: String,
    /// What it adds to the score.
    pub score: f64,
    /// What was seen.
    pub detail: String,
}

/// What is done with a message, by its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Delivered to the inbox.
    Ham,
    /// Delivered to Junk, marked with `X-Spam-Status: Yes`.
    Junk,
    /// Held for an administrator.
    Quarantine,
    /// Refused at SMTP time (`550 5.7.1`).
    Reject,
}

impl Verdict {
    /// The lower-case name (`ham`, `junk`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ham => "ham",
            Verdict::Junk => "junk",
            Verdict::Quarantine => "quarantine",
            Verdict::Reject => "reject",
        }
    }
}

/// The scores at which a message goes to Junk, to quarantine, or is refused.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// At or above: Junk.
    pub junk: f64,
    /// At or above: quarantine; `None`: never.
    pub quarantine: Option<f64>,
    /// At or above: refused at SMTP time; `None`: never.
    pub reject: Option<f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            junk: DEFAULT_JUNK,
            quarantine: None,
            reject: Some(DEFAULT_REJECT),
        }
    }
}

/// The default Junk threshold.
pub const DEFAULT_JUNK: f64 = 5.0;
/// The default refusal threshold.
pub const DEFAULT_REJECT: f64 = 15.0;

impl Thresholds {
    /// The verdict for `score`.
    pub fn verdict(&self, score: f64) -> Verdict {
        if self.reject.is_some_and(|r| score >= r) {
            Verdict::Reject
        } else if self.quarantine.is_some_and(|q| score >= q) {
            Verdict::Quarantine
        } else if score >= self.junk {
            Verdict::Junk
        } else {
            Verdict::Ham
        }
    }
}

/// A message's score and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The sum of the symbols' scores, rounded to two decimals.
    pub score: f64,
    /// The classifier's spam probability (0 to 1).
    pub probability: f64,
    /// What the symbols add up to.
    pub symbols: Vec<Symbol>,
}

impl Report {
    /// Sets the score to the sum of the symbols' scores (two decimals).
    pub fn rescore(&mut self) {
        let score: f64 = self.symbols.iter().map(|s| s.score).sum();
        self.score = (score * 100.0).round() / 100.0;
    }

    /// The `X-Spam-Status` value for a verdict: `Yes, score=7.1 required=5.0 tests=A,B`.
    pub fn status_header(&self, verdict: Verdict, t: &Thresholds) -> String {
        let names: Vec<&str> = self.symbols.iter().map(|s| s.name.as_str()).collect();
        format!(
            "{}, score={:.1} required={:.1} tests={}",
            if verdict == Verdict::Ham { "No" } else { "Yes" },
            self.score,
            t.junk,
            names.join(",")
        )
    }
}

/// The model shipped with the code: token counts learnt from the training split of the
/// CSDMC2010 corpus (see the README for the command that rebuilds it).
pub fn base_model() -> &'static Model {
    static BASE: OnceLock<Model> = OnceLock::new();
    BASE.get_or_init(|| Model::from_bytes(include_bytes!("base.model")).unwrap_or_default())
}

/// Tokens the classifier must have judged by for its symbol's full score.
pub const FULL_EVIDENCE: usize = 8;

/// The classifier's symbol for a spam probability.
pub fn bayes_symbol(p: f64, used: usize) -> Option<Symbol> {
    if used == 0 {
        return None;
    }
    let (name, score) = match p {
        p if p < 0.01 => ("BAYES_00", -1.5),
        p if p < 0.05 => ("BAYES_05", -0.5),
        p if p < 0.20 => ("BAYES_20", -0.1),
        p if p < 0.40 => ("BAYES_40", 0.0),
        p if p < 0.60 => ("BAYES_50", 0.8),
        p if p < 0.80 => ("BAYES_60", 2.5),
        p if p < 0.90 => ("BAYES_80", 4.0),
        p if p < 0.95 => ("BAYES_90", 5.0),
        p if p < 0.99 => ("BAYES_95", 5.5),
        p if p < 0.999 => ("BAYES_99", 6.0),
        _ => ("BAYES_999", 6.5),
    };
    // A verdict drawn from a handful of tokens weighs less (a three-line note is not spam
    // because two of its words were seen in spam).
    let score = if score > 0.0 && used < FULL_EVIDENCE {
        (score * used as f64 / FULL_EVIDENCE as f64 * 100.0).round() / 100.0
    } else {
        score
    };
    Some(Symbol {
        name: name.into(),
        score,
        detail: format!("spam probability {p:.4} from {used} tokens"),
    })
}

/// The filter's work on one message, kept for each recipient's tenant: the report with the
/// base model, and the tokens (to judge again with the tenant's own counts).
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The report with the base model alone.
    pub report: Report,
    /// The message's distinct tokens.
    pub tokens: Vec<u64>,
    /// The From address, lower case.
    pub from: Option<String>,
    /// The SMTP reverse path, lower case, when known.
    pub envelope_from: Option<String>,
    /// The From domain is authenticated (DMARC pass): allow lists may trust the From.
    pub authenticated: bool,
    /// The domains of the message's links (last two labels, each once), for domain
    /// blocklists.
    pub link_domains: Vec<String>,
}

impl Analysis {
    /// Scores `raw` once.
    pub fn of(raw: &[u8], cx: &Context<'_>) -> Analysis {
        let facts = Facts::of(raw);
        let tokens = facts.tokens();
        Analysis {
            report: report_of(&facts, &tokens, cx, base_model()),
            tokens,
            from: facts.from_addr.clone(),
            envelope_from: cx
                .envelope_from
                .filter(|e| !e.is_empty())
                .map(str::to_lowercase),
            authenticated: cx.auth.is_some_and(|a| a.dmarc == "pass"),
            link_domains: link_domains(&facts),
        }
    }

    /// The report with a tenant's own counts over the base model: the classifier's symbol
    /// is judged again, the rest is the same.
    pub fn with_own(&self, own: &Model) -> Report {
        let mut r = self.report.clone();
        r.symbols.retain(|s| !s.name.starts_with("BAYES_"));
        let v = Classifier::new(base_model(), Some(own)).judge(&self.tokens);
        if let Some(s) = bayes_symbol(v.probability, v.used) {
            r.symbols.push(s);
        }
        r.probability = v.probability;
        r.rescore();
        r
    }
}

/// The registered-looking domains (last two labels) of a message's links, each once, IP
/// literals left out.
fn link_domains(f: &Facts) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in &f.links {
        if html::is_ip_literal(&l.host) {
            continue;
        }
        let labels: Vec<&str> = l.host.rsplitn(3, '.').collect();
        if labels.len() < 2 {
            continue;
        }
        let d = format!("{}.{}", labels[1], labels[0]);
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// What a check knows besides the bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// Sender authentication, when it ran (SMTP).
    pub auth: Option<&'a AuthOutcome>,
    /// The SMTP reverse path, when known.
    pub envelope_from: Option<&'a str>,
    /// The SMTP client: its address, its HELO/EHLO name, and our own server name.
    pub client: Option<rules::Client<'a>>,
}

/// Scores a message. Never fails: bytes that are not MIME get their own symbol.
pub fn check(raw: &[u8], cx: &Context<'_>) -> Report {
    let facts = Facts::of(raw);
    check_facts(&facts, cx)
}

/// Scores a message already read ([`Facts::of`]).
pub fn check_facts(facts: &Facts, cx: &Context<'_>) -> Report {
    check_facts_with_base(facts, cx, base_model())
}

/// [`check_facts`] with another base model in place of the shipped one.
pub fn check_facts_with_base(facts: &Facts, cx: &Context<'_>, base: &Model) -> Report {
    report_of(facts, &facts.tokens(), cx, base)
}

fn report_of(facts: &Facts, tokens: &[u64], cx: &Context<'_>, base: &Model) -> Report {
    let mut symbols = Vec::new();
    if let Some(a) = cx.auth {
        rules::authentication(a, &mut symbols);
    }
    if let Some(c) = &cx.client {
        rules::helo(c, &mut symbols);
    }
    rules::headers(
        facts,
        cx.envelope_from,
        chrono::Utc::now().timestamp(),
        &mut symbols,
    );
    rules::content(facts, &mut symbols);
    let v = Classifier::new(base, None).judge(tokens);
    if let Some(s) = bayes_symbol(v.probability, v.used) {
        symbols.push(s);
    }
    let mut r = Report {
        score: 0.0,
        probability: v.probability,
        symbols,
    };
    r.rescore();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_give_verdicts() {
        let t = Thresholds {
            junk: 5.0,
            quarantine: Some(10.0),
            reject: Some(20.0),
        };
        assert_eq!(t.verdict(4.9), Verdict::Ham);
        assert_eq!(t.verdict(5.0), Verdict::Junk);
        assert_eq!(t.verdict(12.0), Verdict::Quarantine);
        assert_eq!(t.verdict(25.0), Verdict::Reject);
        assert_eq!(Thresholds::default().verdict(12.0), Verdict::Junk);
    }

    #[test]
    fn executables_are_spam_whatever_the_words() {
        let raw = "From: a@b.example\r\nTo: c@d.example\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@b.example>\r\nSubject: the report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nHere is the report we talked about.\r\n--XX\r\nContent-Type: application/octet-stream; name=\"report.scr\"\r\nContent-Disposition: attachment; filename=\"report.scr\"\r\n\r\nTVqQ\r\n--XX--\r\n";
        let r = check(raw.as_bytes(), &Context::default());
        assert!(r.symbols.iter().any(|s| s.name == "ATTACH_EXECUTABLE"));
        assert!(r.score >= DEFAULT_JUNK, "{r:?}");
        let h = r.status_header(
            Thresholds::default().verdict(r.score),
            &Thresholds::default(),
        );
        assert!(h.starts_with("Yes, score="), "{h}");
        assert!(h.contains("ATTACH_EXECUTABLE"), "{h}");
    }
}
