//! Routing rules (filters): ordered lists of rules at three levels — the tenant's, a domain's,
//! a mailbox's — applied to each copy in that order. A rule is a list of conditions (all or
//! any of them must hold) and a list of actions; `stop` ends the evaluation of every later
//! rule, of its list and the lists after it.
//!
//! Everything a rule may hold is bounded (conditions, actions, value lengths, regular
//! expressions: compiled with a size limit and matched in linear time by the `regex` crate),
//! and a rule is checked when it is saved, so evaluation never fails on a bad rule.

pub mod sieve;
pub mod stage;

use crate::error::{Error, FieldError, Result};
use serde::{Deserialize, Serialize};

/// Rules per list (one tenant's, one domain's or one mailbox's).
pub const MAX_RULES_PER_LIST: u64 = 250;
/// Conditions per rule.
pub const MAX_CONDITIONS: usize = 20;
/// Actions per rule.
pub const MAX_ACTIONS: usize = 10;
/// Characters of a condition value, a folder name or a reject text.
pub const MAX_VALUE_CHARS: usize = 1000;
/// Characters of a regular expression.
pub const MAX_REGEX_CHARS: usize = 500;
/// Bytes a compiled regular expression may take.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// Characters of a rule's name.
pub const MAX_NAME_CHARS: usize = 200;
/// Bytes of the body text `body` conditions look at.
pub const MAX_BODY_SCAN: usize = 256 * 1024;

/// The fields a condition can test.
pub const FIELDS: [&str; 15] = [
    "from",
    "to",
    "cc",
    "to_or_cc",
    "sender",
    "recipient",
    "subject",
    "header",
    "body",
    "size",
    "has_attachment",
    "spam_score",
    "spf",
    "dkim",
    "dmarc",
];
/// The operators.
pub const OPERATORS: [&str; 8] = [
    "contains",
    "is",
    "glob",
    "regex",
    "domain_is",
    "greater_than",
    "less_than",
    "exists",
];
/// The flags `flag` sets.
pub const FLAGS: [&str; 4] = ["seen", "flagged", "answered", "draft"];

/// One test on the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// One of [`FIELDS`].
    pub field: String,
    /// For `field = header`: the header field's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// One of [`OPERATORS`].
    pub op: String,
    /// What to compare with (a number for `greater_than` / `less_than`, unused by `exists`
    /// and by `has_attachment`).
    #[serde(default)]
    pub value: String,
    /// The condition holds when the test does not.
    #[serde(default)]
    pub negate: bool,
}

/// One thing to do with a matching copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleAction {
    /// Files the copy into the folder of that name (the inbox when the mailbox has none).
    Fileinto {
        /// Folder name (`Receipts`, `Clients/Acme`).
        folder: String,
    },
    /// Sets a flag: `seen`, `flagged`, `answered` or `draft`.
    Flag {
        /// The flag.
        flag: String,
    },
    /// Adds an IMAP keyword (`$label1`, `invoices`).
    Keyword {
        /// The keyword.
        keyword: String,
    },
    /// Marks the copy read.
    MarkRead,
    /// Accepts the message but stores no copy.
    Discard,
    /// Refuses the message with this text (`550 5.7.1` at SMTP time when the mailbox is its
    /// only recipient; with other recipients this copy is discarded instead).
    Reject {
        /// What the sender is told.
        text: String,
    },
    /// No later rule runs (of this list or the next ones).
    Stop,
}

/// A rule's tests and actions, as saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    /// `all` (every condition must hold) or `any`.
    #[serde(rename = "match", default = "all")]
    pub match_: String,
    /// The tests; none: every message matches.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// What to do, in order.
    pub actions: Vec<RuleAction>,
}

fn all() -> String {
    "all".into()
}

/// The message as rules see it.
pub struct Subject<'a> {
    /// From addresses and display names (`Name <addr>`, lower case not required).
    pub from: Vec<String>,
    /// To.
    pub to: Vec<String>,
    /// Cc.
    pub cc: Vec<String>,
    /// The SMTP reverse path (empty: none or the null sender).
    pub sender: String,
    /// The SMTP recipients.
    pub recipients: Vec<String>,
    /// The decoded subject.
    pub subject: String,
    /// The raw header block.
    pub header_block: &'a [u8],
    /// The whole message, for `body` (read once, lazily).
    pub raw: &'a [u8],
    /// Its size in bytes.
    pub size: u64,
    /// It has attachments.
    pub has_attachment: bool,
    /// The spam score, when the filter judged it.
    pub spam_score: Option<f64>,
    /// SPF, DKIM and DMARC results (`pass`, `fail`, …), when received over SMTP.
    pub auth: Option<(String, String, String)>,
    /// The header fields (lower-case name, unfolded value), read once on first use.
    pub fields: std::cell::OnceCell<Vec<(String, String)>>,
}

