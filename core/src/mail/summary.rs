//! The parse-once summary: everything list views, REST and IMAP (ENVELOPE, BODYSTRUCTURE,
//! section fetches) need, computed once at ingest with mail-parser 0.11 and stored as JSON.
//!
//! # Part ids
//!
//! Part ids are IMAP section numbers. The parts of a multipart are `1`, `2`, …, their parts
//! `1.1`, `1.2`, …. A message that is not multipart has its body at `1`; a top-level multipart
//! has the id `""` (it is the message body and has no section number of its own).
//!
//! A `message/rfc822` (or `message/global`) part `n` has the enclosed message's structure as
//! its one child: if that message is multipart, the child is the multipart and carries the id
//! `n` as well (its parts are `n.1`, `n.2`, …); otherwise the child is the enclosed body, `n.1`.
//! A lookup by id must therefore take the first match in pre-order, which is the
//! `message/rfc822` part itself.
//!
//! # Offsets
//!
//! All offsets are into the bytes given to [`summarize`] (the blob as stored): `header_start` is
//! where the part's header begins (just after the boundary line, or where an enclosed message
//! begins), `body_start` is just after the blank line ending that header (the end of the input
//! when there is none), and `end` is just past the body. The line break before a boundary
//! belongs to the boundary (RFC 2046), so it is not in the body. The root part is always
//! `0..len`. Hence `BODY[n.MIME]` (or `n.HEADER` for a message part's child) is
//! `raw[header_start..body_start]` and `BODY[n]` is `raw[body_start..end]`; for the root,
//! `BODY[HEADER]` is `raw[..header_size]` and `BODY[TEXT]` is `raw[header_size..]`.
//! Offsets always satisfy `header_start <= body_start <= end <= len` and every child lies inside
//! its parent's body.
//!
//! # Shape guarantees
//!
//! A part of type `multipart` always has at least one child, and a part of type `message` with
//! subtype `rfc822`/`global` always has exactly one. Where the tree cannot honour that (a
//! multipart without boundary or parts, an enclosed message that is transfer-encoded or could not
//! be parsed, or a part cut by the bounds below) the part is reported as a leaf: `text/plain` for
//! a broken multipart, `application/octet-stream` (or `text/plain` when mail-parser decoded it
//! as text) for a broken message, and `malformed` is set. Other types are as declared.
//!
//! # Bounds
//!
//! At most [`MAX_DEPTH`] levels and [`MAX_PARTS`] parts are recorded, [`MAX_ADDRS`] addresses
//! per field, [`MAX_REFS`] referenced ids, [`MAX_PARAMS`] parameters per header and
//! [`MAX_STR`] characters per string. The preview is at most [`PREVIEW_CHARS`] characters.
//! Recorded strings never contain control characters (NUL is removed, the others become
//! spaces), so they are safe for Postgres text and jsonb and for IMAP quoted strings.

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, NaiveDate, Utc};
use mail_parser::{
    Address, ContentType, Encoding, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders,
    PartType,
};
use serde::{Deserialize, Serialize};

mod walk;

use walk::{Slot, Walk};

/// Deepest structure level recorded (the root is level 0).
pub const MAX_DEPTH: usize = 32;
/// Parts recorded per message.
pub const MAX_PARTS: usize = 1000;
/// Addresses kept per field.
pub const MAX_ADDRS: usize = 1000;
/// Referenced ids kept (References keeps the first and the last ones).
pub const MAX_REFS: usize = 100;
/// Parameters kept per Content-Type / Content-Disposition.
pub const MAX_PARAMS: usize = 50;
/// Characters of the preview.
pub const PREVIEW_CHARS: usize = 200;
/// Characters kept of any one recorded string.
pub const MAX_STR: usize = 998;
/// Bytes of a message that did not parse that the fallback preview looks at.
const FALLBACK_PREVIEW_BYTES: usize = 16 * 1024;

/// An address as shown to people and used by IMAP ENVELOPE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Addr {
    /// Display name, decoded (RFC 2047).
    pub name: Option<String>,
    /// The address as written (not lower-cased).
    pub address: Option<String>,
}

