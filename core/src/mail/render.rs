//! The webmail message view (`GET /v1/mailboxes/{id}/messages/{mid}`) and attachment download
//! (`…/messages/{mid}/attachments/{n}`): decoded headers, the text body, the HTML body made safe
//! to show, and the decoded content of single parts.
//!
//! # Safety of the HTML
//!
//! [`sanitize_html`] runs the HTML through ammonia with an allow-list of tags and attributes:
//! no scripts, style sheets, forms, frames, plugins, `<base>`/`<meta>`/`<link>`, no event
//! handler attributes, links only to `http`, `https`, `mailto` and `tel` (opened in a new tab
//! with `rel="noopener noreferrer"`), no relative URLs. Inline `style` attributes are kept, minus
//! every declaration that could load something or run script (`url(`, `image-set(`,
//! `expression(`, `@import`, `behavior`, `-moz-binding`, `javascript:`, CSS escapes, …). Remote
//! images (`src`, `srcset`, `background`) load only with [`RenderOptions::allow_remote`];
//! `cid:` images are rewritten to the URLs the caller gives; tracking pixels are always removed.
//! The endpoint should still serve the result in a sandboxed frame with a strict CSP.
//!
//! # Robustness
//!
//! Like [`summarize`](super::summary::summarize), everything runs under `catch_unwind`, inputs
//! over `u32::MAX` bytes are not parsed, and parsed messages are torn down through
//! `summary::Flat` so deeply nested `message/rfc822` parts cannot overflow the
//! stack. Bodies are cut at [`MAX_BODY_CHARS`] characters (the HTML before it is sanitised, so
//! the output stays well formed).

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ammonia::{Builder, Url, UrlRelative};
use mail_parser::decoders::html::{html_to_text, text_to_html};
use mail_parser::{Encoding, HeaderName, MessageParser, MimeHeaders, PartType};

use super::summary::Flat;

/// Characters kept of the text body and of the HTML body (the HTML is cut before it is
/// sanitised). 1 Mi characters is far more than any person reads in a message view, and keeps
/// one render to a few MiB of memory and well under a second of CPU.
pub const MAX_BODY_CHARS: usize = 1 << 20;
/// Header fields returned by [`render`].
pub const MAX_HEADERS: usize = 500;
/// Bytes kept of one header value (cut at a character boundary).
pub const MAX_HEADER_VALUE: usize = 8 * 1024;
/// Characters kept of a file name in [`content_disposition`].
const MAX_FILENAME_CHARS: usize = 200;
/// Element nesting (estimated in linear time before parsing) above which HTML is shown as its text
/// rendering: html5ever's tree builder scans the stack of open elements for many start tags, so
/// deep nesting costs time quadratic in the input (100,000 nested `<div>`s take minutes). Real
/// mail nests a few dozen levels.
pub const MAX_HTML_DEPTH: usize = 256;

/// How [`render`] and [`sanitize_html`] treat external and embedded resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Load remote images/resources (http/https) in the HTML; when false they are blocked.
    pub allow_remote: bool,
    /// Content-ID (without angle brackets, as in `Summary.attachments[].content_id`) → URL to use
    /// for `cid:` references.
    pub cid_urls: Vec<(String, String)>,
}

/// A message prepared for display.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// Every header field of the top-level message, decoded (RFC 2047), in order; at most
    /// [`MAX_HEADERS`] fields, values cut at [`MAX_HEADER_VALUE`] bytes, control characters
    /// replaced by spaces.
    pub headers: Vec<(String, String)>,
    /// The text body: the text parts joined by a line break; when there is only HTML, a text
    /// rendering of it. `None` when the message has no body.
    pub text: Option<String>,
    /// The HTML body, sanitised by [`sanitize_html`]; `None` when the message has no HTML part.
    pub html: Option<String>,
    /// Something remote was removed because [`RenderOptions::allow_remote`] was false.
    pub remote_content_blocked: bool,
    /// `text` or `html` was cut at [`MAX_BODY_CHARS`].
    pub truncated: bool,
}

/// The decoded content of one MIME part, for download.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedPart {
    /// `type/subtype`, lower case; text is converted to UTF-8 and says so
    /// (`text/plain; charset=utf-8`). Only token characters, so safe for a header.
    pub content_type: String,
    /// The part's file name, decoded, without control characters.
    pub filename: Option<String>,
    /// The content with the transfer encoding removed.
    pub data: Vec<u8>,
}

/// Renders a stored message for the message view. Never panics; any bytes give a result (input
/// that cannot be parsed at all comes back as lossy text).
pub fn render(raw: &[u8], opts: &RenderOptions) -> Rendered {
    // mail-parser stores offsets as u32; past that they would wrap.
    if u32::try_from(raw.len()).is_err() {
        return fallback(raw);
    }
    catch_unwind(AssertUnwindSafe(|| render_parsed(raw, opts))).unwrap_or_else(|_| fallback(raw))
}

