//! The parse-once summary: everything list views, REST and IMAP (ENVELOPE, BODYSTRUCTURE,
//! section fetches) need, computed once at ingest with mail-parser and stored as JSON.
//!
//! Part ids are IMAP section numbers: the parts of a multipart are `1`, `2`, …, their parts
//! `1.1`, …; a message that is not multipart has its body at `1`. A `message/rfc822` part `n`
//! has the enclosed message's structure as its one child (its parts are `n.1`, `n.2`, …).
//! Byte offsets are into the bytes summarised (the blob, without our trace header fields).

use chrono::{DateTime, Utc};
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};

/// Deepest structure recorded.
const MAX_DEPTH: usize = 32;
/// Parts recorded per message.
const MAX_PARTS: usize = 1000;
/// Addresses kept per field.
const MAX_ADDRS: usize = 1000;
/// Referenced ids kept.
const MAX_REFS: usize = 100;
/// Characters of the preview.
const PREVIEW_CHARS: usize = 200;
/// Characters kept of any one recorded string.
const MAX_STR: usize = 998;

/// An address as shown to people and used by IMAP ENVELOPE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Addr {
    /// Display name, decoded.
    pub name: Option<String>,
    /// The address as written.
    pub address: Option<String>,
}

/// One MIME part of the body structure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Part {
    /// IMAP section number (see the module docs); `""` for a top-level multipart.
    pub part_id: String,
    /// `text`, `multipart`, … (lower case).
    pub content_type: String,
    /// `plain`, `mixed`, … (lower case).
    pub subtype: String,
    /// Content-Type parameters, names lower case.
    pub params: Vec<(String, String)>,
    /// Content-ID.
    pub content_id: Option<String>,
    /// Content-Description.
    pub description: Option<String>,
    /// Content-Transfer-Encoding, lower case.
    pub encoding: Option<String>,
    /// `inline` or `attachment`, lower case.
    pub disposition: Option<String>,
    /// Content-Disposition parameters.
    pub disposition_params: Vec<(String, String)>,
    /// Content-Language.
    pub language: Vec<String>,
    /// Content-Location.
    pub location: Option<String>,
    /// Offset of the part's header.
    pub header_start: u64,
    /// Offset of the part's body.
    pub body_start: u64,
    /// Offset just past the body.
    pub end: u64,
    /// Body octets.
    pub size: u64,
    /// Body lines (for `text/*` and `message/rfc822`).
    pub lines: u64,
    /// Parts of a multipart, or the enclosed message of a `message/rfc822`.
    pub children: Vec<Part>,
}

/// An attachment, for lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// IMAP section number.
    pub part_id: String,
    /// File name, when given.
    pub name: Option<String>,
    /// `type/subtype`.
    pub content_type: String,
    /// Decoded bytes.
    pub size: u64,
    /// Content-ID (inline images).
    pub content_id: Option<String>,
    /// Disposition inline.
    pub inline: bool,
}

/// The summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Summary {
    /// Subject, decoded.
    pub subject: Option<String>,
    /// From.
    pub from: Vec<Addr>,
    /// Sender.
    pub sender: Vec<Addr>,
    /// Reply-To.
    pub reply_to: Vec<Addr>,
    /// To.
    pub to: Vec<Addr>,
    /// Cc.
    pub cc: Vec<Addr>,
    /// Bcc.
    pub bcc: Vec<Addr>,
    /// The Date header, when parseable.
    pub date: Option<DateTime<Utc>>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To ids.
    pub in_reply_to: Vec<String>,
    /// References ids, in order.
    pub references: Vec<String>,
    /// The subject normalised for threading.
    pub thread_subject: String,
    /// The start of the text.
    pub preview: String,
    /// Has a text body.
    pub text_body: bool,
    /// Has an HTML body.
    pub html_body: bool,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// The structure.
    pub body: Part,
    /// Bytes of the top-level header block, blank line included.
    pub header_size: u64,
    /// No header could be parsed, or the parser gave up.
    pub malformed: bool,
}

fn cut(s: &str) -> String {
    s.chars().filter(|c| *c != '\0').take(MAX_STR).collect()
}

