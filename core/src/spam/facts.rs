//! What the filter looks at, taken from one parse of the message: the header fields that
//! matter, the text (HTML turned into text), the HTML itself, the links and the attachments.
//! The tokens of the classifier ([`Facts::tokens`]) and the rules' symbols both read this.

use crate::mail::summary::Flat;
use mail_parser::{MessageParser, MimeHeaders, PartType};
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Characters of body text looked at.
pub const MAX_TEXT: usize = 64 * 1024;
/// Characters of HTML looked at.
pub const MAX_HTML: usize = 256 * 1024;
/// Distinct tokens one message gives at most.
pub const MAX_TOKENS: usize = 4000;
/// Links looked at.
pub const MAX_LINKS: usize = 200;

/// A link in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The host, lower case (an IP literal as written).
    pub host: String,
    /// The text shown for it (HTML anchors), trimmed.
    pub text: Option<String>,
}

/// An attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// Its file name, lower case.
    pub name: String,
    /// `type/subtype`, lower case.
    pub content_type: String,
    /// For ZIP archives: the names inside, lower case.
    pub inside: Vec<String>,
}

/// The facts of one message.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The parser could make nothing of it.
    pub unparsed: bool,
    /// Header names, lower case, in order (duplicates kept).
    pub header_names: Vec<String>,
    /// Subject, decoded.
    pub subject: Option<String>,
    /// Whether the raw Subject used RFC 2047 encoded words.
    pub subject_encoded: bool,
    /// From: display name and address.
    pub from_name: Option<String>,
    /// From address, lower case.
    pub from_addr: Option<String>,
    /// Reply-To address, lower case.
    pub reply_to: Option<String>,
    /// The Date, as seconds since 1970, when it parses.
    pub date: Option<i64>,
    /// X-Mailer or User-Agent.
    pub mailer: Option<String>,
    /// Content type of the whole message, lower case.
    pub content_type: String,
    /// Charsets named by the text parts, lower case.
    pub charsets: Vec<String>,
    /// Raw 8-bit bytes in the header block.
    pub header_8bit: bool,
    /// Has a `text/plain` part.
    pub has_text: bool,
    /// Has a `text/html` part.
    pub has_html: bool,
    /// The text of the body (HTML parts as text), at most [`MAX_TEXT`] characters.
    pub text: String,
    /// The HTML of the body, at most [`MAX_HTML`] characters.
    pub html: String,
    /// Links (HTML anchors and bare URLs in the text).
    pub links: Vec<Link>,
    /// Images the HTML shows.
    pub images: usize,
    /// Attachments.
    pub attachments: Vec<Attached>,
}

impl Facts {
    /// Reads `raw` once. Never panics: what the parser cannot read leaves `unparsed` set.
    pub fn of(raw: &[u8]) -> Facts {
        let parsed = catch_unwind(AssertUnwindSafe(|| {
            MessageParser::default().parse(raw).map(|m| {
                let m = Flat(m);
                from_message(raw, &m.0)
            })
        }));
        match parsed {
            Ok(Some(f)) => f,
            _ => Facts {
                unparsed: true,
                text: String::from_utf8_lossy(&raw[..raw.len().min(MAX_TEXT)]).into_owned(),
                ..Facts::default()
            },
        }
    }

    /// The header field `name` appears this many times.
    pub fn count(&self, name: &str) -> usize {
        self.header_names.iter().filter(|h| *h == name).count()
    }

    /// The domain of the From address.
    pub fn from_domain(&self) -> Option<&str> {
        self.from_addr
            .as_deref()
            .and_then(|a| a.rsplit_once('@'))
            .map(|(_, d)| d)
    }