/// One MIME part of the body structure (IMAP BODYSTRUCTURE needs all of this without
/// re-parsing). See the module docs for ids and offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Part {
    /// IMAP section number: `"1"`, `"1.2"`, …; `""` for a top-level multipart.
    pub part_id: String,
    /// `text`, `multipart`, … (lower case).
    pub content_type: String,
    /// `plain`, `mixed`, … (lower case).
    pub subtype: String,
    /// Content-Type parameters, names lower case, values decoded (RFC 2231).
    pub params: Vec<(String, String)>,
    /// Content-ID without angle brackets.
    pub content_id: Option<String>,
    /// Content-Description, decoded.
    pub description: Option<String>,
    /// Content-Transfer-Encoding as written, lower case.
    pub encoding: Option<String>,
    /// Content-Disposition type (`inline`, `attachment`, …), lower case.
    pub disposition: Option<String>,
    /// Content-Disposition parameters, names lower case.
    pub disposition_params: Vec<(String, String)>,
    /// Content-Language tags.
    pub language: Vec<String>,
    /// Content-Location.
    pub location: Option<String>,
    /// Offset of the part's header in the raw message.
    pub header_start: u64,
    /// Offset of the part's body (just after the blank line).
    pub body_start: u64,
    /// Offset just past the body.
    pub end: u64,
    /// Body octets (`end - body_start`).
    pub size: u64,
    /// Body lines for `text/*` and `message/rfc822`: its line feeds (as Dovecot counts them; a
    /// last line without one is not counted); 0 for other types.
    pub lines: u64,
    /// Parts of a multipart, or the one enclosed message of a `message/rfc822`.
    pub children: Vec<Part>,
    /// The fields of the part's header that IMAP's ENVELOPE and BODYSTRUCTURE read (the
    /// top-level part's header is the message's: its head serves the message's ENVELOPE)
    /// ([`mailroom_proto::imap::envelope::imap_head`]), kept so that they are answered without
    /// reading the message; absent in summaries made before it was kept, and when the header
    /// cannot be kept so (not UTF-8, too large).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
}

/// An attachment of the top-level message, for list views.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// IMAP section number of the part.
    pub part_id: String,
    /// File name (Content-Disposition `filename`, else Content-Type `name`), decoded.
    pub name: Option<String>,
    /// Declared `type/subtype`, lower case, e.g. `image/png`.
    pub content_type: String,
    /// Decoded bytes (for text, UTF-8 bytes after charset conversion).
    pub size: u64,
    /// Content-ID without angle brackets (inline images).
    pub content_id: Option<String>,
    /// Shown inline (disposition `inline`, or an image etc. without disposition).
    pub inline: bool,
}

/// The precomputed summary of one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Summary {
    /// Subject, decoded (RFC 2047) and trimmed.
    pub subject: Option<String>,
    /// From (group members are flattened into the list).
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
    /// The Date header, when parseable and a real calendar date.
    pub date: Option<DateTime<Utc>>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To ids without angle brackets.
    pub in_reply_to: Vec<String>,
    /// References ids without angle brackets, in order.
    pub references: Vec<String>,
    /// The subject normalised for threading, see [`normalize_subject`].
    pub thread_subject: String,
    /// The first characters of the text body (or of the HTML body as text), white space
    /// collapsed.
    pub preview: String,
    /// Has a `text/plain` body part.
    pub text_body: bool,
    /// Has a `text/html` body part.
    pub html_body: bool,
    /// Attachments of the top-level message (an attached message is one attachment).
    pub attachments: Vec<Attachment>,
    /// The structure tree.
    pub body: Part,
    /// Bytes of the top-level header block, blank line included.
    pub header_size: u64,
    /// No header could be parsed, the parser gave up or panicked, or the structure had to be
    /// degraded or cut (see the module docs).
    pub malformed: bool,
}

impl Summary {
    /// The part with IMAP section number `id` (the first in pre-order, see the module docs).
    pub fn part(&self, id: &str) -> Option<&Part> {
        let mut stack = vec![&self.body];
        while let Some(p) = stack.pop() {
            if p.part_id == id {
                return Some(p);
            }
            stack.extend(p.children.iter().rev());
        }
        None
    }
}

