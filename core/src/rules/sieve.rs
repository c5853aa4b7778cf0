//! Sieve (RFC 5228) import and export of a rule list, for the part of Sieve rules can express:
//! `if` blocks whose test is one test, `not` of one, or `allof` / `anyof` of such tests, with
//! the tests `header`, `address`, `envelope`, `exists`, `size`, `body` (`:contains`, `:is`,
//! `:matches`, `:regex`; `address :domain`), `true`; and the actions `fileinto`, `addflag` /
//! `setflag` (imap4flags), `discard`, `reject`, `stop` and `keep`. Anything else (`elsif`,
//! `else`, `redirect`, `vacation`, nested tests, other comparators) is refused with the line
//! it is on, never dropped. A script is at most 64 KiB and 250 rules.

use super::{Condition, MAX_RULES_PER_LIST, RuleAction, RuleBody};
use crate::error::{Error, FieldError, Result};

/// Bytes of a script.
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;

/// A script's `vacation` (RFC 5230): the mailbox's auto-reply.
#[derive(Debug, Clone, PartialEq)]
pub struct SieveVacation {
    /// `:days` (default 7).
    pub days: u64,
    /// `:subject`, if given.
    pub subject: Option<String>,
    /// The reason: the reply's text.
    pub reason: String,
}

/// What a script holds: rules, in order, and the auto-reply when it has one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Script {
    /// The rules.
    pub rules: Vec<Imported>,
    /// The `vacation`, when the script answers mail.
    pub vacation: Option<SieveVacation>,
}

/// `vacation [:days N] [:subject S] [:from F] [:addresses L] [:handle H] REASON;` — `:from`,
/// `:addresses` and `:handle` are read and not used (the reply comes from the mailbox, which
/// must be in To or Cc).
fn vacation_cmd(p: &mut Parser, line: usize) -> Result<SieveVacation> {
    let mut v = SieveVacation {
        days: 7,
        subject: None,
        reason: String::new(),
    };
    while let Some(Tok::Tag(t)) = p.peek().cloned() {
        let l = p.line();
        p.at += 1;
        match t.as_str() {
            "days" => match p.next() {
                Some(Tok::Num(n)) => v.days = n,
                _ => return Err(refuse(l, ":days takes a number")),
            },
            "subject" => v.subject = p.strings()?.into_iter().next(),
            "from" | "handle" | "addresses" => {
                p.strings()?;
            }
            other => {
                return Err(refuse(l, format!(":{other} is not supported on vacation")));
            }
        }
    }
    let reason = p.strings()?;
    v.reason = reason.join("\n");
    p.punct(';')?;
    if v.reason.trim().is_empty() {
        return Err(refuse(line, "vacation needs a reason (the reply's text)"));
    }
    Ok(v)
}

/// One imported rule: its name (from a `# rule: NAME` comment before it, or `rule N`) and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// Name.
    pub name: String,
    /// Conditions and actions.
    pub body: RuleBody,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Tag(String),
    Str(String),
    Num(u64),
    Punct(char),
    /// A `# rule: NAME` comment.
    Name(String),
}

fn refuse(line: usize, message: impl Into<String>) -> Error {
    Error::Validation(vec![FieldError::new(format!("line {line}"), message)])
}