    /// The classifier's tokens: distinct, hashed. Words of the subject and body, header
    /// names, the sender's domain, the mailer, content types and charsets, link hosts.
    pub fn tokens(&self) -> Vec<u64> {
        let mut seen: HashSet<u64> = HashSet::with_capacity(512);
        let mut out = Vec::with_capacity(512);
        let mut add = |t: &str| {
            if out.len() < MAX_TOKENS {
                let h = super::bayes::hash(t);
                if seen.insert(h) {
                    out.push(h);
                }
            }
        };
        let mut buf = String::with_capacity(64);
        if let Some(s) = &self.subject {
            for w in words(s) {
                buf.clear();
                buf.push_str("s:");
                word_token(&w, &mut buf);
                add(&buf);
            }
        }
        for h in &self.header_names {
            if !h.starts_with("x-spam") {
                buf.clear();
                buf.push_str("h:");
                buf.push_str(h);
                add(&buf);
            }
        }
        if let Some(d) = self.from_domain() {
            add(&format!("from:{d}"));
        }
        if let Some(n) = &self.from_name {
            for w in words(n) {
                buf.clear();
                buf.push_str("fn:");
                word_token(&w, &mut buf);
                add(&buf);
            }
        }
        if let Some(m) = &self.mailer {
            for w in words(m).take(2) {
                add(&format!("xm:{w}"));
            }
        }
        add(&format!("ct:{}", self.content_type));
        for c in &self.charsets {
            add(&format!("cs:{c}"));
        }
        for l in &self.links {
            add(&format!("url:{}", l.host));
            let labels: Vec<&str> = l.host.rsplitn(3, '.').collect();
            if labels.len() >= 2 {
                add(&format!("url2:{}.{}", labels[1], labels[0]));
            }
        }
        if self.images > 0 {
            add(&format!("img:{}", self.images.min(5)));
        }
        for a in &self.attachments {
            add(&format!("att:{}", a.content_type));
            if let Some((_, ext)) = a.name.rsplit_once('.') {
                add(&format!("ext:{ext}"));
            }
        }
        // Words, and pairs of neighbouring words (phrases say more than their words).
        let mut prev = String::new();
        for w in words(&self.text) {
            buf.clear();
            word_token(&w, &mut buf);
            if buf.is_empty() {
                continue;
            }
            add(&buf);
            if !prev.is_empty() {
                let pair = format!("{prev} {buf}");
                add(&pair);
            }
            prev.clear();
            prev.push_str(&buf);
        }
        out
    }
}

/// Words: runs of letters, digits and `$ ' -`, lower case, at most 40 characters each
/// (longer runs are cut).
fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !(c.is_alphanumeric() || matches!(c, '$' | '\'' | '-' | '!')))
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(40).flat_map(char::to_lowercase).collect())
}

/// A word as a token into `buf`: words of 3–20 characters as they are; shorter ones are
/// dropped; longer ones become a summary (first character and length class); numbers
/// become their length class.
fn word_token(w: &str, buf: &mut String) {
    let trimmed = w.trim_matches(|c| matches!(c, '\'' | '-'));
    let n = trimmed.chars().count();
    if n < 3 {
        return;
    }
    if trimmed.chars().all(|c| c.is_ascii_digit()) {
        buf.push_str("num:");
        buf.push_str(&(n.min(12)).to_string());
    } else if n > 20 {
        buf.push_str("long:");
        buf.extend(trimmed.chars().take(1));
        buf.push_str(&(n / 10).to_string());
    } else {
        buf.push_str(trimmed);
    }
}

