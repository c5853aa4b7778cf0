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
    /// Body lines for `text/*` and `message/rfc822` (line feeds, plus one for a last line
    /// without one); 0 for other types.
    pub lines: u64,
    /// Parts of a multipart, or the one enclosed message of a `message/rfc822`.
    pub children: Vec<Part>,
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
    let lf = b.iter().filter(|c| **c == b'\n').count() as u64;
    lf + u64::from(b.last().is_some_and(|c| *c != b'\n'))
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

/// Where a part sits in the tree, which decides its id.
enum Slot {
    /// The root of a message whose body has the prefix given (`""` at the top): a multipart root
    /// takes the prefix as its id, a single-part body is `prefix.1`.
    Root(String),
    /// A part of a multipart, with its id.
    Child(String),
}

fn join(prefix: &str, n: usize) -> String {
    if prefix.is_empty() {
        n.to_string()
    } else {
        format!("{prefix}.{n}")
    }
}

fn params(ct: Option<&ContentType<'_>>) -> Vec<(String, String)> {
    ct.and_then(|c| c.attributes())
        .unwrap_or(&[])
        .iter()
        .take(MAX_PARAMS)
        .map(|a| (clean(a.name.trim()).to_lowercase(), clean(&a.value)))
        .collect()
}

fn lower(s: &str) -> String {
    clean(s.trim()).to_lowercase()
}

struct Walk<'a> {
    raw: &'a [u8],
    parts: usize,
    degraded: bool,
    /// Sorted indices of the top-level message's attachment parts.
    attach_idx: Vec<u32>,
    attachments: Vec<Attachment>,
}