fn render_parsed(raw: &[u8], opts: &RenderOptions) -> Rendered {
    let headers = header_fields(raw);
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Rendered {
            headers,
            ..fallback(raw)
        };
    };
    let msg = Flat(msg);
    let m = &msg.0;
    let mut out = Rendered {
        headers,
        ..Rendered::default()
    };
    if !m.text_body.is_empty() {
        let parts = (0..m.text_body.len()).filter_map(|i| m.body_text(i));
        let (text, cut) = join_capped(parts, "\n");
        out.text = Some(text);
        out.truncated |= cut;
    }
    let has_html = m.html_body.iter().any(|i| {
        m.parts
            .get(*i as usize)
            .is_some_and(|p| matches!(p.body, PartType::Html(_)))
    });
    if has_html {
        let parts = (0..m.html_body.len()).filter_map(|i| m.body_html(i));
        let (html, cut) = join_capped(parts, "\n");
        let (clean, blocked) = sanitize_html(&html, opts);
        out.html = Some(clean);
        out.remote_content_blocked = blocked;
        out.truncated |= cut;
    }
    out
}

/// The input as lossy text, for what could not be parsed.
fn fallback(raw: &[u8]) -> Rendered {
    // Four bytes per character at most, so this is enough for MAX_BODY_CHARS characters.
    let head = raw.get(..MAX_BODY_CHARS * 4).unwrap_or(raw);
    let (text, cut) = cap_chars(String::from_utf8_lossy(head).into_owned());
    Rendered {
        text: (!text.is_empty()).then_some(text),
        truncated: cut || head.len() < raw.len(),
        ..Rendered::default()
    }
}

/// Joins `parts` with `sep`, stopping at [`MAX_BODY_CHARS`] characters.
fn join_capped<'a>(parts: impl Iterator<Item = Cow<'a, str>>, sep: &str) -> (String, bool) {
    let mut out = String::new();
    for (i, p) in parts.enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(&p);
        if out.len() > MAX_BODY_CHARS {
            // Bytes >= characters, so more may follow only if the characters are over too.
            break;
        }
    }
    cap_chars(out)
}

fn cap_chars(mut s: String) -> (String, bool) {
    match s.char_indices().nth(MAX_BODY_CHARS) {
        Some((at, _)) => {
            s.truncate(at);
            (s, true)
        }
        None => (s, false),
    }
}

/// The top-level header fields, every value decoded as unstructured text (RFC 2047).
fn header_fields(raw: &[u8]) -> Vec<(String, String)> {
    // A non-empty header map makes every field go through the default (text) parser.
    let parser = MessageParser::new()
        .default_header_text()
        .header_text(HeaderName::Subject);
    let Some(msg) = parser.parse_headers(raw) else {
        return Vec::new();
    };
    let msg = Flat(msg);
    let Some(root) = msg.0.parts.first() else {
        return Vec::new();
    };
    root.headers
        .iter()
        .filter(|h| is_field_name(h.name()))
        .take(MAX_HEADERS)
        .map(|h| {
            let value = match h.value().as_text() {
                Some(t) => Cow::Borrowed(t),
                None => {
                    let (a, b) = (h.offset_start() as usize, h.offset_end() as usize);
                    String::from_utf8_lossy(raw.get(a..b).unwrap_or(&[]))
                }
            };
            (h.name().to_string(), cap_bytes(&no_controls(value.trim())))
        })
        .collect()
}

/// Whether mail-parser's header name is a real RFC 5322 field name (it also reports lines
/// without a colon as headers).
fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

/// NUL removed, other control characters (CR, LF, tab, …) turned into spaces.
fn no_controls(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '\0')
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn cap_bytes(s: &str) -> String {
    let mut at = s.len().min(MAX_HEADER_VALUE);
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    s.get(..at).unwrap_or("").to_string()
}

/// The decoded content of one part, given the part's `header_start`, `body_start`, `end`
/// offsets from the Summary (offsets into `raw`; `body_start` is not needed). `None` when the
/// offsets do not fit `raw` or the part cannot be decoded. For `message/rfc822` parts the
/// enclosed bytes are returned as they are.
pub fn decode_part(raw: &[u8], header_start: usize, end: usize) -> Option<DecodedPart> {
    let slice = raw.get(header_start..end)?;
    if u32::try_from(slice.len()).is_err() {
        return None;
    }
    catch_unwind(AssertUnwindSafe(|| decode_slice(slice))).ok()?
}

fn decode_slice(slice: &[u8]) -> Option<DecodedPart> {
    let Some(msg) = MessageParser::default().parse(slice) else {
        // No header at all: RFC 2045's default type, the body after the blank line.
        let body = slice
            .strip_prefix(b"\r\n")
            .or_else(|| slice.strip_prefix(b"\n"))
            .unwrap_or(slice);
        return Some(DecodedPart {
            content_type: "text/plain; charset=us-ascii".into(),
            filename: None,
            data: body.to_vec(),
        });
    };
    let msg = Flat(msg);
    let p = msg.0.parts.first()?;
    let declared = p.content_type().and_then(|ct| {
        let t = ct.ctype().trim().to_ascii_lowercase();
        let s = ct.subtype()?.trim().to_ascii_lowercase();
        let token = |x: &str| {
            !x.is_empty()
                && x.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
        };
        (token(&t) && token(&s)).then(|| format!("{t}/{s}"))
    });
    let text_type = |default: &str| match declared.as_deref() {
        Some(d) if d.starts_with("text/") => format!("{d}; charset=utf-8"),
        _ => format!("{default}; charset=utf-8"),
    };
    let body_bytes = || {
        let (a, b) = (p.raw_body_offset() as usize, p.raw_end_offset() as usize);
        slice.get(a..b.max(a)).unwrap_or(&[]).to_vec()
    };
    let (content_type, data) = match &p.body {
        PartType::Text(t) => (text_type("text/plain"), t.as_bytes().to_vec()),
        PartType::Html(h) => (text_type("text/html"), h.as_bytes().to_vec()),
        PartType::Binary(b) | PartType::InlineBinary(b) => (
            declared.unwrap_or_else(|| "application/octet-stream".into()),
            b.to_vec(),
        ),
        PartType::Message(inner) => {
            let data = if p.encoding == Encoding::None {
                body_bytes()
            } else {
                inner.raw_message().to_vec()
            };
            (declared.unwrap_or_else(|| "message/rfc822".into()), data)
        }
        PartType::Multipart(_) => (
            declared.unwrap_or_else(|| "multipart/mixed".into()),
            body_bytes(),
        ),
    };
    let filename = p
        .attachment_name()
        .map(|n| no_controls(n).trim().to_string())
        .filter(|n| !n.is_empty());
    Some(DecodedPart {
        content_type,
        filename,
        data,
    })
}