fn addrs(a: Option<&Address<'_>>) -> Vec<Addr> {
    let Some(a) = a else { return Vec::new() };
    a.iter()
        .take(MAX_ADDRS)
        .map(|x| Addr {
            name: x.name.as_deref().map(cut),
            address: x.address.as_deref().map(cut),
        })
        .collect()
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<String> = match v {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .map(|s| cut(s.trim().trim_start_matches('<').trim_end_matches('>')))
        .filter(|s| !s.is_empty())
        .take(MAX_REFS)
        .collect()
}

/// Normalises a subject for threading: reply and forward prefixes (`Re:`, `Fwd:`, `Fw:`,
/// `AW:`, `SV:`, `Antw:`, `Ref:`, with an optional `[n]` count) and `[list]` tags are removed
/// repeatedly, as are `(fwd)` trailers; white space is collapsed and the result lower-cased.
pub fn normalize_subject(s: &str) -> String {
    let mut cur: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    loop {
        let before = cur.clone();
        let t = cur.trim_start();
        // A [list-tag] prefix.
        if let Some(rest) = t.strip_prefix('[')
            && let Some(end) = rest.find(']')
        {
            cur = rest[end + 1..].trim_start().to_string();
            continue;
        }
        let lower = t.to_lowercase();
        let mut stripped = false;
        for p in [
            "re", "fwd", "fw", "aw", "sv", "antw", "ref", "wg", "tr", "rv",
        ] {
            if let Some(after) = lower.strip_prefix(p) {
                let after_t = after.trim_start_matches(|c: char| {
                    c == '[' || c == ']' || c.is_ascii_digit() || c == '(' || c == ')'
                });
                if let Some(rest) = after_t.strip_prefix(':') {
                    let skip = t.len() - rest.len();
                    cur = t.get(skip..).unwrap_or("").trim_start().to_string();
                    stripped = true;
                    break;
                }
            }
        }
        if !stripped {
            let tl = cur.trim_end().to_lowercase();
            if let Some(head) = tl.strip_suffix("(fwd)") {
                cur = cur.get(..head.len()).unwrap_or("").to_string();
                continue;
            }
        }
        if cur == before {
            break;
        }
    }
    cur.trim().to_lowercase()
}

fn lower_opt(s: Option<&str>) -> Option<String> {
    s.map(|v| cut(v.trim()).to_lowercase())
}

fn count_lines(b: &[u8]) -> u64 {
    b.iter().filter(|c| **c == b'\n').count() as u64
}

struct Walk<'a> {
    raw: &'a [u8],
    parts: usize,
    attachments: Vec<Attachment>,
}

impl Walk<'_> {
    /// The structure of `msg`'s part `idx`. mail-parser 0.11 gives a nested message's offsets
    /// into the outer input already, so every offset is into `raw`.
    fn part(&mut self, msg: &Message<'_>, idx: usize, id: &str, depth: usize) -> Part {
        let Some(p) = msg.parts.get(idx) else {
            return Part::default();
        };
        self.parts += 1;
        let len = self.raw.len() as u64;
        let clamp = |v: u32| u64::from(v).min(len);
        let (hs, bs, end) = (
            clamp(p.offset_header),
            clamp(p.offset_body),
            clamp(p.offset_end),
        );
        let bs = bs.max(hs);
        let end = end.max(bs);
        let (ctype, subtype, params) = match p.content_type() {
            Some(ct) => (
                ct.ctype().to_lowercase(),
                ct.subtype().unwrap_or("").to_lowercase(),
                ct.attributes()
                    .unwrap_or(&[])
                    .iter()
                    .take(50)
                    .map(|a| (a.name.to_lowercase(), cut(&a.value)))
                    .collect(),
            ),
            None => match &p.body {
                PartType::Multipart(_) => ("multipart".into(), "mixed".into(), Vec::new()),
                PartType::Message(_) => ("message".into(), "rfc822".into(), Vec::new()),
                _ => ("text".into(), "plain".into(), Vec::new()),
            },
        };
        let (disposition, disposition_params) = match p.content_disposition() {
            Some(d) => (
                Some(d.ctype().to_lowercase()),
                d.attributes()
                    .unwrap_or(&[])
                    .iter()
                    .take(50)
                    .map(|a| (a.name.to_lowercase(), cut(&a.value)))
                    .collect(),
            ),
            None => (None, Vec::new()),
        };
        let language = match p.content_language() {
            HeaderValue::Text(t) => vec![cut(t)],
            HeaderValue::TextList(l) => l.iter().take(20).map(|t| cut(t)).collect(),
            _ => Vec::new(),
        };
        let body_bytes = self.raw.get(bs as usize..end as usize).unwrap_or(&[]);
        let mut out = Part {
            part_id: id.to_string(),
            content_type: ctype,
            subtype,
            params,
            content_id: p
                .content_id()
                .map(|c| cut(c.trim_start_matches('<').trim_end_matches('>'))),
            description: p.content_description().map(cut),
            encoding: lower_opt(p.content_transfer_encoding()),
            disposition,
            disposition_params,
            language,
            location: p.content_location().map(cut),
            header_start: hs,
            body_start: bs,
            end,
            size: end - bs,
            lines: 0,
            children: Vec::new(),
        };
        let child_id = |n: usize| {
            if id.is_empty() {
                format!("{n}")
            } else {
                format!("{id}.{n}")
            }
        };
        match &p.body {
            PartType::Multipart(children) => {
                if depth < MAX_DEPTH {
                    for (n, c) in children.iter().enumerate() {
                        if self.parts >= MAX_PARTS {
                            break;
                        }
                        let cid = child_id(n + 1);
                        out.children
                            .push(self.part(msg, *c as usize, &cid, depth + 1));
                    }
                }
            }
            PartType::Message(inner) => {
                out.lines = count_lines(body_bytes);
                if depth < MAX_DEPTH && self.parts < MAX_PARTS {
                    let inner_root_multipart = matches!(
                        inner.parts.first().map(|r| &r.body),
                        Some(PartType::Multipart(_))
                    );
                    let inner_id = if inner_root_multipart {
                        id.to_string()
                    } else {
                        child_id(1)
                    };
                    out.children.push(self.part(inner, 0, &inner_id, depth + 1));
                }
            }
            PartType::Text(_) | PartType::Html(_) => {
                out.lines = count_lines(body_bytes);
            }
            PartType::Binary(_) | PartType::InlineBinary(_) => {}
        }
        let is_attachment = match &p.body {
            PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Message(_) => true,
            PartType::Text(_) | PartType::Html(_) => {
                out.disposition.as_deref() == Some("attachment")
            }
            PartType::Multipart(_) => false,
        };
        if is_attachment && self.attachments.len() < MAX_PARTS && !id.is_empty() {
            self.attachments.push(Attachment {
                part_id: id.to_string(),
                name: p.attachment_name().map(cut),
                content_type: format!("{}/{}", out.content_type, out.subtype),
                size: p.len() as u64,
                content_id: out.content_id.clone(),
                inline: matches!(p.body, PartType::InlineBinary(_))
                    || out.disposition.as_deref() == Some("inline"),
            });
        }
        out
    }
}