fn tokens(src: &str) -> Result<Vec<(Tok, usize)>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'#' => {
                let end = src[i..].find('\n').map_or(b.len(), |e| i + e);
                let comment = src[i + 1..end].trim();
                if let Some(name) = comment.strip_prefix("rule:") {
                    out.push((Tok::Name(name.trim().to_string()), line));
                }
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let Some(end) = src[i + 2..].find("*/") else {
                    return Err(refuse(line, "unterminated comment"));
                };
                line += src[i..i + 2 + end].matches('\n').count();
                i += end + 4;
            }
            b'"' => {
                let start = line;
                let mut s = String::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(refuse(start, "unterminated string")),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') if i + 1 < b.len() => {
                            let ch = src[i + 1..].chars().next().unwrap_or('\\');
                            s.push(ch);
                            i += 1 + ch.len_utf8();
                        }
                        Some(_) => {
                            let ch = src[i..].chars().next().unwrap_or(' ');
                            if ch == '\n' {
                                line += 1;
                            }
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                out.push((Tok::Str(s), start));
            }
            b':' => {
                let end = src[i + 1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(b.len(), |e| i + 1 + e);
                out.push((Tok::Tag(src[i + 1..end].to_ascii_lowercase()), line));
                i = end;
            }
            b'0'..=b'9' => {
                let end = src[i..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(b.len(), |e| i + e);
                let mut n: u64 = src[i..end]
                    .parse()
                    .map_err(|_| refuse(line, "number too large"))?;
                i = end;
                let mult = match b.get(i).map(u8::to_ascii_uppercase) {
                    Some(b'K') => 1 << 10,
                    Some(b'M') => 1 << 20,
                    Some(b'G') => 1 << 30,
                    _ => 1,
                };
                if mult > 1 {
                    i += 1;
                }
                n = n
                    .checked_mul(mult)
                    .ok_or_else(|| refuse(line, "number too large"))?;
                out.push((Tok::Num(n), line));
            }
            b'(' | b')' | b'{' | b'}' | b'[' | b']' | b',' | b';' => {
                out.push((Tok::Punct(c as char), line));
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = src[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(b.len(), |e| i + e);
                let word = src[i..end].to_ascii_lowercase();
                if word == "text" && b.get(end) == Some(&b':') {
                    // A multi-line string: up to a line holding a lone dot.
                    let body_start = src[end..].find('\n').map_or(b.len(), |e| end + e + 1);
                    let mut s = String::new();
                    let mut j = body_start;
                    let start = line;
                    loop {
                        if j >= b.len() {
                            return Err(refuse(start, "unterminated text: string"));
                        }
                        let e = src[j..].find('\n').map_or(b.len(), |e| j + e);
                        let l = src[j..e].trim_end_matches('\r');
                        line += 1;
                        j = (e + 1).min(b.len());
                        if l == "." {
                            break;
                        }
                        s.push_str(
                            l.strip_prefix('.')
                                .filter(|_| l.starts_with(".."))
                                .unwrap_or(l),
                        );
                        s.push('\n');
                    }
                    out.push((Tok::Str(s), start));
                    i = j;
                } else {
                    out.push((Tok::Ident(word), line));
                    i = end;
                }
            }
            _ => {
                return Err(refuse(
                    line,
                    format!("unexpected character {:?}", c as char),
                ));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
}

impl Parser {
    fn line(&self) -> usize {
        self.toks
            .get(self.at)
            .or(self.toks.last())
            .map_or(1, |t| t.1)
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.0)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|t| t.0.clone());
        self.at += 1;
        t
    }

    fn punct(&mut self, c: char) -> Result<()> {
        let line = self.line();
        match self.next() {
            Some(Tok::Punct(p)) if p == c => Ok(()),
            _ => Err(refuse(line, format!("{c:?} expected"))),
        }
    }

    /// A string or a string list.
    fn strings(&mut self) -> Result<Vec<String>> {
        let line = self.line();
        match self.next() {
            Some(Tok::Str(s)) => Ok(vec![s]),
            Some(Tok::Punct('[')) => {
                let mut out = Vec::new();
                loop {
                    match self.next() {
                        Some(Tok::Str(s)) => out.push(s),
                        _ => return Err(refuse(line, "a string expected in the list")),
                    }
                    match self.next() {
                        Some(Tok::Punct(',')) => continue,
                        Some(Tok::Punct(']')) => break,
                        _ => return Err(refuse(line, "',' or ']' expected")),
                    }
                }
                Ok(out)
            }
            _ => Err(refuse(line, "a string or a string list expected")),
        }
    }

    fn tags(&mut self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        while let Some(Tok::Tag(t)) = self.peek() {
            out.push((t.clone(), self.line()));
            self.at += 1;
        }
        out
    }
}

/// The match type and address part of a test's tags.
fn match_op(tags: &[(String, usize)]) -> Result<(&'static str, Option<&'static str>)> {
    let mut op = "is";
    let mut part = None;
    for (t, line) in tags {
        match t.as_str() {
            "is" => op = "is",
            "contains" => op = "contains",
            "matches" => op = "glob",
            "regex" => op = "regex",
            "all" => part = Some("all"),
            "domain" => part = Some("domain"),
            "localpart" => {
                return Err(refuse(*line, ":localpart is not supported"));
            }
            "comparator" => {
                return Err(refuse(
                    *line,
                    ":comparator is not supported (tests ignore case, as i;ascii-casemap)",
                ));
            }
            "text" => {}
            other => return Err(refuse(*line, format!(":{other} is not supported here"))),
        }
    }
    Ok((op, part))
}

fn cond(field: &str, header: Option<String>, op: &str, value: String) -> Condition {
    Condition {
        field: field.into(),
        header,
        op: op.into(),
        value,
        negate: false,
    }
}

fn address_field(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "from" => Some("from"),
        "to" => Some("to"),
        "cc" => Some("cc"),
        _ => None,
    }
}