/// A safe Content-Disposition value: `attachment; filename="<ascii fallback>";
/// filename*=UTF-8''<pct-encoded>`. Only the last path component of the name is used; quotes,
/// backslashes, control and invisible/bidi characters cannot get through (the fallback has
/// only printable ASCII other than `"` `\` `/` `%` `;`); a missing or empty name becomes
/// `attachment`.
pub fn content_disposition(filename: Option<&str>) -> String {
    let base = filename
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("");
    let name: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .take(MAX_FILENAME_CHARS)
        .collect();
    let name = name.trim().trim_matches('.').trim();
    let name = if name.is_empty() { "attachment" } else { name };
    let ascii: String = name
        .chars()
        .map(|c| match c {
            ' ' | '!' | '#' | '$' | '&' | '\'' | '(' | ')' | '+' | ',' | '-' | '.' | '=' | '@'
            | '[' | ']' | '^' | '_' | '`' | '{' | '}' | '~' => c,
            c if c.is_ascii_alphanumeric() => c,
            _ => '_',
        })
        .collect();
    let mut pct = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            pct.push(char::from(b));
        } else {
            pct.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{pct}")
}

/// Zero-width and bidirectional formatting characters (used to disguise file extensions).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{FEFF}' | '\u{00AD}')
}

/// Sanitises an HTML body for display (see the module docs). Returns the safe HTML and whether
/// remote content was blocked because `opts.allow_remote` was false.
pub fn sanitize_html(html: &str, opts: &RenderOptions) -> (String, bool) {
    let blocked = Arc::new(AtomicBool::new(false));
    let policy = Policy {
        allow_remote: opts.allow_remote,
        cids: opts.cid_urls.iter().cloned().collect(),
        blocked: Arc::clone(&blocked),
    };
    let shallow;
    let html = if too_deep(html) {
        shallow = text_to_html(&html_to_text(html));
        shallow.as_str()
    } else {
        html
    };
    // Removed with everything in them (other tags not allowed are removed, their text kept).
    const DROP_WITH_CONTENT: &[&str] = &[
        "script",
        "style",
        "title",
        "noscript",
        "template",
        "iframe",
        "frame",
        "frameset",
        "noframes",
        "object",
        "embed",
        "applet",
        "textarea",
        "select",
        "svg",
        "math",
        "xmp",
        "noembed",
        "plaintext",
    ];
    let mut b = Builder::default();
    b.add_tags(["font", "tfoot", "big", "address", "section"])
        .add_clean_content_tags(DROP_WITH_CONTENT)
        .add_generic_attributes([
            "style", "dir", "align", "valign", "bgcolor", "width", "height", "border",
        ])
        .add_tag_attributes("img", ["srcset", "hspace", "vspace"])
        .add_tag_attributes("font", ["color", "face", "size"])
        .add_tag_attributes("table", ["background", "cellpadding", "cellspacing"])
        .add_tag_attributes("td", ["background", "nowrap"])
        .add_tag_attributes("th", ["background", "nowrap"])
        .add_tag_attributes("tr", ["background"])
        .add_tag_attributes("div", ["background"])
        .url_schemes(["http", "https", "mailto", "tel", "cid", "data"].into())
        // Relative URLs pass ammonia and are then dropped by the policy (only rewritten `cid:`
        // URLs, which come from the caller, may be relative).
        .url_relative(UrlRelative::PassThrough)
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .set_tag_attribute_value("area", "target", "_blank")
        .strip_comments(true)
        .attribute_filter(move |el, attr, value| policy.filter(el, attr, value));
    let cleaned = b.clean(html).to_string();
    let out = drop_tracking_pixels(&cleaned);
    (out, blocked.load(Ordering::Relaxed))
}