impl Walk<'_> {
    /// The structure of `msg`'s part `idx`, with offsets kept inside `bounds` (the parent's
    /// body). `top` is whether `msg` is the top-level message.
    fn part(
        &mut self,
        msg: &Message<'_>,
        idx: usize,
        slot: Slot,
        bounds: (u64, u64),
        depth: usize,
        top: bool,
    ) -> Option<Part> {
        let p = msg.parts.get(idx)?;
        self.parts += 1;
        let (lo, hi) = bounds;
        let fit = |v: u32| u64::from(v).clamp(lo, hi);
        let hs = if depth == 0 { lo } else { fit(p.offset_header) };
        let bs = fit(p.offset_body).max(hs);
        let end = if depth == 0 { hi } else { fit(p.offset_end) }.max(bs);

        let ct = p.content_type();
        let declared = ct.map(|c| (lower(c.ctype()), c.subtype().map(lower).unwrap_or_default()));
        let (ctype, subtype) = match (declared.clone(), &p.body) {
            (Some((t, s)), _) if !t.is_empty() && !s.is_empty() => (t, s),
            (_, PartType::Multipart(_)) => ("multipart".into(), "mixed".into()),
            (_, PartType::Message(_)) => ("message".into(), "rfc822".into()),
            (_, PartType::Html(_)) => ("text".into(), "html".into()),
            (_, PartType::Binary(_) | PartType::InlineBinary(_)) => {
                ("application".into(), "octet-stream".into())
            }
            (_, PartType::Text(_)) => ("text".into(), "plain".into()),
        };
        let disp = p.content_disposition();
        let language = match p.content_language() {
            HeaderValue::Text(t) => vec![clean(t)],
            HeaderValue::TextList(l) => l.iter().take(MAX_PARAMS).map(|t| clean(t)).collect(),
            _ => Vec::new(),
        };
        let id = match &slot {
            Slot::Root(prefix) if matches!(p.body, PartType::Multipart(_)) => prefix.clone(),
            Slot::Root(prefix) => join(prefix, 1),
            Slot::Child(id) => id.clone(),
        };
        let mut out = Part {
            part_id: id.clone(),
            content_type: ctype,
            subtype,
            params: params(ct),
            content_id: p.content_id().map(strip_id).filter(|s| !s.is_empty()),
            description: p.content_description().map(|d| clean(d.trim())),
            encoding: p.content_transfer_encoding().map(lower),
            disposition: disp.map(|d| lower(d.ctype())).filter(|d| !d.is_empty()),
            disposition_params: params(disp),
            language,
            location: p.content_location().map(|l| clean(l.trim())),
            header_start: hs,
            body_start: bs,
            end,
            size: end - bs,
            lines: 0,
            children: Vec::new(),
        };
        let room = depth < MAX_DEPTH;
        match &p.body {
            PartType::Multipart(children) => {
                out.content_type = "multipart".into();
                for (n, c) in children.iter().enumerate() {
                    if !room || self.parts >= MAX_PARTS {
                        self.degraded = true;
                        break;
                    }
                    let child_id = join(&id, n + 1);
                    if let Some(child) = self.part(
                        msg,
                        *c as usize,
                        Slot::Child(child_id),
                        (bs, end),
                        depth + 1,
                        top,
                    ) {
                        out.children.push(child);
                    }
                }
            }
            // Only an enclosed message that is not transfer-encoded has offsets into `raw`.
            PartType::Message(inner)
                if p.encoding == Encoding::None && room && self.parts < MAX_PARTS =>
            {
                if let Some(child) = self.part(
                    inner,
                    0,
                    Slot::Root(id.clone()),
                    (bs, end),
                    depth + 1,
                    false,
                ) {
                    out.children.push(child);
                }
            }
            _ => {}
        }
        self.shape(&mut out, &p.body);
        if out.content_type == "text" || out.content_type == "message" && !out.children.is_empty() {
            out.lines = count_lines(self.raw.get(bs as usize..end as usize).unwrap_or(&[]));
        }
        if top
            && !matches!(p.body, PartType::Multipart(_))
            && u32::try_from(idx).is_ok_and(|i| self.attach_idx.binary_search(&i).is_ok())
            && self.attachments.len() < MAX_PARTS
        {
            self.attachments.push(attachment(p, &out, declared));
        }
        Some(out)
    }

    /// Enforces the shape guarantees of the module docs on a finished part.
    fn shape(&mut self, out: &mut Part, body: &PartType<'_>) {
        let broken_multipart = out.content_type == "multipart" && out.children.is_empty();
        let broken_message = out.content_type == "message"
            && matches!(out.subtype.as_str(), "rfc822" | "global")
            && out.children.is_empty();
        if !(broken_multipart || broken_message) {
            return;
        }
        self.degraded = true;
        let (t, s) = match body {
            _ if broken_multipart => ("text", "plain"),
            PartType::Text(_) | PartType::Multipart(_) => ("text", "plain"),
            PartType::Html(_) => ("text", "html"),
            PartType::Message(_) | PartType::Binary(_) | PartType::InlineBinary(_) => {
                ("application", "octet-stream")
            }
        };
        out.content_type = t.into();
        out.subtype = s.into();
        out.params.retain(|(k, _)| k != "boundary");
        out.children.clear();
    }
}