fn from_message(raw: &[u8], m: &mail_parser::Message<'_>) -> Facts {
    let mut f = Facts::default();
    for h in m.headers() {
        f.header_names.push(h.name.as_str().to_ascii_lowercase());
    }
    let head_end = m.root_part().offset_body.min(raw.len() as u32) as usize;
    f.header_8bit = raw[..head_end].iter().any(|b| *b >= 0x80);
    f.subject = m.subject().map(str::to_string);
    f.subject_encoded = m.header_raw("Subject").is_some_and(|r| r.contains("=?"));
    if let Some(a) = m.from().and_then(|a| a.first()) {
        f.from_name = a.name.as_deref().map(str::to_string);
        f.from_addr = a.address.as_deref().map(str::to_ascii_lowercase);
    }
    f.reply_to = m
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address.as_deref())
        .map(str::to_ascii_lowercase);
    f.date = m.date().map(|d| d.to_timestamp());
    f.mailer = m
        .header_raw("X-Mailer")
        .or_else(|| m.header_raw("User-Agent"))
        .map(|s| s.trim().to_ascii_lowercase());
    f.content_type = m
        .root_part()
        .content_type()
        .map(|c| {
            format!(
                "{}/{}",
                c.c_type.to_ascii_lowercase(),
                c.c_subtype.as_deref().unwrap_or("").to_ascii_lowercase()
            )
        })
        .unwrap_or_else(|| "text/plain".into());
    for p in &m.parts {
        match &p.body {
            PartType::Text(_) => f.has_text = true,
            PartType::Html(_) => f.has_html = true,
            _ => {}
        }
        if matches!(p.body, PartType::Text(_) | PartType::Html(_))
            && let Some(cs) = p.content_type().and_then(|c| c.attribute("charset"))
        {
            let cs = cs.to_ascii_lowercase();
            if !f.charsets.contains(&cs) {
                f.charsets.push(cs);
            }
        }
    }
    for i in 0..m.text_body.len() {
        if f.text.len() >= MAX_TEXT {
            break;
        }
        if let Some(t) = m.body_text(i) {
            let room = MAX_TEXT - f.text.len();
            f.text.extend(t.chars().take(room));
            f.text.push('\n');
        }
    }
    for p in m.html_bodies() {
        if let PartType::Html(h) = &p.body {
            let room = MAX_HTML.saturating_sub(f.html.len());
            f.html.extend(h.chars().take(room));
        }
    }
    for a in m.attachments() {
        let name = a.attachment_name().unwrap_or("").to_ascii_lowercase();
        let content_type = a
            .content_type()
            .map(|c| {
                format!(
                    "{}/{}",
                    c.c_type.to_ascii_lowercase(),
                    c.c_subtype.as_deref().unwrap_or("").to_ascii_lowercase()
                )
            })
            .unwrap_or_default();
        let inside = if name.ends_with(".zip") || content_type.ends_with("/zip") {
            zip_names(a.contents())
        } else {
            Vec::new()
        };
        f.attachments.push(Attached {
            name,
            content_type,
            inside,
        });
    }
    f.links = super::html::anchors(&f.html);
    f.images = super::html::count_tag(&f.html, "img");
    for host in super::html::bare_urls(&f.text) {
        if f.links.len() >= MAX_LINKS {
            break;
        }
        if !f.links.iter().any(|l| l.host == host) {
            f.links.push(Link { host, text: None });
        }
    }
    f
}

/// The file names in a ZIP archive's central directory (at most 100).
fn zip_names(z: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    // Central directory file headers: PK\x01\x02, the name length at +28, the name at +46.
    while i + 46 <= z.len() && out.len() < 100 {
        if &z[i..i + 4] == b"PK\x01\x02" {
            let n = u16::from_le_bytes([z[i + 28], z[i + 29]]) as usize;
            let extra = u16::from_le_bytes([z[i + 30], z[i + 31]]) as usize;
            let comment = u16::from_le_bytes([z[i + 32], z[i + 33]]) as usize;
            if let Some(name) = z.get(i + 46..i + 46 + n) {
                out.push(String::from_utf8_lossy(name).to_ascii_lowercase());
            }
            i += 46 + n + extra + comment;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_of_a_plain_message() {
        let raw = b"From: \"Ana\" <Ana@Example.COM>\r\nTo: bob@example.net\r\nSubject: =?utf-8?q?Hello_there?=\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nSee https://www.Example.org/x and call 5551234.\r\n";
        let f = Facts::of(raw);
        assert!(!f.unparsed);
        assert_eq!(f.from_addr.as_deref(), Some("ana@example.com"));
        assert_eq!(f.from_domain(), Some("example.com"));
        assert_eq!(f.subject.as_deref(), Some("Hello there"));
        assert!(f.subject_encoded);
        assert!(f.date.is_some());
        assert_eq!(f.count("message-id"), 1);
        assert_eq!(f.links[0].host, "www.example.org");
        let t = f.tokens();
        assert!(t.contains(&super::super::bayes::hash("s:hello")));
        assert!(t.contains(&super::super::bayes::hash("url2:example.org")));
        assert!(t.contains(&super::super::bayes::hash("num:7")));
        let mut d = t.clone();
        d.dedup();
        assert_eq!(d.len(), t.len());
    }

    #[test]
    fn zip_listings_are_read() {
        // A central directory entry for "a.exe" (fields zeroed).
        let mut z = b"junk".to_vec();
        z.extend_from_slice(b"PK\x01\x02");
        z.extend_from_slice(&[0; 24]);
        z.extend_from_slice(&5u16.to_le_bytes());
        z.extend_from_slice(&[0; 16]);
        z.extend_from_slice(b"A.EXE");
        assert_eq!(zip_names(&z), vec!["a.exe".to_string()]);
        assert!(zip_names(b"PK\x01\x02").is_empty());
    }
}