/// Whether `html` nests elements deeper than [`MAX_HTML_DEPTH`], estimated in linear time the
/// way the HTML parser would: void elements and elements whose start tag closes an open one of
/// the same kind (`p`, `li`, `td`, …) do not count, and an end tag closes up to the nearest open
/// element of its name (a stray end tag closes nothing).
fn too_deep(html: &str) -> bool {
    const FLAT: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr", "param", "keygen", "p", "li", "dt", "dd", "tr", "td", "th", "option",
        "optgroup", "rb", "rt", "rp", "rtc", "thead", "tbody", "tfoot", "colgroup", "caption",
        "html", "head", "body",
    ];
    let b = html.as_bytes();
    let mut open: Vec<&[u8]> = Vec::new();
    let mut i = 0;
    while let Some(off) = b.get(i..).and_then(|r| r.iter().position(|c| *c == b'<')) {
        let start = i + off + 1;
        let close = b.get(start) == Some(&b'/');
        let name_start = start + usize::from(close);
        let name_len = b
            .get(name_start..)
            .unwrap_or(&[])
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-')
            .count();
        let name = b.get(name_start..name_start + name_len).unwrap_or(&[]);
        let first_is_letter = name.first().is_some_and(u8::is_ascii_alphabetic);
        i = name_start + name_len;
        if !first_is_letter || FLAT.iter().any(|f| f.as_bytes().eq_ignore_ascii_case(name)) {
            continue;
        }
        if close {
            if let Some(at) = open.iter().rposition(|o| o.eq_ignore_ascii_case(name)) {
                open.truncate(at);
            }
        } else {
            open.push(name);
            if open.len() > MAX_HTML_DEPTH {
                return true;
            }
        }
    }
    false
}

/// The per-attribute rules ammonia's allow-list cannot express.
struct Policy {
    allow_remote: bool,
    cids: HashMap<String, String>,
    blocked: Arc<AtomicBool>,
}

impl Policy {
    fn filter<'u>(&self, el: &str, attr: &str, value: &'u str) -> Option<Cow<'u, str>> {
        match (el, attr) {
            (_, a) if a.starts_with("on") => None,
            ("a" | "area", "href") => match scheme(value).as_deref() {
                Some("http" | "https" | "mailto" | "tel") => Some(value.into()),
                _ => None,
            },
            ("img", "src") | (_, "background") => self.image_url(value, el == "img"),
            ("img", "srcset") => {
                let is_remote = |c: &str| {
                    let url = c.split_whitespace().next().unwrap_or("");
                    matches!(scheme(url).as_deref(), Some("http" | "https"))
                };
                let remote = value.split(',').any(is_remote);
                let all_remote = value.split(',').all(is_remote);
                if remote && !self.allow_remote {
                    self.blocked.store(true, Ordering::Relaxed);
                }
                (self.allow_remote && all_remote).then(|| value.into())
            }
            (_, "style") => {
                let (kept, loader_removed) = filter_style(value);
                if loader_removed && !self.allow_remote {
                    self.blocked.store(true, Ordering::Relaxed);
                }
                (!kept.is_empty()).then(|| kept.into())
            }
            (_, "src" | "href" | "cite" | "action" | "formaction" | "data" | "poster") => None,
            _ => Some(value.into()),
        }
    }

    /// An image URL: remote only when allowed, `cid:` mapped, `data:` raster images in `<img>`.
    fn image_url<'u>(&self, value: &'u str, img: bool) -> Option<Cow<'u, str>> {
        match scheme(value).as_deref() {
            Some("http" | "https") => {
                if !self.allow_remote {
                    self.blocked.store(true, Ordering::Relaxed);
                }
                self.allow_remote.then(|| value.into())
            }
            Some("cid") => {
                let id = value.trim().get(4..).unwrap_or("").trim();
                let id = id.trim_start_matches('<').trim_end_matches('>');
                self.cids
                    .get(id)
                    .or_else(|| self.cids.get(&percent_decode(id)))
                    .map(|u| Cow::Owned(u.clone()))
            }
            Some("data") if img && is_raster_data_url(value) => Some(value.into()),
            _ => None,
        }
    }
}

/// The lower-case scheme of an absolute URL, as browsers parse it; `None` for relative or
/// unparseable URLs.
fn scheme(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .map(|u| u.scheme().to_ascii_lowercase())
}

fn is_raster_data_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    let Some(meta) = lower
        .strip_prefix("data:")
        .and_then(|r| r.split(',').next())
    else {
        return false;
    };
    let mut fields = meta.split(';');
    let mime = fields.next().unwrap_or("");
    matches!(
        mime,
        "image/png" | "image/gif" | "image/jpeg" | "image/webp"
    ) && meta.ends_with(";base64")
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Substrings (lower case, white space removed) that make a CSS declaration able to load a
/// resource or run script.
const CSS_BANNED: &[&str] = &[
    "url(",
    "image(",
    "image-set(",
    "cross-fade(",
    "element(",
    "src(",
    "expression(",
    "@import",
    "behavior",
    "behaviour",
    "-moz-binding",
    "javascript:",
    "vbscript:",
];

/// Filters an inline `style` value: declarations containing anything of [`CSS_BANNED`] (checked
/// case-insensitively with white space removed), a backslash (CSS escapes could spell them),
/// a comment, an at-sign or a control character are removed; the others are kept as written.
/// Returns the kept declarations and whether a removed one would have loaded a resource.
fn filter_style(style: &str) -> (String, bool) {
    let mut kept: Vec<&str> = Vec::new();
    let mut loader = false;
    for decl in split_declarations(style) {
        let decl = decl.trim();
        if decl.is_empty() {
            continue;
        }
        let norm: String = decl
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_lowercase();
        let banned = CSS_BANNED.iter().any(|b| norm.contains(b));
        if banned
            || norm.contains('\\')
            || norm.contains("/*")
            || norm.contains('@')
            || norm.chars().any(char::is_control)
        {
            loader |= banned || norm.contains('\\');
            continue;
        }
        kept.push(decl);
    }
    (kept.join("; "), loader)
}

