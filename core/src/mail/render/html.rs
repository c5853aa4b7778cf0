//! Making an HTML body safe to show (see the safety notes of [`super`]): ammonia with an
//! allow-list, inline styles filtered, remote content gated, `cid:` images rewritten, tracking
//! pixels removed, and a nesting guard that degrades absurdly deep markup to text.

use super::{MAX_HTML_DEPTH, RenderOptions};
use ammonia::{Builder, Url, UrlRelative};
use mail_parser::decoders::html::{html_to_text, text_to_html};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
pub(super) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn clean(html: &str) -> (String, bool) {
        sanitize_html(html, &RenderOptions::default())
    }

    pub(in crate::mail::render) fn remote() -> RenderOptions {
        RenderOptions {
            allow_remote: true,
            ..RenderOptions::default()
        }
    }

    /// No `<script` and no `on…` attribute in any tag.
    pub(in crate::mail::render) fn assert_inert(html: &str) {
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
}