/// Computes the summary of a message. Never panics; any bytes give a summary (at worst an
/// empty one with `malformed` set).
pub fn summarize(raw: &[u8]) -> Summary {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Summary {
            malformed: true,
            body: Part {
                part_id: "1".into(),
                content_type: "text".into(),
                subtype: "plain".into(),
                end: raw.len() as u64,
                size: raw.len() as u64,
                lines: count_lines(raw),
                ..Default::default()
            },
            preview: preview_of(&String::from_utf8_lossy(raw)),
            ..Default::default()
        };
    };
    let root_multipart = matches!(
        msg.parts.first().map(|r| &r.body),
        Some(PartType::Multipart(_))
    );
    let mut walk = Walk {
        raw,
        parts: 0,
        attachments: Vec::new(),
    };
    let body = walk.part(&msg, 0, if root_multipart { "" } else { "1" }, 0);
    let subject = msg.subject().map(|s| cut(s.trim()));
    let thread_subject = normalize_subject(subject.as_deref().unwrap_or(""));
    let preview = msg
        .body_preview(PREVIEW_CHARS * 2)
        .map(|p| preview_of(&p))
        .unwrap_or_default();
    let date = msg
        .date()
        .and_then(|d| DateTime::<Utc>::from_timestamp(d.to_timestamp(), 0));
    Summary {
        subject,
        from: addrs(msg.from()),
        sender: addrs(msg.sender()),
        reply_to: addrs(msg.reply_to()),
        to: addrs(msg.to()),
        cc: addrs(msg.cc()),
        bcc: addrs(msg.bcc()),
        date,
        message_id: msg
            .message_id()
            .map(|m| cut(m.trim().trim_start_matches('<').trim_end_matches('>'))),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        thread_subject,
        preview,
        text_body: msg.text_body_count() > 0,
        html_body: msg.html_body_count() > 0,
        attachments: walk.attachments,
        header_size: body.body_start,
        malformed: msg.root_part().headers.is_empty(),
        body,
    }
}

