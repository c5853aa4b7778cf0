//! Search: the words a message is indexed under, and the query language of
//! `GET /v1/mailboxes/{id}/search?q=`.
//!
//! A message's words are its subject, From/To/Cc addresses and names, text body and attachment
//! names, lower-cased and split at every character that is not a letter or a digit, joined by
//! single spaces with a space at each end. Both backends match whole words: Postgres through a
//! `tsvector` of that text (the `simple` configuration: no stemming, no stop words), SQLite by
//! `LIKE '% word %'` on it. A query word is normalised the same way, so `alice@example.com`
//! matches the words `alice example com` next to one another or not.
//!
//! Query syntax (Gmail-like): free words (all must match, anywhere), `"quoted words"`,
//! `from:`, `to:` (To or Cc), `subject:`, `has:attachment`, `is:unread`, `is:read`,
//! `is:flagged`, `in:<folder>`, `after:YYYY-MM-DD`, `before:YYYY-MM-DD` (by arrival date,
//! `before` exclusive). An operator's value may be quoted: `subject:"weekly report"`.

use super::summary::{Addr, Summary};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};

/// Longest word indexed (longer runs are base64, hashes and the like).
pub const MAX_WORD_CHARS: usize = 64;
/// Characters of index text per message.
pub const MAX_INDEX_CHARS: usize = 96 * 1024;
/// Longest query accepted.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Terms per query.
pub const MAX_TERMS: usize = 20;

/// The normalised words of `s`: lower-case runs of letters and digits.
pub fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.chars().count() <= MAX_WORD_CHARS)
        .map(str::to_lowercase)
}

fn addr_text(list: &[Addr], out: &mut String) {
    for a in list {
        for part in [&a.name, &a.address].into_iter().flatten() {
            out.push_str(part);
            out.push(' ');
        }
    }
}

/// The index text of a message: ` word word … ` (see the module docs).
pub fn index_text(s: &Summary, body_text: &str) -> String {
    let mut raw = String::new();
    raw.push_str(s.subject.as_deref().unwrap_or(""));
    raw.push(' ');
    addr_text(&s.from, &mut raw);
    addr_text(&s.to, &mut raw);
    addr_text(&s.cc, &mut raw);
    for a in &s.attachments {
        raw.push_str(a.name.as_deref().unwrap_or(""));
        raw.push(' ');
    }
    raw.push_str(body_text);
    let mut out = String::from(" ");
    for w in words(&raw) {
        if out.len() + w.len() + 1 > MAX_INDEX_CHARS {
            break;
        }
        out.push_str(&w);
        out.push(' ');
    }
    out
}

/// The addresses of To and Cc as shown, for lists and `to:` searches.
pub fn shown_addrs(list: impl IntoIterator<Item = Addr>) -> String {
    list.into_iter()
        .map(|a| match (a.name, a.address) {
            (Some(n), Some(addr)) if !n.is_empty() => format!("{n} <{addr}>"),
            (_, Some(addr)) => addr,
            (Some(n), None) => n,
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Words that must all be in the index text.
    pub words: Vec<String>,
    /// Substrings of the From line (case-insensitive).
    pub from: Vec<String>,
    /// Substrings of the To/Cc line.
    pub to: Vec<String>,
    /// Substrings of the subject.
    pub subject: Vec<String>,
    /// Only messages with attachments.
    pub has_attachment: bool,
    /// `Some(true)`: only unread; `Some(false)`: only read.
    pub unread: Option<bool>,
    /// Only flagged.
    pub flagged: bool,
    /// A folder name.
    pub folder: Option<String>,
    /// Arrived at or after.
    pub after: Option<DateTime<Utc>>,
    /// Arrived before.
    pub before: Option<DateTime<Utc>>,
}

fn date(field: &str, v: &str) -> Result<DateTime<Utc>> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| Error::invalid("q", format!("{field}: wants a date as YYYY-MM-DD")))
}