fn attachment(p: &MessagePart<'_>, out: &Part, declared: Option<(String, String)>) -> Attachment {
    let content_type = match declared {
        // A multipart is never an attachment: one listed here was degraded to a leaf.
        Some((t, s)) if !t.is_empty() && !s.is_empty() && t != "multipart" => format!("{t}/{s}"),
        _ => format!("{}/{}", out.content_type, out.subtype),
    };
    let size = match &p.body {
        // A non-encoded enclosed message's `raw_message` is not its own bytes in every case.
        PartType::Message(_) if p.encoding == Encoding::None => out.size,
        _ => p.len() as u64,
    };
    Attachment {
        part_id: out.part_id.clone(),
        name: p
            .attachment_name()
            .map(|n| clean(n.trim()))
            .filter(|n| !n.is_empty()),
        content_type,
        size,
        content_id: out.content_id.clone(),
        inline: match out.disposition.as_deref() {
            Some(d) => d == "inline",
            None => matches!(p.body, PartType::InlineBinary(_)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"From: =?utf-8?q?Ana_M=C3=BCller?= <ana@example.com>\r\n\
To: bo@example.net, \"Cy\" <cy@example.org>\r\n\
Cc: Team: dee@example.com, eve@example.com;\r\n\
Subject: =?utf-8?b?UmU6IEjDqWxsbw==?=\r\n\
Date: Tue, 1 Dec 2026 10:00:00 -0500\r\n\
Message-ID: <m2@example.com>\r\n\
In-Reply-To: <m1@example.com>\r\n\
References: <m0@example.com>\r\n <m1@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
preamble\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello   there,\r\nsecond line\r\n\
--b1\r\n\
Content-Type: image/png; name=\"dot.png\"\r\n\
Content-Disposition: attachment; filename=\"=?utf-8?q?d=C3=B6t.png?=\"\r\n\
Content-Transfer-Encoding: Base64\r\n\
Content-ID: <img1@x>\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--b1--\r\n\
epilogue\r\n";

    fn slice<'a>(raw: &'a [u8], p: &Part) -> (&'a [u8], &'a [u8]) {
        (
            &raw[p.header_start as usize..p.body_start as usize],
            &raw[p.body_start as usize..p.end as usize],
        )
    }

    #[test]
    fn mixed_with_attachment() {
        let s = summarize(MIXED);
        assert!(!s.malformed);
        assert_eq!(s.subject.as_deref(), Some("Re: Héllo"));
        assert_eq!(s.thread_subject, "héllo");
        assert_eq!(
            s.from,
            [Addr {
                name: Some("Ana Müller".into()),
                address: Some("ana@example.com".into())
            }]
        );
        assert_eq!(s.to.len(), 2);
        assert_eq!(s.to[1].name.as_deref(), Some("Cy"));
        let cc: Vec<_> = s.cc.iter().filter_map(|a| a.address.as_deref()).collect();
        assert_eq!(cc, ["dee@example.com", "eve@example.com"]);
        assert_eq!(s.message_id.as_deref(), Some("m2@example.com"));
        assert_eq!(s.in_reply_to, ["m1@example.com"]);
        assert_eq!(s.references, ["m0@example.com", "m1@example.com"]);
        assert_eq!(
            s.date.map(|d| d.to_rfc3339()).as_deref(),
            Some("2026-12-01T15:00:00+00:00")
        );
        assert_eq!(s.preview, "Hello there, second line");
        assert!(s.text_body && !s.html_body);

        let header_end = MIXED.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(s.header_size, header_end as u64);
        let root = &s.body;
        assert_eq!(root.part_id, "");
        assert_eq!(
            (root.content_type.as_str(), root.subtype.as_str()),
            ("multipart", "mixed")
        );
        assert_eq!(root.params, [("boundary".to_string(), "b1".to_string())]);
        assert_eq!((root.header_start, root.end), (0, MIXED.len() as u64));
        assert!(slice(MIXED, root).1.starts_with(b"preamble"));

        let ids: Vec<_> = root.children.iter().map(|p| p.part_id.as_str()).collect();
        assert_eq!(ids, ["1", "2"]);
        let (text, png) = (&root.children[0], &root.children[1]);
        let (mime, body) = slice(MIXED, text);
        assert_eq!(mime, b"Content-Type: text/plain; charset=utf-8\r\n\r\n");
        assert_eq!(body, b"Hello   there,\r\nsecond line");
        assert_eq!((text.size, text.lines), (body.len() as u64, 2));
        assert_eq!(slice(MIXED, png).1, b"iVBORw0KGgo=");
        assert_eq!(png.encoding.as_deref(), Some("base64"));
        assert_eq!(png.disposition.as_deref(), Some("attachment"));
        assert_eq!(png.content_id.as_deref(), Some("img1@x"));
        assert_eq!(png.lines, 0);

        assert_eq!(
            s.attachments,
            [Attachment {
                part_id: "2".into(),
                name: Some("döt.png".into()),
                content_type: "image/png".into(),
                size: 8,
                content_id: Some("img1@x".into()),
                inline: false,
            }]
        );
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Summary>(&json).unwrap(), s);
    }

    #[test]
    fn alternative_and_html_preview() {
        let raw = b"Subject: [team] Fwd: AW: Plan\nContent-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: text/plain\n\nplain  words\n--a\nContent-Type: text/html; charset=\"UTF-8\"\n\n<p>html <b>words</b></p>\n--a--\n";
        let s = summarize(raw);
        assert!(s.text_body && s.html_body && !s.malformed);
        assert_eq!(s.thread_subject, "plan");
        assert_eq!(s.preview, "plain words");
        assert!(s.attachments.is_empty());
        let html = &s.body.children[1];
        assert_eq!(
            (html.part_id.as_str(), html.subtype.as_str()),
            ("2", "html")
        );
        assert_eq!(html.params, [("charset".to_string(), "UTF-8".to_string())]);
        assert_eq!(slice(raw, html).1, b"<p>html <b>words</b></p>");

        let only_html = summarize(
            b"Content-Type: text/html\n\n<html><body><p>Hi&nbsp;<i>you</i></p>\n<p>there</p></body></html>\n",
        );
        assert!(only_html.html_body && !only_html.text_body);
        assert_eq!(only_html.body.part_id, "1");
        assert!(only_html.preview.starts_with("Hi"), "{}", only_html.preview);
        assert!(only_html.preview.contains("there") && !only_html.preview.contains('<'));
    }

    const NESTED: &[u8] = b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=y\r\n\r\n--y\r\nContent-Type: text/plain\r\n\r\nplain\r\n--y\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n--y--\r\n\r\n--x\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=fwd.eml\r\n\r\nSubject: single\r\n\r\nbody of single\r\n--x--\r\n";

    #[test]
    fn nested_messages() {
        let s = summarize(NESTED);
        assert!(!s.malformed);
        assert_eq!(s.preview, "hi");
        let (m2, m3) = (&s.body.children[1], &s.body.children[2]);
        assert_eq!(
            (m2.part_id.as_str(), m2.content_type.as_str()),
            ("2", "message")
        );
        assert_eq!(m2.children.len(), 1);
        let inner = &m2.children[0];
        assert_eq!(
            (inner.part_id.as_str(), inner.subtype.as_str()),
            ("2", "alternative")
        );
        assert_eq!(inner.header_start, m2.body_start);
        assert!(slice(NESTED, inner).0.starts_with(b"Subject: inner\r\n"));
        let ids: Vec<_> = inner.children.iter().map(|p| p.part_id.as_str()).collect();
        assert_eq!(ids, ["2.1", "2.2"]);
        assert_eq!(slice(NESTED, &inner.children[1]).1, b"<b>html</b>");
        assert!(slice(NESTED, m2).1.starts_with(b"Subject: inner"));
        assert!(slice(NESTED, m2).1.ends_with(b"--y--\r\n"));
        assert_eq!(m2.lines, count_lines(slice(NESTED, m2).1));

        let single = &m3.children[0];
        assert_eq!(single.part_id, "3.1");
        assert_eq!(
            slice(NESTED, single),
            (&b"Subject: single\r\n\r\n"[..], &b"body of single"[..])
        );
        assert_eq!(
            slice(NESTED, m3).1,
            b"Subject: single\r\n\r\nbody of single"
        );

        // The enclosed messages are attachments; their own parts are not.
        let att: Vec<_> = s
            .attachments
            .iter()
            .map(|a| (a.part_id.as_str(), a.size))
            .collect();
        assert_eq!(att, [("2", m2.size), ("3", m3.size)]);
        assert_eq!(s.attachments[1].name.as_deref(), Some("fwd.eml"));
        assert_eq!(s.attachments[1].content_type, "message/rfc822");
    }

    #[test]
    fn single_part_and_header_only() {
        let s = summarize(b"Subject: x\n\nbody\n");
        assert_eq!((s.body.part_id.as_str(), s.header_size), ("1", 12));
        assert_eq!((s.body.size, s.body.lines), (5, 1));
        assert_eq!(s.body.content_type, "text");
        let h = summarize(b"Subject: only a header\r\n");
        assert_eq!(h.subject.as_deref(), Some("only a header"));
        assert_eq!((h.header_size, h.body.size), (24, 0));
    }

    #[test]
    fn reply_ids_and_reference_cap() {
        let mut raw = String::from("Message-ID: < a@b >\nIn-Reply-To: <p@x> <q@x>\nReferences:");
        for i in 0..150 {
            raw.push_str(&format!(" <r{i}@x>"));
        }
        raw.push_str("\n\nx\n");
        let s = summarize(raw.as_bytes());
        assert_eq!(s.message_id.as_deref(), Some("a@b"));
        assert_eq!(s.in_reply_to, ["p@x", "q@x"]);
        assert_eq!(s.references.len(), MAX_REFS);
        assert_eq!(s.references[0], "r0@x");
        assert_eq!(s.references[1], "r51@x");
        assert_eq!(s.references[MAX_REFS - 1], "r149@x");
    }

    #[test]
    fn dates() {
        let d = |h: &str| {
            let s = summarize(format!("Date: {h}\n\nx").as_bytes());
            s.date.map(|d| d.to_rfc3339())
        };
        let want = |s: &str| Some(s.to_string());
        assert_eq!(
            d("Thu, 13 Feb 1969 23:32:54 -0330"),
            want("1969-02-14T03:02:54+00:00")
        );
        assert_eq!(d("1 Jan 99 00:00 +0100"), want("1998-12-31T23:00:00+00:00"));
        assert_eq!(d("Mon, 30 Feb 2026 10:00:00 +0000"), None);
        assert_eq!(d("not a date"), None);
    }

    #[test]
    fn subject_normalisation() {
        for (raw, want) in [
            ("Re: Fwd: [list] Hello   World", "hello world"),
            ("RE[2]: AW: sv: Plan", "plan"),
            ("Re (3) : Plan", "plan"),
            ("Plan (fwd)", "plan"),
            ("Plan (FWD) (fwd)", "plan"),
            ("[Fwd: Re: The plan]", "the plan"),
            ("Fw:Re:x", "x"),
            ("[a] [b] Re: [a] x", "x"),
            ("[only a tag]", "[only a tag]"),
            ("回复：会议", "会议"),
            ("Regarding things", "regarding things"),
            ("Re:", ""),
            ("  \t ", ""),
            ("", ""),
        ] {
            assert_eq!(normalize_subject(raw), want, "{raw:?}");
        }
        let long = "re: ".repeat(100_000);
        // Only the first MAX_STR characters are looked at, so this ends in a bare "re".
        assert_eq!(normalize_subject(&long), "re");
    }

    #[test]
    fn degraded_shapes() {
        let s = summarize(b"Content-Type: multipart/mixed\n\nno boundary here\n");
        assert!(s.malformed);
        assert_eq!(
            (s.body.part_id.as_str(), s.body.content_type.as_str()),
            ("1", "text")
        );
        assert!(s.body.children.is_empty());

        let raw = b"Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogaQoKYm9keQo=\n--z--\n";
        let s = summarize(raw);
        let m = &s.body.children[0];
        assert!(s.malformed);
        assert_eq!(
            (m.content_type.as_str(), m.subtype.as_str()),
            ("application", "octet-stream")
        );
        assert!(m.children.is_empty());
        assert_eq!(s.attachments[0].content_type, "message/rfc822");
        assert_eq!(slice(raw, m).1, b"U3ViamVjdDogaQoKYm9keQo=");
    }

    #[test]
    fn garbage_and_lossy_headers() {
        for raw in [
            &b""[..],
            b"\n",
            b"\r\n\r\n",
            b"just some text, no header",
            b"\xff\xfe\x00\x00: \x00",
            b"Subject: caf\xe9 \x00 ok\r\nFrom: \xc3\x28 <a@b>\r\n\r\n\xff body",
        ] {
            let s = summarize(raw);
            assert!(s.body.end == raw.len() as u64 && s.body.header_start == 0);
            for text in [&s.preview, &s.thread_subject] {
                assert!(!text.contains('\0'));
            }
        }
        let s = summarize(b"Subject: caf\xe9 \x00 ok\r\n\r\nx");
        assert_eq!(s.subject.as_deref(), Some("caf\u{fffd}  ok"));
        assert!(summarize(b"").malformed);
        assert!(summarize(b"// Not an RFC-822 Document").malformed);
        assert!(!summarize(b"X-Only: header").malformed);

        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..300)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let alphabet =
                        b"-\r\n:;=<>\"ab Content-Type multipart/mixed boundary message/rfc822";
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            check(&bytes, &summarize(&bytes));
        }
    }

    #[test]
    fn deep_nesting_is_bounded_and_does_not_overflow() {
        let mut msgs = b"Subject: x\n".to_vec();
        for _ in 0..20_000 {
            msgs.extend_from_slice(b"Content-Type: message/rfc822\n\n");
        }
        msgs.extend_from_slice(b"Subject: y\n\nhi\n");
        let mut multi = Vec::new();
        for i in 0..2_000 {
            multi.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n").as_bytes(),
            );
        }
        let mut wide = b"Content-Type: multipart/mixed; boundary=w\n\n".to_vec();
        for _ in 0..3_000 {
            wide.extend_from_slice(b"--w\n\nx\n");
        }
        for raw in [msgs, multi, wide] {
            // A 2 MiB stack, as tokio's worker threads have.
            let s = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || {
                    let s = summarize(&raw);
                    check(&raw, &s);
                    s
                })
                .unwrap()
                .join()
                .unwrap();
            assert!(s.malformed);
            assert!(depth(&s.body) <= MAX_DEPTH + 1 && count(&s.body) <= MAX_PARTS);
        }
    }

    fn depth(p: &Part) -> usize {
        1 + p.children.iter().map(depth).max().unwrap_or(0)
    }

    fn count(p: &Part) -> usize {
        1 + p.children.iter().map(count).sum::<usize>()
    }

    /// The structural promises of the module docs.
    fn check_part(p: &Part, lo: u64, hi: u64) {
        assert!(
            lo <= p.header_start && p.header_start <= p.body_start,
            "{p:?}"
        );
        assert!(p.body_start <= p.end && p.end <= hi, "{p:?}");
        assert_eq!(p.size, p.end - p.body_start);
        if p.content_type == "multipart" {
            assert!(!p.children.is_empty(), "{p:?}");
        }
        if p.content_type == "message" && matches!(p.subtype.as_str(), "rfc822" | "global") {
            assert_eq!(p.children.len(), 1, "{p:?}");
        }
        let mut prev = p.body_start;
        for c in &p.children {
            assert!(c.header_start >= prev, "siblings overlap in {p:?}");
            prev = c.end;
            check_part(c, p.body_start, p.end);
        }
    }

    fn check(raw: &[u8], s: &Summary) {
        assert_eq!((s.body.header_start, s.body.end), (0, raw.len() as u64));
        assert_eq!(s.header_size, s.body.body_start);
        check_part(&s.body, 0, raw.len() as u64);
        assert!(s.preview.chars().count() <= PREVIEW_CHARS);
        let json = serde_json::to_string(s).unwrap();
        assert_eq!(&serde_json::from_str::<Summary>(&json).unwrap(), s);
        let strings = s.subject.iter().chain(&s.references).chain(&s.in_reply_to);
        for t in strings.chain([&s.preview, &s.thread_subject]) {
            assert!(!t.chars().any(char::is_control), "{t:?}");
        }
        for a in s.from.iter().chain(&s.to).chain(&s.cc) {
            for t in a.name.iter().chain(&a.address) {
                assert!(!t.chars().any(char::is_control), "{t:?}");
            }
        }
    }

    #[test]
    fn the_torture_corpus() {
        let files = crate::mail::torture_files();
        let mut malformed = 0;
        for f in &files {
            let raw = std::fs::read(f).unwrap();
            let s = summarize(&raw);
            check(&raw, &s);
            malformed += usize::from(s.malformed);
            for n in [
                0,
                1,
                raw.len() / 3,
                raw.len() / 2,
                raw.len().saturating_sub(1),
            ] {
                check(&raw[..n], &summarize(&raw[..n]));
            }
        }
        assert!(
            malformed < files.len() / 4,
            "{malformed} of {} malformed",
            files.len()
        );
    }

    #[test]
    fn every_truncation() {
        for raw in [MIXED, NESTED] {
            for n in 0..=raw.len() {
                check(&raw[..n], &summarize(&raw[..n]));
            }
        }
    }
}