impl Subject<'_> {
    /// The header fields named `name`, values only.
    fn header(&self, name: &str) -> impl Iterator<Item = &str> {
        self.fields
            .get_or_init(|| header_fields(self.header_block))
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Every header field of a raw header block (lower-case name, unfolded value), at most 500.
pub fn header_fields(block: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(block);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if out.len() >= 500 {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            out.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

/// A saved rule's compiled form.
pub struct Compiled {
    any: bool,
    conditions: Vec<(Condition, Option<regex::Regex>)>,
    /// The actions.
    pub actions: Vec<RuleAction>,
}

fn regex_of(pattern: &str) -> std::result::Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => "the regular expression is too big".to_string(),
            e => format!("not a valid regular expression: {e}"),
        })
}

/// Whether a keyword is an IMAP atom that is not a system flag.
fn valid_keyword(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 100
        && !k.starts_with('\\')
        && k.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b']')
        })
}

impl RuleBody {
    /// Checks every bound and value; the errors name the field (`conditions[2].value`).
    pub fn check(&self) -> Result<()> {
        let mut errors = Vec::new();
        let mut err = |f: String, m: String| errors.push(FieldError::new(f, m));
        if !matches!(self.match_.as_str(), "all" | "any") {
            err("match".into(), "must be all or any".into());
        }
        if self.conditions.len() > MAX_CONDITIONS {
            err(
                "conditions".into(),
                format!("at most {MAX_CONDITIONS} conditions"),
            );
        }
        if self.actions.is_empty() || self.actions.len() > MAX_ACTIONS {
            err("actions".into(), format!("from 1 to {MAX_ACTIONS} actions"));
        }
        for (i, c) in self.conditions.iter().enumerate() {
            let at = |f: &str| format!("conditions[{i}].{f}");
            if !FIELDS.contains(&c.field.as_str()) {
                err(at("field"), format!("must be one of {}", FIELDS.join(", ")));
                continue;
            }
            if !OPERATORS.contains(&c.op.as_str()) {
                err(at("op"), format!("must be one of {}", OPERATORS.join(", ")));
                continue;
            }
            if c.value.chars().count() > MAX_VALUE_CHARS {
                err(at("value"), format!("at most {MAX_VALUE_CHARS} characters"));
            }
            match (c.field.as_str(), c.header.as_deref()) {
                ("header", None) => err(at("header"), "name the header field".into()),
                ("header", Some(h))
                    if h.is_empty()
                        || h.len() > 100
                        || !h.bytes().all(|b| b.is_ascii_graphic() && b != b':') =>
                {
                    err(at("header"), "not a header field name".into())
                }
                (f, Some(_)) if f != "header" => err(at("header"), "only for field header".into()),
                _ => {}
            }
            let numeric = matches!(c.field.as_str(), "size" | "spam_score");
            let ok_op = match c.field.as_str() {
                "size" | "spam_score" => matches!(c.op.as_str(), "greater_than" | "less_than"),
                "has_attachment" => c.op == "is",
                "header" => true,
                "from" | "to" | "cc" | "to_or_cc" | "sender" | "recipient" => {
                    !matches!(c.op.as_str(), "greater_than" | "less_than" | "exists")
                }
                _ => !matches!(
                    c.op.as_str(),
                    "greater_than" | "less_than" | "exists" | "domain_is"
                ),
            };
            if !ok_op {
                err(
                    at("op"),
                    format!("{} cannot be tested with {}", c.field, c.op),
                );
                continue;
            }
            if numeric && c.value.trim().parse::<f64>().is_err() {
                err(at("value"), "must be a number".into());
            }
            if c.field == "has_attachment" && !matches!(c.value.as_str(), "true" | "false") {
                err(at("value"), "must be true or false".into());
            }
            if c.op == "regex" {
                if c.value.chars().count() > MAX_REGEX_CHARS {
                    err(at("value"), format!("at most {MAX_REGEX_CHARS} characters"));
                } else if let Err(e) = regex_of(&c.value) {
                    err(at("value"), e);
                }
            }
            if !numeric
                && !matches!(c.op.as_str(), "exists")
                && c.field != "has_attachment"
                && c.value.is_empty()
            {
                err(at("value"), "must not be empty".into());
            }
        }
        for (i, a) in self.actions.iter().enumerate() {
            let at = |f: &str| format!("actions[{i}].{f}");
            match a {
                RuleAction::Fileinto { folder } => {
                    let n = folder.chars().count();
                    if n == 0 || n > MAX_VALUE_CHARS || folder.chars().any(char::is_control) {
                        err(at("folder"), "a folder name of 1 to 1000 characters".into());
                    }
                }
                RuleAction::Flag { flag } => {
                    if !FLAGS.contains(&flag.as_str()) {
                        err(at("flag"), format!("must be one of {}", FLAGS.join(", ")));
                    }
                }
                RuleAction::Keyword { keyword } => {
                    if !valid_keyword(keyword) {
                        err(
                            at("keyword"),
                            "an IMAP keyword: 1 to 100 printable characters, no spaces or ( ) { % * \" ] and no leading \\"
                                .into(),
                        );
                    }
                }
                RuleAction::Reject { text } => {
                    let n = text.chars().count();
                    if n == 0 || n > 500 || text.chars().any(char::is_control) {
                        err(at("text"), "one line of 1 to 500 characters".into());
                    }
                }
                RuleAction::MarkRead | RuleAction::Discard | RuleAction::Stop => {}
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(errors))
        }
    }