fn preview_of(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == '\0')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(PREVIEW_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"From: =?utf-8?q?Ana_M=C3=BCller?= <ana@example.com>\r\n\
To: bo@example.net, \"Cy\" <cy@example.org>\r\n\
Subject: =?utf-8?b?UmU6IEjDqWxsbw==?=\r\n\
Date: Tue, 1 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <m2@example.com>\r\n\
In-Reply-To: <m1@example.com>\r\n\
References: <m0@example.com> <m1@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello there,\r\nsecond line\r\n\
--b1\r\n\
Content-Type: image/png; name=\"dot.png\"\r\n\
Content-Disposition: attachment; filename=\"dot.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--b1--\r\n";

    #[test]
    fn fields_structure_and_offsets() {
        let s = summarize(MIXED);
        assert_eq!(s.subject.as_deref(), Some("Re: Héllo"));
        assert_eq!(s.thread_subject, "héllo");
        assert_eq!(s.from[0].name.as_deref(), Some("Ana Müller"));
        assert_eq!(s.from[0].address.as_deref(), Some("ana@example.com"));
        assert_eq!(s.to.len(), 2);
        assert_eq!(s.message_id.as_deref(), Some("m2@example.com"));
        assert_eq!(s.in_reply_to, ["m1@example.com"]);
        assert_eq!(s.references, ["m0@example.com", "m1@example.com"]);
        assert_eq!(s.date.map(|d| d.timestamp()), Some(1_796_119_200));
        assert!(s.preview.starts_with("Hello there, second line"));
        assert_eq!(s.body.part_id, "");
        assert_eq!(
            (s.body.content_type.as_str(), s.body.subtype.as_str()),
            ("multipart", "mixed")
        );
        assert_eq!(s.body.children.len(), 2);
        let text = &s.body.children[0];
        assert_eq!(text.part_id, "1");
        let body = &MIXED[text.body_start as usize..text.end as usize];
        assert!(
            body.starts_with(b"Hello there,"),
            "{:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(s.attachments.len(), 1);
        let a = &s.attachments[0];
        assert_eq!(
            (a.part_id.as_str(), a.name.as_deref()),
            ("2", Some("dot.png"))
        );
        assert_eq!(a.content_type, "image/png");
        assert_eq!(s.body.children[1].encoding.as_deref(), Some("base64"));
        assert!(!s.malformed);
    }

    #[test]
    fn nested_message_numbering() {
        let raw = b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=y\r\n\r\n--y\r\nContent-Type: text/plain\r\n\r\nplain\r\n--y\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n--y--\r\n\r\n--x--\r\n";
        let s = summarize(raw);
        let msg = &s.body.children[1];
        assert_eq!(
            (msg.part_id.as_str(), msg.content_type.as_str()),
            ("2", "message")
        );
        let inner = &msg.children[0];
        assert_eq!(inner.subtype, "alternative");
        let ids: Vec<&str> = inner.children.iter().map(|p| p.part_id.as_str()).collect();
        assert_eq!(ids, ["2.1", "2.2"]);
        let html = &inner.children[1];
        assert_eq!(
            &raw[html.body_start as usize..html.end as usize],
            b"<b>html</b>"
        );
    }

    #[test]
    fn single_part_body_is_part_one() {
        let s = summarize(b"Subject: x\n\nbody\n");
        assert_eq!(s.body.part_id, "1");
        assert_eq!(s.header_size, 12);
    }

    #[test]
    fn subject_normalisation() {
        for (raw, want) in [
            ("Re: Fwd: [list] Hello   World", "hello world"),
            ("RE[2]: AW: sv: Plan", "plan"),
            ("Plan (fwd)", "plan"),
            ("Fw:Re:x", "x"),
            ("Regarding things", "regarding things"),
            ("", ""),
        ] {
            assert_eq!(normalize_subject(raw), want, "{raw}");
        }
    }

    fn corpus(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                corpus(&p, out);
            } else if p.extension().is_some_and(|x| x != "md") {
                out.push(p);
            }
        }
    }

    fn check_offsets(p: &Part, len: u64) {
        assert!(p.header_start <= p.body_start && p.body_start <= p.end && p.end <= len);
        for c in &p.children {
            check_offsets(c, len);
        }
    }

    #[test]
    fn the_torture_corpus_never_panics() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mime-torture");
        let mut files = Vec::new();
        corpus(&dir, &mut files);
        assert!(
            files.len() > 150,
            "corpus at {}: {}",
            dir.display(),
            files.len()
        );
        for f in files {
            let raw = std::fs::read(&f).unwrap();
            let s = summarize(&raw);
            check_offsets(&s.body, raw.len() as u64);
            for n in [0, 1, raw.len() / 2] {
                summarize(&raw[..n]);
            }
        }
    }

    #[test]
    fn every_truncation_of_a_multipart() {
        for n in 0..=MIXED.len() {
            let s = summarize(&MIXED[..n]);
            check_offsets(&s.body, n as u64);
        }
    }
}