/// One test: its conditions (several when a list of names or values asks for any of them).
fn test(p: &mut Parser, depth: usize) -> Result<(Vec<Condition>, bool)> {
    let line = p.line();
    let Some(Tok::Ident(name)) = p.next() else {
        return Err(refuse(line, "a test expected"));
    };
    let one = |c: Vec<Condition>| Ok((c, false));
    match name.as_str() {
        "true" => Ok((Vec::new(), false)),
        "not" if depth < 2 => {
            let (mut c, any) = test(p, 2)?;
            if c.len() != 1 || any {
                return Err(refuse(
                    line,
                    "not applies to one test of one name and value here",
                ));
            }
            c[0].negate = !c[0].negate;
            Ok((c, false))
        }
        "header" | "address" | "envelope" => {
            let tags = p.tags();
            let (op, part) = match_op(&tags)?;
            let names = p.strings()?;
            let values = p.strings()?;
            let mut out = Vec::new();
            for n in &names {
                for v in &values {
                    let c = match (name.as_str(), part) {
                        ("envelope", _) => {
                            let field = match n.to_ascii_lowercase().as_str() {
                                "from" => "sender",
                                "to" => "recipient",
                                _ => return Err(refuse(line, "envelope tests from or to")),
                            };
                            if part == Some("domain") && op == "is" {
                                cond(field, None, "domain_is", v.clone())
                            } else {
                                cond(field, None, op, v.clone())
                            }
                        }
                        ("address", Some("domain")) => match (address_field(n), op) {
                            (Some(f), "is") => cond(f, None, "domain_is", v.clone()),
                            _ => {
                                return Err(refuse(
                                    line,
                                    "address :domain is supported with :is on from, to or cc",
                                ));
                            }
                        },
                        ("address", _) => match address_field(n) {
                            Some(f) => cond(f, None, op, v.clone()),
                            None => {
                                return Err(refuse(line, "address tests from, to or cc here"));
                            }
                        },
                        _ => match n.to_ascii_lowercase().as_str() {
                            "subject" => cond("subject", None, op, v.clone()),
                            "from" | "to" | "cc" if op != "is" => {
                                cond(&n.to_ascii_lowercase(), None, op, v.clone())
                            }
                            _ => cond("header", Some(n.clone()), op, v.clone()),
                        },
                    };
                    out.push(c);
                }
            }
            let any = out.len() > 1;
            Ok((out, any))
        }
        "exists" => {
            let names = p.strings()?;
            let out: Vec<Condition> = names
                .into_iter()
                .map(|n| cond("header", Some(n), "exists", String::new()))
                .collect();
            if out.len() > 1 {
                // exists with several names needs all of them.
                return Err(refuse(line, "exists with several names: use allof"));
            }
            one(out)
        }
        "size" => {
            let tags = p.tags();
            let op = match tags.first().map(|t| t.0.as_str()) {
                Some("over") => "greater_than",
                Some("under") => "less_than",
                _ => return Err(refuse(line, "size :over or :under expected")),
            };
            let l = p.line();
            let Some(Tok::Num(n)) = p.next() else {
                return Err(refuse(l, "a number expected"));
            };
            one(vec![cond("size", None, op, n.to_string())])
        }
        "body" => {
            let tags = p.tags();
            let (op, _) = match_op(&tags)?;
            let values = p.strings()?;
            let out: Vec<Condition> = values
                .into_iter()
                .map(|v| cond("body", None, op, v))
                .collect();
            let any = out.len() > 1;
            Ok((out, any))
        }
        "allof" | "anyof" | "not" => Err(refuse(
            line,
            format!("{name} is supported only at the top of an if (and not of one test)"),
        )),
        other => Err(refuse(line, format!("the test {other:?} is not supported"))),
    }
}