/// Splits a query into terms: white space separates, double quotes group (also after `op:`).
fn terms(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in q.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Query {
    /// Parses `q`. An empty query, an unknown operator or a bad date is a validation error on
    /// the field `q`.
    pub fn parse(q: &str) -> Result<Self> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::invalid(
                "q",
                format!("is longer than {MAX_QUERY_CHARS} characters"),
            ));
        }
        let terms = terms(q);
        if terms.len() > MAX_TERMS {
            return Err(Error::invalid(
                "q",
                format!("has more than {MAX_TERMS} terms"),
            ));
        }
        let mut out = Query::default();
        for t in terms {
            let (op, value) = match t.split_once(':') {
                Some((op, v)) if !op.is_empty() && op.chars().all(|c| c.is_ascii_alphabetic()) => {
                    (op.to_ascii_lowercase(), v.trim().to_string())
                }
                _ => {
                    out.words.extend(words(&t));
                    continue;
                }
            };
            if value.is_empty() {
                return Err(Error::invalid("q", format!("{op}: needs a value")));
            }
            match (op.as_str(), value.to_ascii_lowercase().as_str()) {
                ("from", _) => out.from.push(value.to_lowercase()),
                ("to", _) => out.to.push(value.to_lowercase()),
                ("subject", _) => out.subject.push(value.to_lowercase()),
                ("has", "attachment" | "attachments") => out.has_attachment = true,
                ("is", "unread") => out.unread = Some(true),
                ("is", "read") => out.unread = Some(false),
                ("is", "flagged" | "starred") => out.flagged = true,
                ("in", _) => out.folder = Some(value),
                ("after", _) => out.after = Some(date("after", &value)?),
                ("before", _) => out.before = Some(date("before", &value)?),
                ("has" | "is", _) => {
                    return Err(Error::invalid(
                        "q",
                        format!(
                            "{op}:{value} is not supported (has:attachment, is:unread, is:read, is:flagged)"
                        ),
                    ));
                }
                // Not an operator we know (`re:`, a time `10:30`…): plain words.
                _ => out.words.extend(words(&t)),
            }
        }
        out.words.sort();
        out.words.dedup();
        if out == Query::default() {
            return Err(Error::invalid("q", "is empty"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_text_is_lower_case_words_between_spaces() {
        let s = Summary {
            subject: Some("Quarterly REPORT: Q3-2026".into()),
            from: vec![Addr {
                name: Some("Zoë Ng".into()),
                address: Some("zoe@example.com".into()),
            }],
            ..Default::default()
        };
        let t = index_text(&s, "Body text, with punctuation!\nand lines");
        assert_eq!(
            t,
            " quarterly report q3 2026 zoë ng zoe example com body text with punctuation and lines "
        );
        let long = "x".repeat(MAX_WORD_CHARS + 1);
        assert_eq!(index_text(&Summary::default(), &long), " ");
    }

    #[test]
    fn queries_parse_into_terms_and_operators() {
        let q = Query::parse(
            r#"Invoice from:alice@example.com subject:"weekly report" has:attachment is:unread in:Archive after:2026-01-01 before:2026-02-01 "Big Deal""#,
        )
        .unwrap();
        assert_eq!(q.words, vec!["big", "deal", "invoice"]);
        assert_eq!(q.from, vec!["alice@example.com"]);
        assert_eq!(q.subject, vec!["weekly report"]);
        assert!(q.has_attachment);
        assert_eq!(q.unread, Some(true));
        assert_eq!(q.folder.as_deref(), Some("Archive"));
        assert_eq!(q.after.unwrap().to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert!(q.before.is_some());
        // A colon that is no operator stays a word.
        assert_eq!(
            Query::parse("meet at 10:30").unwrap().words,
            vec!["10", "30", "at", "meet"]
        );
    }

    #[test]
    fn bad_queries_are_validation_errors() {
        for q in ["", "   ", "after:yesterday", "is:important", "from:", "!!!"] {
            assert!(Query::parse(q).is_err(), "{q}");
        }
        assert!(Query::parse(&"a ".repeat(MAX_TERMS + 1)).is_err());
        assert!(Query::parse(&"a".repeat(MAX_QUERY_CHARS + 1)).is_err());
    }
}
