//! Small, bounded scans of a message's HTML and text: anchors with their shown text, bare
//! URLs, tags, and text hidden from the reader. Not an HTML parser: enough to see what spam
//! does (a link whose text names another site, invisible text), never slower than linear.

use super::facts::{Link, MAX_LINKS};

/// The host of a URL (`http://`, `https://` or `www.` form), lower case, without port or
/// user part; `None` when there is none.
pub fn host_of(url: &str) -> Option<String> {
    let u = url.trim().trim_start_matches(['"', '\'', '<']);
    let lower = u.get(..8.min(u.len()))?.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &u[8..]
    } else if lower.starts_with("http://") {
        &u[7..]
    } else if lower.starts_with("www.") {
        u
    } else {
        return None;
    };
    let end = rest
        .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '>' | '<') || c.is_whitespace())
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| format!("{h}]"))?
    } else {
        host.split(':').next()?.to_string()
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty() && host.len() <= 253).then_some(host)
}

/// Whether `host` is an IP address literal (`1.2.3.4`, `[::1]`, or a bare number).
pub fn is_ip_literal(host: &str) -> bool {
    host.starts_with('[')
        || host.parse::<std::net::IpAddr>().is_ok()
        || (!host.is_empty() && host.chars().all(|c| c.is_ascii_digit()))
}

/// Finds `needle` (lower case ASCII) in `hay` ignoring ASCII case, from `from`.
fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || from >= h.len() {
        return None;
    }
    let first = n[0];
    let mut i = from;
    while i + n.len() <= h.len() {
        if h[i].to_ascii_lowercase() == first && h[i..i + n.len()].eq_ignore_ascii_case(n) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// `at`, or the nearest character boundary of `s` before it.
fn boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Text with tags removed and white space collapsed (entities left as written).
fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => {
                if c.is_whitespace() {
                    if !out.ends_with(' ') && !out.is_empty() {
                        out.push(' ');
                    }
                } else {
                    out.push(c);
                }
            }
            _ => {}
        }
    }
    out.trim().to_string()
}

/// The value of attribute `name` in a tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(p) = find_ci(tag, name, from) {
        from = p + name.len();
        let before = tag[..p].chars().last();
        if !before.is_some_and(char::is_whitespace) {
            continue;
        }
        let rest = tag[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
            _ => rest
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or(""),
        };
        return Some(value.to_string());
    }
    None
}

/// The anchors (`<a href=…>text</a>`) with an http(s) host, at most [`MAX_LINKS`].
pub fn anchors(html: &str) -> Vec<Link> {
    let mut out: Vec<Link> = Vec::new();
    let mut from = 0;
    while out.len() < MAX_LINKS {
        let Some(start) = find_ci(html, "<a", from) else {
            break;
        };
        let Some(tag_end) = html[start..].find('>').map(|e| start + e) else {
            break;
        };
        from = tag_end + 1;
        let tag = &html[start..tag_end];
        if !tag[2..].starts_with(|c: char| c.is_whitespace()) {
            continue;
        }
        let Some(host) = attribute(tag, "href").and_then(|h| host_of(&h)) else {
            continue;
        };
        // The shown text: up to the closing tag, within 2,000 bytes.
        let window = &html[from..boundary(html, from + 2000)];
        let close = find_ci(window, "</a", 0).unwrap_or(window.len());
        let text = strip_tags(&window[..close]);
        out.push(Link {
            host,
            text: (!text.is_empty()).then_some(text),
        });
    }
    out
}

/// Hosts of the bare URLs in text, at most [`MAX_LINKS`], each once.
pub fn bare_urls(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '(' | ')')) {
        if out.len() >= MAX_LINKS {
            break;
        }
        if let Some(h) = host_of(w)
            && h.contains('.')
            && !out.contains(&h)
        {
            out.push(h);
        }
    }
    out
}

/// How many `<tag` elements the HTML has.
pub fn count_tag(html: &str, tag: &str) -> usize {
    let needle = format!("<{tag}");
    let mut n = 0;
    let mut from = 0;
    while let Some(p) = find_ci(html, &needle, from) {
        from = p + needle.len();
        if html[from..].starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/') {
            n += 1;
        }
    }
    n
}

/// Whether the HTML hides text from the reader: an element styled `display:none`,
/// `visibility:hidden`, `font-size:0`/`1px`, or white text, that holds words.
pub fn hidden_text(html: &str) -> bool {
    let mut from = 0;
    while let Some(p) = find_ci(html, "style", from) {
        from = p + 5;
        let Some(tag_end) = html[from..].find('>').map(|e| from + e) else {
            break;
        };
        let style: String = html[from..tag_end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        let hides = style.contains("display:none")
            || style.contains("visibility:hidden")
            || style.contains("font-size:0")
            || style.contains("font-size:1px")
            || style.contains("color:#fff;")
            || style.contains("color:#ffffff");
        if hides {
            let next = html[tag_end + 1..]
                .find('<')
                .map_or(html.len(), |e| tag_end + 1 + e);
            let text = &html[tag_end + 1..next];
            if text.split_whitespace().filter(|w| w.len() > 2).count() >= 3 {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_from_urls() {
        assert_eq!(
            host_of("https://User@WWW.Bank.com:443/x").unwrap(),
            "www.bank.com"
        );
        assert_eq!(host_of("www.example.org/path").unwrap(), "www.example.org");
        assert_eq!(host_of("http://[::1]/").unwrap(), "[::1]");
        assert_eq!(host_of("mailto:a@b"), None);
        assert!(is_ip_literal("192.168.1.1"));
        assert!(is_ip_literal("3232235777"));
        assert!(!is_ip_literal("example.com"));
    }

    #[test]
    fn anchors_keep_their_text() {
        let html = r#"<p>Hi <A HREF="http://evil.example/login">www.mybank.com</a> and <a name=x>no</a>
            <a href='https://ok.example'><b>Click</b> here</a><abbr>x</abbr>"#;
        let a = anchors(html);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].host, "evil.example");
        assert_eq!(a[0].text.as_deref(), Some("www.mybank.com"));
        assert_eq!(a[1].text.as_deref(), Some("Click here"));
        assert_eq!(count_tag("<img src=x><IMG/><image>", "img"), 2);
        // Text cut inside a character is cut before it.
        let long = format!("<a href=http://x.example>{}</a>", "é".repeat(1500));
        assert_eq!(anchors(&long)[0].host, "x.example");
    }

    #[test]
    fn hidden_text_is_seen() {
        assert!(hidden_text(
            r#"<div style="display: none">buy cheap pills online now</div>"#
        ));
        assert!(!hidden_text(
            r#"<div style="display:none"></div><p>hello</p>"#
        ));
        assert!(!hidden_text(
            r#"<p style="color:red">hello there friend</p>"#
        ));
    }
}