/// The condition of an `if`: its match and conditions.
fn condition(p: &mut Parser) -> Result<(String, Vec<Condition>)> {
    let line = p.line();
    match p.peek() {
        Some(Tok::Ident(w)) if w == "allof" || w == "anyof" => {
            let m = if w == "allof" { "all" } else { "any" };
            p.at += 1;
            p.punct('(')?;
            let mut out = Vec::new();
            loop {
                let (c, any) = test(p, 1)?;
                if any && m == "all" {
                    return Err(refuse(
                        line,
                        "a list of names or values inside allof is not supported: one each",
                    ));
                }
                out.extend(c);
                match p.next() {
                    Some(Tok::Punct(',')) => continue,
                    Some(Tok::Punct(')')) => break,
                    _ => return Err(refuse(line, "',' or ')' expected")),
                }
            }
            Ok((m.into(), out))
        }
        _ => {
            let (c, any) = test(p, 0)?;
            Ok((if any { "any" } else { "all" }.into(), c))
        }
    }
}

fn flag_actions(line: usize, flags: Vec<String>) -> Result<Vec<RuleAction>> {
    let mut out = Vec::new();
    for f in flags {
        for word in f.split_whitespace() {
            out.push(match word.to_ascii_lowercase().as_str() {
                "\\seen" => RuleAction::MarkRead,
                "\\flagged" => RuleAction::Flag {
                    flag: "flagged".into(),
                },
                "\\answered" => RuleAction::Flag {
                    flag: "answered".into(),
                },
                "\\draft" => RuleAction::Flag {
                    flag: "draft".into(),
                },
                w if w.starts_with('\\') => {
                    return Err(refuse(line, format!("the flag {word} is not supported")));
                }
                _ => RuleAction::Keyword {
                    keyword: word.to_string(),
                },
            });
        }
    }
    Ok(out)
}

/// One action command, up to its `;` (`keep` gives none).
fn action(p: &mut Parser, cmd: &str, line: usize) -> Result<Vec<RuleAction>> {
    let tags = p.tags();
    if let Some((t, l)) = tags.first() {
        return Err(refuse(*l, format!(":{t} is not supported on {cmd}")));
    }
    let out = match cmd {
        "fileinto" => {
            let f = p.strings()?;
            let [folder] = f.as_slice() else {
                return Err(refuse(line, "fileinto takes one folder"));
            };
            vec![RuleAction::Fileinto {
                folder: folder.clone(),
            }]
        }
        "addflag" | "setflag" => {
            let f = p.strings()?;
            flag_actions(line, f)?
        }
        "discard" => vec![RuleAction::Discard],
        "stop" => vec![RuleAction::Stop],
        "keep" => Vec::new(),
        "reject" | "ereject" => {
            let t = p.strings()?;
            vec![RuleAction::Reject {
                text: t.join(" ").trim().replace(['\r', '\n'], " "),
            }]
        }
        "if" | "elsif" | "else" => {
            return Err(refuse(
                line,
                format!("{cmd} inside a block is not supported"),
            ));
        }
        other => {
            return Err(refuse(
                line,
                format!("the action {other:?} is not supported"),
            ));
        }
    };
    p.punct(';')?;
    Ok(out)
}

