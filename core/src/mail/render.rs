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
use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{Encoding, HeaderName, MessageParser, MimeHeaders, PartType};

use super::summary::Flat;

mod html;

pub use html::sanitize_html;

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::html::tests::{assert_inert, remote};
    use super::*;
    use crate::mail::summary::summarize;

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