    /// The compiled rule (its regular expressions built once). The body must have passed
    /// [`RuleBody::check`]; a condition that does not compile never holds.
    pub fn compile(&self) -> Compiled {
        Compiled {
            any: self.match_ == "any",
            conditions: self
                .conditions
                .iter()
                .map(|c| {
                    let re = (c.op == "regex").then(|| regex_of(&c.value).ok()).flatten();
                    (c.clone(), re)
                })
                .collect(),
            actions: self.actions.clone(),
        }
    }
}

/// The body text of a message, once (`body` conditions).
pub struct BodyText<'a> {
    raw: &'a [u8],
    text: std::cell::OnceCell<String>,
}

impl<'a> BodyText<'a> {
    /// Over the raw message.
    pub fn new(raw: &'a [u8]) -> Self {
        Self {
            raw,
            text: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> &str {
        self.text.get_or_init(|| {
            let raw = &self.raw[..self.raw.len().min(4 * MAX_BODY_SCAN)];
            let Some(m) = mail_parser::MessageParser::default().parse(raw) else {
                return String::new();
            };
            let mut out = String::new();
            for i in 0..m.text_body.len() {
                if let Some(t) = m.body_text(i) {
                    out.push_str(&t);
                    out.push('\n');
                }
                if out.len() >= MAX_BODY_SCAN {
                    break;
                }
            }
            if out.is_empty() {
                for i in 0..m.html_body.len() {
                    if let Some(t) = m.body_text(i) {
                        out.push_str(&t);
                        out.push('\n');
                    }
                }
            }
            let mut cut = out.len().min(MAX_BODY_SCAN);
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out
        })
    }
}

/// `*` and `?` wildcards over the whole value, case-insensitively.
pub fn glob(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let v: Vec<char> = value.to_lowercase().chars().collect();
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The address part of `Name <addr>` (or the whole value).
fn address_of(v: &str) -> &str {
    match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.trim(),
    }
}

/// Whether `hay` contains `needle`, ignoring case (without allocating when both are ASCII).
fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle.is_ascii() {
        let n = needle.as_bytes();
        return hay
            .as_bytes()
            .windows(n.len())
            .any(|w| w.eq_ignore_ascii_case(n));
    }
    hay.to_lowercase().contains(&needle.to_lowercase())
}

fn test_text(c: &Condition, re: Option<&regex::Regex>, value: &str, is_address: bool) -> bool {
    let want = c.value.trim();
    match c.op.as_str() {
        "contains" => contains_ci(value, want),
        "is" => {
            if is_address {
                address_of(value).eq_ignore_ascii_case(want)
            } else {
                value.trim().eq_ignore_ascii_case(want)
            }
        }
        "glob" => glob(want, if is_address { address_of(value) } else { value }),
        "regex" => re.is_some_and(|r| r.is_match(value)),
        "domain_is" => {
            let want = want.trim_start_matches('@');
            address_of(value).rsplit_once('@').is_some_and(|(_, d)| {
                let cut = d.len().wrapping_sub(want.len());
                d.eq_ignore_ascii_case(want)
                    || (d.len() > want.len()
                        && d.is_char_boundary(cut)
                        && d[cut..].eq_ignore_ascii_case(want)
                        && d.as_bytes()[cut - 1] == b'.')
            })
        }
        _ => false,
    }
}

impl Compiled {
    /// Whether the rule matches `m`.
    pub fn matches(&self, m: &Subject<'_>, body: &BodyText<'_>) -> bool {
        if self.conditions.is_empty() {
            return true;
        }
        let mut it = self
            .conditions
            .iter()
            .map(|(c, re)| holds(c, re.as_ref(), m, body) != c.negate);
        if self.any {
            it.any(|x| x)
        } else {
            it.all(|x| x)
        }
    }
}

fn holds(c: &Condition, re: Option<&regex::Regex>, m: &Subject<'_>, body: &BodyText<'_>) -> bool {
    let any = |vals: &[String], addr: bool| vals.iter().any(|v| test_text(c, re, v, addr));
    let number = |x: f64| {
        let want = c.value.trim().parse::<f64>().unwrap_or(f64::NAN);
        match c.op.as_str() {
            "greater_than" => x > want,
            "less_than" => x < want,
            _ => false,
        }
    };
    match c.field.as_str() {
        "from" => any(&m.from, true),
        "to" => any(&m.to, true),
        "cc" => any(&m.cc, true),
        "to_or_cc" => any(&m.to, true) || any(&m.cc, true),
        "sender" => test_text(c, re, &m.sender, true),
        "recipient" => any(&m.recipients, true),
        "subject" => test_text(c, re, &m.subject, false),
        "header" => {
            let mut vals = m.header(c.header.as_deref().unwrap_or_default());
            if c.op == "exists" {
                vals.next().is_some()
            } else {
                vals.any(|v| test_text(c, re, v, false))
            }
        }
        "body" => test_text(c, re, body.get(), false),
        "size" => number(m.size as f64),
        "spam_score" => m.spam_score.is_some_and(number),
        "has_attachment" => m.has_attachment == (c.value == "true"),
        "spf" | "dkim" | "dmarc" => m.auth.as_ref().is_some_and(|(spf, dkim, dmarc)| {
            let v = match c.field.as_str() {
                "spf" => spf,
                "dkim" => dkim,
                _ => dmarc,
            };
            test_text(c, re, v, false)
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: serde_json::Value) -> RuleBody {
        serde_json::from_value(v).unwrap()
    }

    fn subject<'a>(raw: &'a [u8]) -> Subject<'a> {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(raw.len(), |p| p + 4);
        Subject {
            from: vec!["Bea Costa <bea@client.example>".into()],
            to: vec!["ana@acme.example".into()],
            cc: vec![],
            sender: "bounces@mail.client.example".into(),
            recipients: vec!["sales@acme.example".into()],
            subject: "Invoice 42 for March".into(),
            header_block: &raw[..end],
            raw,
            size: raw.len() as u64,
            has_attachment: true,
            spam_score: Some(2.5),
            auth: Some(("pass".into(), "pass".into(), "pass".into())),
            fields: Default::default(),
        }
    }

    const RAW: &[u8] = b"From: Bea Costa <bea@client.example>\r\nList-Id: <news.client.example>\r\nX-Tag: a\r\n  folded\r\nSubject: Invoice 42 for March\r\n\r\nPlease find the quarterly report attached.\r\n";

    #[test]
    fn conditions_test_what_they_say() {
        let m = subject(RAW);
        let b = BodyText::new(RAW);
        let cases = [
            (
                json!({"field": "from", "op": "is", "value": "BEA@client.example"}),
                true,
            ),
            (
                json!({"field": "from", "op": "contains", "value": "costa"}),
                true,
            ),
            (
                json!({"field": "from", "op": "domain_is", "value": "example"}),
                true,
            ),
            (
                json!({"field": "from", "op": "domain_is", "value": "ent.example"}),
                false,
            ),
            (
                json!({"field": "from", "op": "domain_is", "value": "@CLIENT.Example"}),
                true,
            ),
            (
                json!({"field": "subject", "op": "contains", "value": "MARCH"}),
                true,
            ),
            (
                json!({"field": "subject", "op": "contains", "value": "märz"}),
                false,
            ),
            (
                json!({"field": "sender", "op": "domain_is", "value": "client.example"}),
                true,
            ),
            (
                json!({"field": "recipient", "op": "is", "value": "sales@acme.example"}),
                true,
            ),
            (
                json!({"field": "to_or_cc", "op": "glob", "value": "*@acme.*"}),
                true,
            ),
            (
                json!({"field": "subject", "op": "glob", "value": "invoice ?? for *"}),
                true,
            ),
            (
                json!({"field": "subject", "op": "glob", "value": "invoice"}),
                false,
            ),
            (
                json!({"field": "subject", "op": "regex", "value": "^invoice \\d+"}),
                true,
            ),
            (
                json!({"field": "header", "header": "list-id", "op": "exists"}),
                true,
            ),
            (
                json!({"field": "header", "header": "X-Tag", "op": "is", "value": "a folded"}),
                true,
            ),
            (
                json!({"field": "header", "header": "X-None", "op": "exists"}),
                false,
            ),
            (
                json!({"field": "body", "op": "contains", "value": "QUARTERLY report"}),
                true,
            ),
            (
                json!({"field": "size", "op": "greater_than", "value": "10"}),
                true,
            ),
            (
                json!({"field": "size", "op": "less_than", "value": "10"}),
                false,
            ),
            (
                json!({"field": "spam_score", "op": "greater_than", "value": "2"}),
                true,
            ),
            (
                json!({"field": "has_attachment", "op": "is", "value": "false"}),
                false,
            ),
            (json!({"field": "dmarc", "op": "is", "value": "pass"}), true),
            (
                json!({"field": "subject", "op": "contains", "value": "march", "negate": true}),
                false,
            ),
        ];
        for (c, want) in cases {
            let r = body(json!({"conditions": [c.clone()], "actions": [{"type": "stop"}]}));
            r.check().unwrap_or_else(|e| panic!("{c}: {e:?}"));
            assert_eq!(r.compile().matches(&m, &b), want, "{c}");
        }
        // all / any.
        let two = |m: &str| {
            body(json!({"match": m, "conditions": [
                {"field": "subject", "op": "contains", "value": "invoice"},
                {"field": "subject", "op": "contains", "value": "receipt"}],
                "actions": [{"type": "stop"}]}))
        };
        assert!(!two("all").compile().matches(&m, &b));
        assert!(two("any").compile().matches(&m, &b));
    }

    #[test]
    fn bad_rules_are_refused_with_the_field() {
        let field_of = |v: serde_json::Value| match body(v).check() {
            Err(Error::Validation(e)) => e[0].field.clone(),
            other => panic!("{other:?}"),
        };
        let stop = json!([{"type": "stop"}]);
        assert_eq!(field_of(json!({"actions": []})), "actions");
        assert_eq!(
            field_of(
                json!({"conditions": [{"field": "colour", "op": "is", "value": "x"}], "actions": stop})
            ),
            "conditions[0].field"
        );
        assert_eq!(
            field_of(
                json!({"conditions": [{"field": "subject", "op": "regex", "value": "(unclosed"}], "actions": stop})
            ),
            "conditions[0].value"
        );
        assert_eq!(
            field_of(
                json!({"conditions": [{"field": "subject", "op": "regex", "value": "\\w{1000}{1000}"}], "actions": stop})
            ),
            "conditions[0].value"
        );
        assert_eq!(
            field_of(
                json!({"conditions": [{"field": "size", "op": "contains", "value": "1"}], "actions": stop})
            ),
            "conditions[0].op"
        );
        assert_eq!(
            field_of(json!({"conditions": [{"field": "header", "op": "exists"}], "actions": stop})),
            "conditions[0].header"
        );
        assert_eq!(
            field_of(json!({"actions": [{"type": "flag", "flag": "deleted"}]})),
            "actions[0].flag"
        );
        assert_eq!(
            field_of(json!({"actions": [{"type": "keyword", "keyword": "two words"}]})),
            "actions[0].keyword"
        );
        assert_eq!(field_of(json!({"match": "some", "actions": stop})), "match");
        assert!(
            serde_json::from_value::<RuleBody>(json!({"actions": [{"type": "explode"}]})).is_err()
        );
    }

    #[test]
    fn glob_backtracks_and_is_whole_value() {
        assert!(glob("*a*b", "xxaxxb"));
        assert!(glob("a*", "a"));
        assert!(!glob("a*c", "abcd"));
        assert!(glob("*", ""));
    }
}