/// Computes the summary of a message. Never panics; any bytes give a summary (at worst a
/// mostly empty one with `malformed` set and the whole input as a `text/plain` part `1`).
pub fn summarize(raw: &[u8]) -> Summary {
    summarize_with_text(raw).0
}

/// Characters of body text kept for the search index.
pub const MAX_SEARCH_TEXT: usize = 64 * 1024;

/// [`summarize`], and the message's text body (every text part, HTML ones as text; at most
/// [`MAX_SEARCH_TEXT`] characters) for the search index, from the same parse.
pub fn summarize_with_text(raw: &[u8]) -> (Summary, String) {
    let (mut s, text) = summarize_parts(raw);
    keep_heads(&mut s.body, raw);
    (s, text)
}

/// Fills [`Part::head`] of every part (iteratively: parts nest deep).
fn keep_heads(top: &mut Part, raw: &[u8]) {
    let mut stack = vec![top];
    while let Some(p) = stack.pop() {
        let (a, b) = (p.header_start as usize, p.body_start as usize);
        p.head = raw
            .get(a.min(b)..b.min(raw.len()))
            .and_then(mailroom_proto::imap::envelope::imap_head);
        stack.extend(p.children.iter_mut());
    }
}

fn summarize_parts(raw: &[u8]) -> (Summary, String) {
    // mail-parser stores offsets as u32; past that they would wrap.
    if u32::try_from(raw.len()).is_err() {
        return (fallback(raw), String::new());
    }
    // Defence in depth: mail-parser has debug assertions and index arithmetic we do not own.
    match catch_unwind(AssertUnwindSafe(|| {
        MessageParser::default().parse(raw).map(|m| {
            let m = Flat(m);
            (from_message(raw, &m.0), body_text(&m.0))
        })
    })) {
        Ok(Some(s)) => s,
        _ => {
            let s = fallback(raw);
            let text = String::from_utf8_lossy(raw.get(..MAX_SEARCH_TEXT).unwrap_or(raw)).into();
            (s, text)
        }
    }
}

fn body_text(msg: &Message<'_>) -> String {
    let (mut out, mut n) = (String::new(), 0);
    for i in 0..msg.text_body.len() {
        if n >= MAX_SEARCH_TEXT {
            break;
        }
        let Some(t) = msg.body_text(i) else { continue };
        for c in t.chars().take(MAX_SEARCH_TEXT - n) {
            out.push(c);
            n += 1;
        }
        out.push('\n');
    }
    out
}

/// Owns a parsed message and tears it down without recursion: dropping a `Message` recurses
/// once per enclosed `message/rfc822`, and a few hundred KiB of nested parts overflow a thread
/// stack (an abort, not a panic).
pub(crate) struct Flat<'x>(pub(crate) Message<'x>);

impl Drop for Flat<'_> {
    fn drop(&mut self) {
        let mut pending = Vec::new();
        detach_nested(&mut self.0, &mut pending);
        while let Some(mut m) = pending.pop() {
            detach_nested(&mut m, &mut pending);
        }
    }
}

fn detach_nested<'x>(m: &mut Message<'x>, out: &mut Vec<Message<'x>>) {
    for p in &mut m.parts {
        if matches!(p.body, PartType::Message(_))
            && let PartType::Message(inner) = std::mem::take(&mut p.body)
        {
            out.push(inner);
        }
    }
}

fn fallback(raw: &[u8]) -> Summary {
    let len = raw.len() as u64;
    let head = raw.get(..FALLBACK_PREVIEW_BYTES).unwrap_or(raw);
    Summary {
        malformed: true,
        body: Part {
            part_id: "1".into(),
            content_type: "text".into(),
            subtype: "plain".into(),
            end: len,
            size: len,
            lines: count_lines(raw),
            ..Default::default()
        },
        preview: preview_of(&String::from_utf8_lossy(head)),
        ..Default::default()
    }
}