/// Splits on `;` outside quotes and parentheses.
fn split_declarations(style: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut depth, mut quote) = (0, 0usize, None);
    for (i, c) in style.char_indices() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (c, Some(q)) if c == q => quote = None,
            ('(', None) => depth += 1,
            (')', None) => depth = depth.saturating_sub(1),
            (';', None) if depth == 0 => {
                out.push(style.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(style.get(start..).unwrap_or(""));
    out
}

/// One start tag of serialised HTML: byte range, lower-case name and attributes (values still
/// HTML-escaped).
struct Tag<'a> {
    start: usize,
    end: usize,
    name: &'a str,
    attrs: Vec<(&'a str, &'a str)>,
}

/// The tags of HTML as html5ever serialises it: text never has a raw `<`, and every attribute
/// value is double-quoted with `"` escaped, so tags can be found by scanning.
fn tags(html: &str) -> Vec<Tag<'_>> {
    let mut out = Vec::new();
    let b = html.as_bytes();
    let mut i = 0;
    while let Some(off) = b.get(i..).and_then(|r| r.iter().position(|c| *c == b'<')) {
        let start = i + off;
        let mut j = start + 1;
        let mut in_quote = false;
        while let Some(&c) = b.get(j) {
            match c {
                b'"' => in_quote = !in_quote,
                b'>' if !in_quote => break,
                _ => {}
            }
            j += 1;
        }
        let end = (j + 1).min(b.len());
        let inner = html.get(start + 1..j.min(b.len())).unwrap_or("");
        let name_len = inner
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(inner.len());
        let (name, mut rest) = inner.split_at(name_len);
        let mut attrs = Vec::new();
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            let Some(eq) = rest.find(['=', ' ']) else {
                if !rest.is_empty() {
                    attrs.push((rest, ""));
                }
                break;
            };
            let (an, after) = rest.split_at(eq);
            let after = after.strip_prefix('=').unwrap_or(after);
            if let Some(v) = after.strip_prefix('"') {
                let close = v.find('"').unwrap_or(v.len());
                attrs.push((an, v.get(..close).unwrap_or("")));
                rest = v.get(close + 1..).unwrap_or("");
            } else {
                attrs.push((an, ""));
                rest = after;
            }
        }
        out.push(Tag {
            start,
            end,
            name,
            attrs,
        });
        i = end;
    }
    out
}

/// Removes `<img>` elements that are tracking pixels: at most 2×2 pixels, or hidden.
fn drop_tracking_pixels(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut last = 0;
    for t in tags(html) {
        if t.name.eq_ignore_ascii_case("img") && is_tracking_pixel(&t.attrs) {
            out.push_str(html.get(last..t.start).unwrap_or(""));
            last = t.end;
        }
    }
    out.push_str(html.get(last..).unwrap_or(""));
    out
}

fn is_tracking_pixel(attrs: &[(&str, &str)]) -> bool {
    let (mut w, mut h, mut hidden) = (None, None, false);
    for (name, value) in attrs {
        match *name {
            "width" => w = pixels(value),
            "height" => h = pixels(value),
            "style" => {
                for decl in split_declarations(value) {
                    let norm: String = decl
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect::<String>()
                        .to_lowercase();
                    hidden |=
                        norm.starts_with("display:none") || norm.starts_with("visibility:hidden");
                    if let Some(v) = norm.strip_prefix("width:") {
                        w = pixels(v).or(w);
                    } else if let Some(v) = norm.strip_prefix("height:") {
                        h = pixels(v).or(h);
                    }
                }
            }
            _ => {}
        }
    }
    hidden || matches!((w, h), (Some(w), Some(h)) if w <= 2 && h <= 2)
}