/// The actions of a block, up to its `}`, and its `vacation` if it has one.
fn actions(p: &mut Parser) -> Result<(Vec<RuleAction>, Option<SieveVacation>)> {
    let mut out = Vec::new();
    let mut vacation = None;
    loop {
        let line = p.line();
        match p.next() {
            Some(Tok::Punct('}')) => return Ok((out, vacation)),
            Some(Tok::Ident(cmd)) if cmd == "vacation" => {
                vacation = Some(vacation_cmd(p, line)?);
            }
            Some(Tok::Ident(cmd)) => out.extend(action(p, &cmd, line)?),
            _ => return Err(refuse(line, "an action or '}' expected")),
        }
    }
}

/// Records a script's `vacation`: once, for every message, on its own.
fn set_vacation(
    script: &mut Script,
    v: SieveVacation,
    unconditional: bool,
    alone: bool,
    line: usize,
) -> Result<()> {
    if !unconditional || !alone {
        return Err(refuse(
            line,
            "vacation is supported for every message and on its own (if true { vacation …; }); its rules are built in",
        ));
    }
    if script.vacation.is_some() {
        return Err(refuse(line, "one vacation per script"));
    }
    script.vacation = Some(v);
    Ok(())
}

/// Reads a Sieve script into rules, in order (and its auto-reply).
pub fn import(script: &str) -> Result<Script> {
    if script.len() > MAX_SCRIPT_BYTES {
        return Err(Error::Validation(vec![FieldError::new(
            "script",
            format!("at most {MAX_SCRIPT_BYTES} bytes"),
        )]));
    }
    let mut p = Parser {
        toks: tokens(script)?,
        at: 0,
    };
    let mut out: Vec<Imported> = Vec::new();
    let mut found = Script::default();
    let mut name: Option<String> = None;
    while let Some(t) = p.next() {
        let line = p.toks[p.at - 1].1;
        match t {
            Tok::Name(n) => name = Some(n),
            Tok::Ident(w) if w == "require" => {
                let caps = p.strings()?;
                for c in caps {
                    if !matches!(
                        c.as_str(),
                        "fileinto"
                            | "imap4flags"
                            | "regex"
                            | "body"
                            | "envelope"
                            | "reject"
                            | "ereject"
                            | "vacation"
                            | "comparator-i;ascii-casemap"
                    ) {
                        return Err(refuse(
                            line,
                            format!("the extension {c:?} is not supported"),
                        ));
                    }
                }
                p.punct(';')?;
            }
            Tok::Ident(w) if w == "if" => {
                let (m, conditions) = condition(&mut p)?;
                p.punct('{')?;
                let (actions, vacation) = actions(&mut p)?;
                if let Some(v) = vacation {
                    set_vacation(
                        &mut found,
                        v,
                        conditions.is_empty(),
                        actions.is_empty(),
                        line,
                    )?;
                }
                if matches!(p.peek(), Some(Tok::Ident(w)) if w == "elsif" || w == "else") {
                    return Err(refuse(
                        p.line(),
                        "elsif and else are not supported: write separate if blocks ending in stop",
                    ));
                }
                if actions.is_empty() {
                    // `keep` alone: nothing to do.
                    name = None;
                    continue;
                }
                let body = RuleBody {
                    match_: m,
                    conditions,
                    actions,
                };
                body.check().map_err(|e| match e {
                    Error::Validation(errs) => Error::Validation(
                        errs.into_iter()
                            .map(|f| {
                                FieldError::new(
                                    format!("line {line}"),
                                    format!("{}: {}", f.field, f.message),
                                )
                            })
                            .collect(),
                    ),
                    e => e,
                })?;
                out.push(Imported {
                    name: name
                        .take()
                        .unwrap_or_else(|| format!("rule {}", out.len() + 1)),
                    body,
                });
                if out.len() as u64 > MAX_RULES_PER_LIST {
                    return Err(refuse(line, format!("at most {MAX_RULES_PER_LIST} rules")));
                }
            }
            Tok::Ident(w) if w == "vacation" => {
                let v = vacation_cmd(&mut p, line)?;
                set_vacation(&mut found, v, true, true, line)?;
            }
            Tok::Ident(w) => {
                // A top-level action applies to every message: a rule without conditions.
                let acts = action(&mut p, &w, line)?;
                if !acts.is_empty() {
                    out.push(Imported {
                        name: name
                            .take()
                            .unwrap_or_else(|| format!("rule {}", out.len() + 1)),
                        body: RuleBody {
                            match_: "all".into(),
                            conditions: Vec::new(),
                            actions: acts,
                        },
                    });
                }
            }
            _ => return Err(refuse(line, "a command expected")),
        }
    }
    found.rules = out;
    Ok(found)
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn export_test(c: &Condition) -> String {
    let tag = match c.op.as_str() {
        "contains" => ":contains",
        "glob" => ":matches",
        "regex" => ":regex",
        _ => ":is",
    };
    let t = match c.field.as_str() {
        "subject" => format!("header {tag} \"subject\" {}", quote(&c.value)),
        "from" | "to" | "cc" if c.op == "domain_is" => {
            format!("address :domain :is \"{}\" {}", c.field, quote(&c.value))
        }
        "from" | "to" | "cc" if c.op == "is" => {
            format!("address :is \"{}\" {}", c.field, quote(&c.value))
        }
        "from" | "to" | "cc" => format!("header {tag} \"{}\" {}", c.field, quote(&c.value)),
        "to_or_cc" if c.op == "domain_is" => {
            format!("address :domain :is [\"to\", \"cc\"] {}", quote(&c.value))
        }
        "to_or_cc" => format!("address {tag} [\"to\", \"cc\"] {}", quote(&c.value)),
        "sender" | "recipient" => {
            let part = if c.field == "sender" { "from" } else { "to" };
            if c.op == "domain_is" {
                format!("envelope :domain :is \"{part}\" {}", quote(&c.value))
            } else {
                format!("envelope {tag} \"{part}\" {}", quote(&c.value))
            }
        }
        "header" if c.op == "exists" => {
            format!("exists {}", quote(c.header.as_deref().unwrap_or_default()))
        }
        "header" => format!(
            "header {tag} {} {}",
            quote(c.header.as_deref().unwrap_or_default()),
            quote(&c.value)
        ),
        "body" => format!("body :text {tag} {}", quote(&c.value)),
        "size" => format!(
            "size {} {}",
            if c.op == "greater_than" {
                ":over"
            } else {
                ":under"
            },
            c.value.trim().parse::<f64>().map_or(0, |v| v as u64)
        ),
        _ => return String::new(),
    };
    if c.negate { format!("not {t}") } else { t }
}

/// Whether a rule can be written as Sieve (spam score, has-attachment and authentication
/// tests cannot).
pub fn exportable(b: &RuleBody) -> bool {
    b.conditions.iter().all(|c| !export_test(c).is_empty())
}

/// Writes rules (name, body) as one Sieve script; a rule Sieve cannot express is written as
/// a comment saying so.
pub fn export(rules: &[(String, bool, RuleBody)], vacation: Option<&SieveVacation>) -> String {
    let mut out = String::from(
        "require [\"fileinto\", \"imap4flags\", \"regex\", \"body\", \"envelope\", \"reject\", \"vacation\"];\n",
    );
    if let Some(v) = vacation {
        out.push_str("\n# The mailbox's auto-reply (its dates, if any, are not written).\n");
        out.push_str("if true {\n    vacation");
        out.push_str(&format!(" :days {}", v.days));
        if let Some(s) = &v.subject {
            out.push_str(&format!(" :subject {}", quote(s)));
        }
        out.push_str(&format!(" {};\n}}\n", quote(&v.reason)));
    }
    for (name, enabled, b) in rules {
        let name = name.replace(['\r', '\n'], " ");
        out.push('\n');
        if !enabled {
            out.push_str(&format!("# rule {name:?} is disabled and not written\n"));
            continue;
        }
        if !exportable(b) {
            out.push_str(&format!(
                "# rule {name:?} tests what Sieve cannot (spam score, attachments or authentication) and is not written\n"
            ));
            continue;
        }
        out.push_str(&format!("# rule: {name}\n"));
        let tests: Vec<String> = b.conditions.iter().map(export_test).collect();
        let test = match tests.len() {
            0 => "true".to_string(),
            1 => tests[0].clone(),
            _ => format!(
                "{}({})",
                if b.match_ == "any" { "anyof" } else { "allof" },
                tests.join(", ")
            ),
        };
        out.push_str(&format!("if {test} {{\n"));
        for a in &b.actions {
            let line = match a {
                RuleAction::Fileinto { folder } => format!("fileinto {};", quote(folder)),
                RuleAction::Flag { flag } => format!("addflag {};", quote(&format!("\\{flag}"))),
                RuleAction::Keyword { keyword } => format!("addflag {};", quote(keyword)),
                RuleAction::MarkRead => "addflag \"\\\\Seen\";".to_string(),
                RuleAction::Discard => "discard;".to_string(),
                RuleAction::Reject { text } => format!("reject {};", quote(text)),
                RuleAction::Stop => "stop;".to_string(),
            };
            out.push_str("    ");
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str("}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: serde_json::Value) -> RuleBody {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_typical_script_is_read() {
        let script = r#"require ["fileinto", "imap4flags", "regex"];
# Written by a webmail.
# rule: receipts
if anyof (address :domain :is "from" "shop.example", header :matches "subject" "Receipt *") {
    fileinto "Receipts";
    addflag ["\\Seen", "$receipt"];
    stop;
}
if not exists "List-Id" { keep; }
if size :over 10M { discard; }
/* a block
   comment */
if header :regex "X-Spam-Flag" "^yes$" {
  reject text:
Not here.
.
;
}
"#;
        let rules = import(script).unwrap().rules;
        assert_eq!(rules.len(), 3, "{rules:?}");
        assert_eq!(rules[0].name, "receipts");
        assert_eq!(
            rules[0].body,
            body(json!({"match": "any", "conditions": [
                {"field": "from", "op": "domain_is", "value": "shop.example"},
                {"field": "subject", "op": "glob", "value": "Receipt *"}],
                "actions": [{"type": "fileinto", "folder": "Receipts"}, {"type": "mark_read"},
                    {"type": "keyword", "keyword": "$receipt"}, {"type": "stop"}]}))
        );
        assert_eq!(
            rules[1].body.conditions[0],
            body(json!({"conditions": [{"field": "size", "op": "greater_than", "value": "10485760"}], "actions": [{"type": "stop"}]})).conditions[0]
        );
        assert_eq!(
            rules[2].body.actions,
            vec![RuleAction::Reject {
                text: "Not here.".into()
            }]
        );
        assert_eq!(
            rules[2].body.conditions[0].header.as_deref(),
            Some("X-Spam-Flag")
        );
    }

    #[test]
    fn what_rules_cannot_do_is_refused_with_its_line() {
        for (script, line, says) in [
            ("if true { redirect \"a@b.example\"; }", 1, "redirect"),
            ("require \"editheader\";", 1, "editheader"),
            (
                "if header :is \"subject\" \"x\" { vacation \"away\"; }",
                1,
                "for every message",
            ),
            ("if true { vacation :mime \"away\"; }", 1, ":mime"),
            ("vacation \"a\";\nvacation \"b\";", 2, "one vacation"),
            (
                "if true { keep; }\nif true { stop; } else { discard; }",
                2,
                "elsif and else",
            ),
            (
                "\n\nif header :comparator \"i;octet\" :is \"subject\" \"x\" { stop; }",
                3,
                "comparator",
            ),
            (
                "if header :is \"subject\" \"x\" { fileinto \"A\" }",
                1,
                "';'",
            ),
            (
                "if header :is \"subject\" \"unterminated { stop; }",
                1,
                "unterminated",
            ),
            (
                "if header :regex \"subject\" \"(\" { stop; }",
                1,
                "regular expression",
            ),
        ] {
            match import(script) {
                Err(Error::Validation(e)) => {
                    assert_eq!(e[0].field, format!("line {line}"), "{script}: {e:?}");
                    assert!(e[0].message.contains(says), "{script}: {e:?}");
                }
                other => panic!("{script}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_webmail_vacation_script_is_read() {
        let script = "require [\"vacation\"];\n# rule:[vacation]\nif true\n{\n\tvacation :days 5 :addresses [\"ana@acme.example\"] :subject \"Out of office\" \"I am away until Monday.\";\n}\n";
        let found = import(script).unwrap();
        assert!(found.rules.is_empty());
        assert_eq!(
            found.vacation,
            Some(SieveVacation {
                days: 5,
                subject: Some("Out of office".into()),
                reason: "I am away until Monday.".into(),
            })
        );
    }

    #[test]
    fn exported_rules_read_back_the_same() {
        let rules: Vec<(String, bool, RuleBody)> = vec![
            (
                "one".into(),
                true,
                body(json!({"match": "all", "conditions": [
                    {"field": "from", "op": "is", "value": "boss@acme.example"},
                    {"field": "subject", "op": "contains", "value": "say \"hi\" \\ there", "negate": true},
                    {"field": "header", "header": "List-Id", "op": "exists"},
                    {"field": "sender", "op": "domain_is", "value": "lists.example"},
                    {"field": "body", "op": "regex", "value": "^urgent"},
                    {"field": "size", "op": "less_than", "value": "2048"}],
                    "actions": [{"type": "flag", "flag": "flagged"}, {"type": "keyword", "keyword": "boss"},
                        {"type": "fileinto", "folder": "Work/Boss"}, {"type": "stop"}]})),
            ),
            (
                "two".into(),
                true,
                body(json!({"match": "any", "conditions": [
                    {"field": "to", "op": "glob", "value": "*@sales.example"},
                    {"field": "recipient", "op": "is", "value": "info@acme.example"}],
                    "actions": [{"type": "reject", "text": "No thanks"}]})),
            ),
            (
                "spammy".into(),
                true,
                body(
                    json!({"conditions": [{"field": "spam_score", "op": "greater_than", "value": "3"}],
                    "actions": [{"type": "discard"}]}),
                ),
            ),
        ];
        let away = SieveVacation {
            days: 3,
            subject: Some("Away \"now\"".into()),
            reason: "Back on Monday.\nAna".into(),
        };
        let script = export(&rules, Some(&away));
        let found = import(&script).unwrap();
        assert_eq!(found.vacation.as_ref(), Some(&away), "{script}");
        let back = found.rules;
        assert_eq!(back.len(), 2, "{script}");
        for (b, (name, _, body)) in back.iter().zip(&rules) {
            assert_eq!(&b.name, name, "{script}");
            assert_eq!(&b.body, body, "{script}");
        }
        assert!(
            script.contains("# rule \"spammy\" tests what Sieve cannot"),
            "{script}"
        );
    }
}