fn from_message(raw: &[u8], msg: &Message<'_>) -> Summary {
    let mut attach_idx: Vec<u32> = msg.attachments.clone();
    attach_idx.sort_unstable();
    let mut walk = Walk {
        raw,
        parts: 0,
        degraded: false,
        attach_idx,
        attachments: Vec::new(),
    };
    let len = raw.len() as u64;
    let body = walk
        .part(msg, 0, Slot::Root(String::new()), (0, len), 0, true)
        .unwrap_or_else(|| fallback(raw).body);
    let subject = msg
        .subject()
        .map(|s| clean(s.trim()))
        .filter(|s| !s.is_empty());
    let first_kind = |list: &[u32], html: bool| {
        list.iter()
            .any(|i| match msg.parts.get(*i as usize).map(|p| &p.body) {
                Some(PartType::Html(_)) => html,
                Some(PartType::Text(_)) => !html,
                _ => false,
            })
    };
    let preview = msg.body_text(0).map(|t| preview_of(&t)).unwrap_or_default();
    Summary {
        thread_subject: normalize_subject(subject.as_deref().unwrap_or("")),
        subject,
        from: addrs(msg.from()),
        sender: addrs(msg.sender()),
        reply_to: addrs(msg.reply_to()),
        to: addrs(msg.to()),
        cc: addrs(msg.cc()),
        bcc: addrs(msg.bcc()),
        date: msg.date().and_then(to_utc),
        message_id: msg.message_id().map(strip_id).filter(|s| !s.is_empty()),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        preview,
        text_body: first_kind(&msg.text_body, false),
        html_body: first_kind(&msg.html_body, true),
        attachments: walk.attachments,
        header_size: body.body_start,
        malformed: walk.degraded
            || !msg
                .parts
                .first()
                .is_some_and(|p| p.headers.iter().any(|h| is_field_name(h.name()))),
        body,
    }
}

/// Whether mail-parser's header name is a real RFC 5322 field name (it also reports lines
/// without a colon, such as plain text, as headers).
fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

/// Keeps at most [`MAX_STR`] characters; NUL is dropped and other control characters (CR, LF,
/// tab, …) become spaces.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '\0')
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_STR)
        .collect()
}

fn strip_id(s: &str) -> String {
    clean(
        s.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim(),
    )
}

fn addrs(a: Option<&Address<'_>>) -> Vec<Addr> {
    let Some(a) = a else { return Vec::new() };
    a.iter()
        .map(|x| Addr {
            name: x
                .name
                .as_deref()
                .map(|n| clean(n.trim()))
                .filter(|n| !n.is_empty()),
            address: x
                .address
                .as_deref()
                .map(|n| clean(n.trim()))
                .filter(|n| !n.is_empty()),
        })
        .filter(|a| a.name.is_some() || a.address.is_some())
        .take(MAX_ADDRS)
        .collect()
}

/// Message ids of In-Reply-To or References; beyond [`MAX_REFS`] the first and the last ones
/// are kept (the thread root and the nearest ancestors).
fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<&str> = match v {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    let n = list.len();
    for (i, s) in list.into_iter().enumerate() {
        if i == 0 || i + MAX_REFS > n {
            let id = strip_id(s);
            if !id.is_empty() {
                out.push(id);
            }
        }
    }
    out
}

/// A calendar-checked UTC time from mail-parser's date fields (which it does not validate).
fn to_utc(d: &mail_parser::DateTime) -> Option<DateTime<Utc>> {
    if d.tz_hour > 23 || d.tz_minute > 59 {
        return None;
    }
    // RFC 5322 obsolete years: two digits, or three.
    let year = match i32::from(d.year) {
        y @ 0..50 => y + 2000,
        y @ 50..1000 => y + 1900,
        y => y,
    };
    let local = NaiveDate::from_ymd_opt(year, u32::from(d.month), u32::from(d.day))?
        .and_hms_opt(
            u32::from(d.hour),
            u32::from(d.minute),
            u32::from(d.second.min(59)),
        )?
        .and_utc()
        .timestamp();
    let offset = i64::from(d.tz_hour) * 3600 + i64::from(d.tz_minute) * 60;
    let utc = if d.tz_before_gmt {
        local + offset
    } else {
        local - offset
    };
    DateTime::<Utc>::from_timestamp(utc, 0)
}