/// `1`, `0px`, `2.0px` → pixels; percentages and other units → `None`.
fn pixels(v: &str) -> Option<u64> {
    let v = v.trim().trim_end_matches("!important").trim();
    let v = v.strip_suffix("px").unwrap_or(v);
    v.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| x.ceil() as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::mail::summary::summarize;

    fn clean(html: &str) -> (String, bool) {
        sanitize_html(html, &RenderOptions::default())
    }

    fn remote() -> RenderOptions {
        RenderOptions {
            allow_remote: true,
            ..RenderOptions::default()
        }
    }

    /// No `<script` and no `on…` attribute in any tag.
    fn assert_inert(html: &str) {
        assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
        for t in tags(html) {
            for (a, _) in &t.attrs {
                assert!(!a.to_ascii_lowercase().starts_with("on"), "{a} in {html}");
            }
        }
    }

    #[test]
    fn script_is_removed_with_content() {
        let (out, _) = clean(
            "<p>hi</p><script>alert(1)</script><SCRIPT src=x.js></SCRIPT>\
             <svg><script>alert(2)</script></svg><noscript><p>ns</p></noscript>",
        );
        assert_inert(&out);
        assert!(out.contains("<p>hi</p>") && !out.contains("alert") && !out.contains("x.js"));
    }

    #[test]
    fn event_handlers_are_removed() {
        let (out, _) =
            clean(r#"<p onclick="steal()" OnMouseOver=x>t</p><img src=x onerror=alert(1) alt=a>"#);
        assert_inert(&out);
        assert!(!out.contains("steal") && !out.contains("alert") && out.contains(">t</p>"));
    }

    #[test]
    fn forms_frames_and_document_tags_are_removed() {
        let (out, _) = clean(
            r#"<form action="https://evil/f"><input name=p value=v><button>Go</button>
            <textarea>secret</textarea><select><option>o</option></select></form>
            <iframe src="https://evil/i"></iframe><object data="https://evil/o"></object>
            <embed src="https://evil/e"><base href="https://evil/"><meta http-equiv=refresh
            content="0;url=https://evil/m"><p>kept</p>"#,
        );
        for bad in [
            "<form",
            "<input",
            "<button",
            "<textarea",
            "<select",
            "<iframe",
            "<object",
            "<embed",
            "<base",
            "<meta",
            "evil",
            "secret",
        ] {
            assert!(!out.contains(bad), "{bad} in {out}");
        }
        assert!(out.contains("<p>kept</p>"));
    }

    #[test]
    fn dangerous_and_relative_link_urls_are_removed() {
        for href in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "jav&#x09;ascript:alert(1)",
            "vbscript:msgbox(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "/v1/admin/delete",
            "file:///etc/passwd",
        ] {
            let (out, _) = clean(&format!(r#"<a href="{href}">x</a>"#));
            assert!(!out.contains("href"), "{href}: {out}");
        }
        for href in [
            "https://ex.com/a?b=1",
            "http://ex.com/",
            "mailto:a@b.c",
            "tel:+4912",
        ] {
            let (out, _) = clean(&format!(r#"<a href="{href}">x</a>"#));
            assert!(
                out.contains(&format!("href=\"{}\"", href.replace('&', "&amp;"))),
                "{out}"
            );
        }
        let (out, _) = clean(r#"<img src="data:image/svg+xml;base64,PHN2Zz4=">"#);
        assert!(!out.contains("data:"), "{out}");
        let png = "data:image/png;base64,iVBORw0KGgo=";
        assert!(clean(&format!(r#"<img src="{png}">"#)).0.contains(png));
    }

    #[test]
    fn external_css_is_removed() {
        let (out, _) = clean(
            "<link rel=stylesheet href=\"https://evil/x.css\"><style>@import url(https://evil/y.css);\
             p{background:url(https://evil/z)}</style><p>x</p>",
        );
        assert_eq!(out, "<p>x</p>");
    }

    #[test]
    fn style_attribute_keeps_safe_declarations_only() {
        let (out, blocked) = clean(
            r#"<p style="color: red; background: URL(https://evil/a.png); width: expression(alert(1));
            font-family: 'A;B', serif; background-image: u\72 l(https://evil/b); behavior: url(x.htc);
            -moz-binding: url(x); @import 'https://evil/c'; list-style: image-set('https://evil/d' 1x);
            x: java/**/script:y; margin: 0 auto">t</p>"#,
        );
        assert!(
            out.contains("color: red") && out.contains("font-family: 'A;B', serif"),
            "{out}"
        );
        assert!(out.contains("margin: 0 auto"), "{out}");
        for bad in [
            "evil",
            "expression",
            "behavior",
            "binding",
            "\\",
            "import",
            "script",
        ] {
            assert!(!out.to_lowercase().contains(bad), "{bad} in {out}");
        }
        assert!(blocked);
        assert_eq!(filter_style("a: b;;c:d").0, "a: b; c:d");
    }

    #[test]
    fn remote_images_are_blocked_unless_allowed() {
        let html = r#"<img src="https://img.example/a.png" alt="Logo" width="300" height="80">
            <table background="http://img.example/bg.png"><tr><td>x</td></tr></table>
            <img srcset="https://img.example/b.png 2x" alt="b">"#;
        let (out, blocked) = clean(html);
        assert!(blocked);
        assert!(!out.contains("img.example"), "{out}");
        assert!(out.contains("alt=\"Logo\""));
        let (out, blocked) = sanitize_html(html, &remote());
        assert!(!blocked);
        for url in ["a.png", "bg.png", "b.png 2x"] {
            assert!(out.contains(&format!("img.example/{url}")), "{url}: {out}");
        }
        let (_, blocked) = clean("<p>no images</p><a href=\"https://x.example/\">link</a>");
        assert!(!blocked);
    }

    #[test]
    fn tracking_pixels_are_removed_always() {
        for img in [
            r#"<img src="https://t.example/p.gif" width="1" height="1">"#,
            r#"<img src="https://t.example/p.gif" width="0" height="0" alt="">"#,
            r#"<img src="https://t.example/p.gif" style="width:1px;height:1px">"#,
            r#"<img src="https://t.example/p.gif" style="display: none">"#,
        ] {
            let (out, _) = sanitize_html(&format!("<p>a</p>{img}<p>b</p>"), &remote());
            assert_eq!(out, "<p>a</p><p>b</p>", "{img}");
        }
        let (out, _) = sanitize_html(
            r#"<img src="https://t.example/banner.png" width="600" height="2">"#,
            &remote(),
        );
        assert!(out.contains("banner.png"), "{out}");
    }

    #[test]
    fn cid_images_are_rewritten() {
        let opts = RenderOptions {
            allow_remote: false,
            cid_urls: vec![(
                "logo@x".into(),
                "/v1/mailboxes/m/messages/7/attachments/2".into(),
            )],
        };
        let (out, blocked) = sanitize_html(
            r#"<img src="cid:logo@x" alt="l"><img src="CID:logo%40x"><img src="cid:nope@x" alt="n"><a href="cid:logo@x">a</a>"#,
            &opts,
        );
        assert_eq!(
            out.matches(r#"src="/v1/mailboxes/m/messages/7/attachments/2""#)
                .count(),
            2,
            "{out}"
        );
        assert!(!out.contains("nope") && !out.contains("href"), "{out}");
        assert!(!blocked);
    }

    #[test]
    fn links_open_safely() {
        let (out, _) = clean(r#"<a href="https://example.com/" target="_self" rel="opener">x</a>"#);
        assert!(out.contains(r#"rel="noopener noreferrer""#), "{out}");
        assert!(
            out.contains(r#"target="_blank""#) && !out.contains("_self"),
            "{out}"
        );
        assert!(!out.contains("\"opener\""), "{out}");
    }

    fn text_of(raw: &[u8]) -> String {
        render(raw, &RenderOptions::default()).text.unwrap()
    }

    #[test]
    fn charsets_decode() {
        let latin1 = b"Content-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9 cr=E8me=\n br=FBl=E9e\n";
        assert_eq!(text_of(latin1).trim_end(), "café crème brûlée");
        let utf8 = b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nR3LDvMOfZSBhdXMgS8O2bG4g4oCUIOadseS6rA==\n";
        assert_eq!(text_of(utf8), "Grüße aus Köln — 東京");
        let mut sjis =
            b"Content-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: 8bit\n\n"
                .to_vec();
        sjis.extend_from_slice(&[
            0x93, 0xfa, 0x96, 0x7b, 0x8c, 0xea, 0x83, 0x65, 0x83, 0x58, 0x83, 0x67, b'\n',
        ]);
        assert_eq!(text_of(&sjis).trim_end(), "日本語テスト");
        let jis = b"Subject: =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=\nContent-Type: text/plain; charset=iso-2022-jp\n\n\x1b$BF|K\\8l\x1b(B\n";
        let r = render(jis, &RenderOptions::default());
        assert_eq!(r.text.as_deref().map(str::trim_end), Some("日本語"));
        assert_eq!(r.headers[0], ("Subject".into(), "日本語".into()));
    }

    #[test]
    fn bogus_charset_degrades() {
        for raw in [
            &b"Content-Type: text/plain; charset=x-no-such-charset\n\ncaf\xe9 ok\n"[..],
            b"Content-Type: text/html; charset=\"\"\n\n<p>caf\xe9 \xff\xfe ok</p>\n",
            b"Subject: =?x-bogus?q?caf=E9?= =?utf-8?b?!!!?=\n\n\xc3\x28\n",
        ] {
            let r = render(raw, &RenderOptions::default());
            assert!(r.text.is_some() || r.html.is_some(), "{r:?}");
            let all = format!("{:?}{:?}", r.text, r.html);
            assert!(!all.contains('\0'));
        }
        assert!(
            text_of(b"Content-Type: text/plain; charset=x-no-such-charset\n\ncaf\xe9 ok\n")
                .contains("ok")
        );
    }

    #[test]
    fn text_only_and_html_only() {
        let r = render(
            b"Subject: t\n\nJust <b>text</b>\n",
            &RenderOptions::default(),
        );
        assert_eq!(r.text.as_deref(), Some("Just <b>text</b>\n"));
        assert_eq!((r.html, r.truncated), (None, false));

        let r = render(
            b"Content-Type: text/html\n\n<html><head><title>T</title></head><body><p>Hello <i>you</i></p><script>x()</script></body></html>\n",
            &RenderOptions::default(),
        );
        let text = r.text.unwrap();
        assert!(
            text.contains("Hello") && text.contains("you") && !text.contains('<'),
            "{text}"
        );
        let html = r.html.unwrap();
        assert!(
            html.contains("<p>Hello <i>you</i></p>") && !html.contains("x()"),
            "{html}"
        );
        assert_eq!(
            render(b"Subject: only a header\n", &RenderOptions::default()).html,
            None
        );
    }

    #[test]
    fn headers_are_decoded_ordered_and_capped() {
        let mut raw = String::from(
            "From: =?utf-8?q?Ana_M=C3=BCller?= <ana@example.com>\r\nSubject: =?utf-8?b?SMOpbGxv?=\r\n  folded\r\nX-Long: ",
        );
        raw.push_str(&"é".repeat(10_000));
        raw.push_str("\r\n");
        for i in 0..600 {
            raw.push_str(&format!("X-N: {i}\r\n"));
        }
        raw.push_str("\r\nbody\r\n");
        let r = render(raw.as_bytes(), &RenderOptions::default());
        assert_eq!(r.headers.len(), MAX_HEADERS);
        assert_eq!(
            r.headers[0],
            ("From".into(), "Ana Müller <ana@example.com>".into())
        );
        assert_eq!(r.headers[1].1, "Héllo folded");
        assert!(r.headers[2].1.len() <= MAX_HEADER_VALUE && r.headers[2].1.len() > 8000);
        assert_eq!(r.headers[3], ("X-N".into(), "0".into()));
    }

    #[test]
    fn bodies_are_truncated() {
        let mut raw = b"Content-Type: text/html\n\n".to_vec();
        raw.extend(std::iter::repeat_n(b'a', MAX_BODY_CHARS + 10));
        let r = render(&raw, &RenderOptions::default());
        assert!(r.truncated);
        assert_eq!(r.html.unwrap().chars().count(), MAX_BODY_CHARS);
        assert_eq!(r.text.unwrap().chars().count(), MAX_BODY_CHARS);
    }

    const MIXED: &[u8] = b"Subject: m\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b1\r\nContent-Type: application/pdf; name=\"r\xc3\xa9sum\xc3\xa9.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKAP8BgA==\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b1--\r\n";

    #[test]
    fn decode_part_returns_original_bytes() {
        let s = summarize(MIXED);
        let (pdf, msg) = (&s.body.children[1], &s.body.children[2]);
        let d = decode_part(MIXED, pdf.header_start as usize, pdf.end as usize).unwrap();
        assert_eq!(d.data, b"%PDF-1.4\n\x00\xff\x01\x80");
        assert_eq!(d.content_type, "application/pdf");
        assert_eq!(d.filename.as_deref(), Some("résumé.pdf"));
        let d = decode_part(MIXED, msg.header_start as usize, msg.end as usize).unwrap();
        assert_eq!(d.data, b"Subject: inner\r\n\r\ninner body");
        assert_eq!(d.content_type, "message/rfc822");
        let text = &s.body.children[0];
        let d = decode_part(MIXED, text.header_start as usize, text.end as usize).unwrap();
        assert_eq!(
            (d.content_type.as_str(), &d.data[..]),
            ("text/plain; charset=utf-8", &b"hi"[..])
        );
        assert!(decode_part(MIXED, 10, MIXED.len() + 1).is_none());
        assert!(decode_part(MIXED, 10, 5).is_none());
    }

    #[test]
    fn content_disposition_is_safe() {
        let cd = |n| content_disposition(n);
        assert_eq!(
            cd(Some("a\"b\r\n.txt")),
            "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt"
        );
        assert_eq!(
            cd(Some("../../etc/passwd")),
            "attachment; filename=\"passwd\"; filename*=UTF-8''passwd"
        );
        assert_eq!(
            cd(Some("résumé.pdf")),
            "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
        );
        let plain = "attachment; filename=\"attachment\"; filename*=UTF-8''attachment";
        for n in [
            None,
            Some(""),
            Some("  "),
            Some("dir/"),
            Some(".."),
            Some("\u{202e}"),
        ] {
            assert_eq!(cd(n), plain, "{n:?}");
        }
        assert_eq!(
            cd(Some("C:\\x\\evil\u{202e}fdp.exe")),
            "attachment; filename=\"evilfdp.exe\"; filename*=UTF-8''evilfdp.exe"
        );
        for n in [
            "a\\b;c%d",
            "x\ty\u{7f}z",
            "\"; filename=evil.exe",
            "名前.txt",
        ] {
            let v = cd(Some(n));
            let quoted = v.split('"').nth(1).unwrap();
            assert!(
                quoted
                    .bytes()
                    .all(|b| (32..127).contains(&b) && !b"\"\\/%;".contains(&b)),
                "{v}"
            );
            assert_eq!(v.matches('"').count(), 2, "{v}");
            assert!(!v.contains(['\r', '\n', '\t', '\\']), "{v}");
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let mut raw = b"Subject: x\n".to_vec();
        for _ in 0..20_000 {
            raw.extend_from_slice(b"Content-Type: message/rfc822\n\n");
        }
        raw.extend_from_slice(b"Subject: y\nContent-Type: text/html\n\n<p>hi</p>\n");
        let r = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let r = render(&raw, &RenderOptions::default());
                let _ = decode_part(&raw, 0, raw.len());
                r
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(r.headers[0], ("Subject".into(), "x".into()));
    }

    #[test]
    fn deeply_nested_html_degrades_to_text_quickly() {
        let deep = format!(
            "{}deep text{}",
            "<div>".repeat(40_000),
            "</span>".repeat(1000)
        );
        let start = std::time::Instant::now();
        let html = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || clean(&deep).0)
            .unwrap()
            .join()
            .unwrap();
        // Unguarded, this takes about a minute in a debug build (quadratic); guarded, milliseconds.
        assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
        assert!(
            html.contains("deep text") && !html.contains("<div>"),
            "{html}"
        );
        // Stray end tags do not hide nesting, balanced nesting and unclosed <p>s are fine.
        assert!(too_deep(&"<div></span>".repeat(MAX_HTML_DEPTH + 1)));
        assert!(!too_deep(&"<div><p>x</div>".repeat(100_000)));
        let ok = format!("{}x{}", "<div>".repeat(200), "</div>".repeat(200));
        assert_eq!(clean(&ok).0, ok);
    }

    #[test]
    fn the_torture_corpus() {
        let files = crate::mail::torture_files();
        let mut with_html = 0;
        for f in &files {
            let raw = std::fs::read(f).unwrap();
            for opts in [RenderOptions::default(), remote()] {
                let r = render(&raw, &opts);
                assert!(r.headers.len() <= MAX_HEADERS);
                if let Some(html) = &r.html {
                    assert_inert(html);
                    with_html += 1;
                }
            }
            // Every part of the summary decodes (or at least returns).
            let s = summarize(&raw);
            let mut parts = vec![&s.body];
            while let Some(p) = parts.pop() {
                let d = decode_part(&raw, p.header_start as usize, p.end as usize);
                assert!(d.is_some(), "{f:?} part {}", p.part_id);
                parts.extend(&p.children);
            }
        }
        assert!(with_html > 20, "{with_html} renders with HTML");
    }
}