/// Reply and forward prefixes removed by [`normalize_subject`], compared ignoring ASCII case.
const REPLY_PREFIXES: &[&str] = &[
    "re", "fwd", "fw", "aw", "wg", "sv", "vs", "antw", "doorst", "tr", "rv", "enc", "res", "odp",
    "ynt", "回复", "答复", "转发", "回覆", "轉寄",
];

/// Normalises a subject for threading: reply and forward prefixes (`Re:`, `Fwd:`, `Fw:`, `AW:`,
/// `SV:`, `WG:`, `Antw:`, `TR:`, `RV:`, `Enc:`, … also with a count such as `Re[2]:` or
/// `Re(2):`, and a space or a full-width colon before the colon allowed), leading `[list-tag]`s
/// (unless nothing would be left), `[Fwd: …]` wrappers and `(fwd)` trailers are removed
/// repeatedly; white space is collapsed and the result lower-cased. Only the first
/// [`MAX_STR`] characters of `s` are looked at.
pub fn normalize_subject(s: &str) -> String {
    let cut_at = s.char_indices().nth(MAX_STR).map_or(s.len(), |(i, _)| i);
    let mut t = s.get(..cut_at).unwrap_or(s).trim();
    loop {
        let before = t.len();
        while let Some(head) = strip_suffix_ci(t, "(fwd)") {
            t = head.trim_end();
        }
        if let Some(inner) = strip_prefix_ci(t, "[fwd:").and_then(|r| r.strip_suffix(']')) {
            t = inner.trim();
        } else if let Some(rest) = t.strip_prefix('[')
            && let Some(close) = rest.find(']')
            && let Some(after) = rest.get(close + 1..)
            && !after.trim().is_empty()
        {
            t = after.trim_start();
        } else if let Some(rest) = strip_reply_prefix(t) {
            t = rest.trim_start();
        }
        if t.len() == before {
            break;
        }
    }
    t.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    let head = s.get(..p.len())?;
    head.eq_ignore_ascii_case(p)
        .then(|| s.get(p.len()..))
        .flatten()
}

fn strip_suffix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    let at = s.len().checked_sub(p.len())?;
    let tail = s.get(at..)?;
    tail.eq_ignore_ascii_case(p).then(|| s.get(..at)).flatten()
}

/// `Re:`, `Re[2]:`, `Re (2) :`, `回复：` … → the rest.
fn strip_reply_prefix(t: &str) -> Option<&str> {
    REPLY_PREFIXES.iter().find_map(|p| {
        let mut rest = strip_prefix_ci(t, p)?.trim_start_matches(' ');
        let counted = rest
            .strip_prefix('[')
            .map(|r| (r, ']'))
            .or_else(|| rest.strip_prefix('(').map(|r| (r, ')')));
        if let Some((r, close)) = counted {
            let digits = r.trim_start_matches(|c: char| c.is_ascii_digit());
            if digits.len() < r.len() {
                rest = digits.strip_prefix(close)?;
            }
        }
        let rest = rest.trim_start_matches(' ');
        rest.strip_prefix(':').or_else(|| rest.strip_prefix('：'))
    })
}

fn count_lines(b: &[u8]) -> u64 {
    // Line feeds, as Dovecot counts them (a last line without one is not counted).
    b.iter().filter(|c| **c == b'\n').count() as u64
}

/// Collapses white space (and control and invisible formatting characters) and keeps the
/// first [`PREVIEW_CHARS`] characters.
fn preview_of(s: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    let mut gap = false;
    for c in s.chars() {
        if matches!(
            c,
            '\u{00AD}' | '\u{034F}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
        ) {
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            gap = n > 0;
            continue;
        }
        if gap {
            if n + 1 >= PREVIEW_CHARS {
                break;
            }
            out.push(' ');
            n += 1;
            gap = false;
        }
        if n >= PREVIEW_CHARS {
            break;
        }
        out.push(c);
        n += 1;
    }
    out
}

#[cfg(test)]
mod tests;
