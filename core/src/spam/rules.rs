//! The rules: each looks at one thing and, when it holds, adds a named symbol with a score
//! (positive: spam-like; negative: ham-like) and a detail saying what it saw.

use super::Symbol;
use super::facts::Facts;
use super::html;
use crate::mail::authn::AuthOutcome;

/// File name endings that run code when opened.
const EXECUTABLE: &[&str] = &[
    "exe", "scr", "pif", "com", "bat", "cmd", "js", "jse", "vbs", "vbe", "wsf", "wsh", "hta",
    "msi", "jar", "lnk", "ps1", "cpl", "reg", "iso", "img", "vhd", "appx", "msix", "dll",
];
/// Office documents that carry macros.
const MACRO: &[&str] = &[
    "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "sldm",
];
/// Archives that may hold anything.
const ARCHIVE: &[&str] = &[
    "zip", "rar", "7z", "gz", "tgz", "ace", "arj", "cab", "xz", "bz2",
];
/// Link shorteners: the real destination is hidden.
const SHORTENERS: &[&str] = &[
    "bit.ly",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "tiny.cc",
    "rb.gy",
    "t.ly",
    "bl.ink",
    "s.id",
    "v.gd",
];

fn sym(out: &mut Vec<Symbol>, name: &str, score: f64, detail: impl Into<String>) {
    out.push(Symbol {
        name: name.into(),
        score,
        detail: detail.into(),
    });
}

fn ext(name: &str) -> Option<&str> {
    name.rsplit_once('.').map(|(_, e)| e.trim())
}

/// What the SMTP session said about the client.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    /// Its address.
    pub ip: std::net::IpAddr,
    /// Its HELO/EHLO name.
    pub helo: &'a str,
    /// Our own server name (a client claiming it is lying).
    pub our_name: &'a str,
}

/// HELO sanity (RFC 5321 §4.1.4: a client names itself by its FQDN or an address literal).
pub fn helo(c: &Client<'_>, out: &mut Vec<Symbol>) {
    let name = c.helo.trim().trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return;
    }
    if let Some(lit) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        let lit = lit.strip_prefix("ipv6:").unwrap_or(lit);
        if let Ok(ip) = lit.parse::<std::net::IpAddr>()
            && ip != c.ip
        {
            sym(
                out,
                "HELO_IP_MISMATCH",
                1.0,
                format!("names itself [{ip}] but connects from {}", c.ip),
            );
        }
        return;
    }
    if !c.our_name.is_empty() && name == c.our_name.to_ascii_lowercase() {
        sym(
            out,
            "HELO_OUR_NAME",
            2.0,
            format!("claims to be this server ({name})"),
        );
    } else if name == "localhost" || name.starts_with("localhost.") {
        if !c.ip.is_loopback() {
            sym(
                out,
                "HELO_LOCALHOST",
                1.0,
                format!("names itself {name} from {}", c.ip),
            );
        }
    } else if name.parse::<std::net::IpAddr>().is_ok() {
        sym(
            out,
            "HELO_BARE_IP",
            0.5,
            format!("names itself {name} without brackets"),
        );
    }
}

/// The symbols of sender authentication (SPF, DKIM, DMARC, ARC), when it was checked.
pub fn authentication(a: &AuthOutcome, out: &mut Vec<Symbol>) {
    match a.spf.as_str() {
        "pass" => sym(
            out,
            "SPF_PASS",
            -0.1,
            format!("SPF pass for {}", a.spf_domain),
        ),
        "fail" => sym(
            out,
            "SPF_FAIL",
            1.5,
            format!("SPF fail for {}", a.spf_domain),
        ),
        "softfail" => sym(
            out,
            "SPF_SOFTFAIL",
            0.7,
            format!("SPF softfail for {}", a.spf_domain),
        ),
        "permerror" => sym(
            out,
            "SPF_PERMERROR",
            0.3,
            "the sender's SPF record is broken",
        ),
        _ => {}
    }
    if a.dkim.iter().any(|d| d.result == "pass") {
        let d = a
            .dkim
            .iter()
            .find(|d| d.result == "pass")
            .and_then(|d| d.domain.clone())
            .unwrap_or_default();
        sym(out, "DKIM_VALID", -0.1, format!("valid signature of {d}"));
    } else if a.dkim.iter().any(|d| d.result == "fail") {
        sym(out, "DKIM_INVALID", 0.5, "a DKIM signature does not verify");
    }
    match (a.dmarc.as_str(), a.dmarc_policy.as_deref()) {
        ("pass", _) => sym(out, "DMARC_PASS", -0.2, "the From domain is authenticated"),
        ("fail", Some("reject")) => sym(
            out,
            "DMARC_REJECT",
            6.0,
            "DMARC fails and the From domain asks to reject",
        ),
        ("fail", Some("quarantine")) => sym(
            out,
            "DMARC_QUARANTINE",
            3.0,
            "DMARC fails and the From domain asks for quarantine",
        ),
        ("fail", _) => sym(out, "DMARC_FAIL", 1.0, "DMARC fails (policy none)"),
        _ => {}
    }
    if a.arc == "fail" {
        sym(out, "ARC_INVALID", 0.5, "the ARC chain does not verify");
    }
}

/// Header anomalies. `envelope_from`: the SMTP reverse path, when known; `now`: seconds
/// since 1970.
pub fn headers(f: &Facts, envelope_from: Option<&str>, now: i64, out: &mut Vec<Symbol>) {
    if f.unparsed {
        sym(
            out,
            "UNPARSABLE",
            2.0,
            "the message could not be read as MIME",
        );
        return;
    }
    if f.count("date") == 0 {
        sym(out, "MISSING_DATE", 1.0, "no Date field");
    } else if f.count("date") > 1 {
        sym(out, "MULTIPLE_DATE", 1.0, "more than one Date field");
    }
    match f.date {
        Some(d) if d > now + 24 * 3600 => sym(
            out,
            "DATE_IN_FUTURE",
            1.5,
            format!("dated {} hours ahead", (d - now) / 3600),
        ),
        _ => {}
    }
    if f.count("message-id") == 0 {
        sym(out, "MISSING_MID", 0.5, "no Message-ID field");
    } else if f.count("message-id") > 1 {
        sym(out, "MULTIPLE_MID", 1.0, "more than one Message-ID field");
    }
    if f.count("from") == 0 || f.from_addr.is_none() {
        sym(out, "MISSING_FROM", 1.5, "no From address");
    } else if f.count("from") > 1 {
        sym(out, "MULTIPLE_FROM", 1.5, "more than one From field");
    }
    if f.count("subject") == 0 {
        sym(out, "MISSING_SUBJECT", 0.5, "no Subject field");
    }
    if let Some(s) = &f.subject {
        let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
        if letters.len() >= 10 && letters.iter().all(|c| c.is_uppercase()) {
            sym(out, "SUBJ_ALL_CAPS", 0.5, "the subject is in capitals");
        }
        if f.subject_encoded && s.is_ascii() {
            sym(
                out,
                "SUBJ_ENCODED_ASCII",
                0.5,
                "plain ASCII subject sent encoded (hides it from filters)",
            );
        }
    }
    if f.header_8bit {
        sym(out, "HEADER_8BIT", 0.3, "raw 8-bit bytes in the header");
    }
    // A display name that is an address at another domain ("paypal.com" <x@evil.example>).
    if let (Some(name), Some(dom)) = (&f.from_name, f.from_domain())
        && let Some((_, named)) = name
            .trim()
            .trim_matches(['"', '\'', '<', '>'])
            .rsplit_once('@')
    {
        let named = named
            .trim_end_matches(['"', '\'', '>'])
            .to_ascii_lowercase();
        if named.contains('.') && named != dom {
            sym(
                out,
                "FROM_NAME_OTHER_DOMAIN",
                1.5,
                format!("shown as an address at {named}, sent from {dom}"),
            );
        }
    }
    if let (Some(env), Some(dom)) = (envelope_from, f.from_domain())
        && let Some((_, env_dom)) = env.rsplit_once('@')
    {
        let env_dom = env_dom.to_ascii_lowercase();
        if !env_dom.ends_with(dom) && !dom.ends_with(env_dom.as_str()) {
            sym(
                out,
                "FROM_NOT_ENVELOPE",
                0.1,
                format!("From {dom}, envelope {env_dom}"),
            );
        }
    }
    if let (Some(r), Some(dom)) = (&f.reply_to, f.from_domain())
        && let Some((_, rdom)) = r.rsplit_once('@')
        && rdom != dom
        && f.count("list-id") == 0
    {
        sym(
            out,
            "REPLYTO_OTHER_DOMAIN",
            0.3,
            format!("replies go to {rdom}, not {dom}"),
        );
    }
    if f.count("received") > 30 {
        sym(out, "RECEIVED_LOOP", 1.0, "more than 30 Received fields");
    }
}

/// Content: HTML tricks, links, attachments.
pub fn content(f: &Facts, out: &mut Vec<Symbol>) {
    if f.has_html && !f.has_text {
        sym(out, "HTML_ONLY", 0.3, "HTML without a plain-text part");
    }
    if f.has_html && html::hidden_text(&f.html) {
        sym(
            out,
            "HTML_HIDDEN_TEXT",
            1.5,
            "the HTML hides text from the reader",
        );
    }
    let words = f.text.split_whitespace().count();
    if f.images > 0 && words < 20 && f.has_html {
        sym(
            out,
            "HTML_IMAGE_ONLY",
            1.0,
            format!("{} images and {words} words", f.images),
        );
    }
    let mut mismatch = None;
    let mut shortener = None;
    let mut ip = None;
    for l in &f.links {
        if mismatch.is_none()
            && let Some(shown) = l.text.as_deref().and_then(shown_host)
            && !same_site(&shown, &l.host)
        {
            mismatch = Some(format!("text names {shown}, link goes to {}", l.host));
        }
        if shortener.is_none() && SHORTENERS.contains(&l.host.trim_start_matches("www.")) {
            shortener = Some(l.host.clone());
        }
        if ip.is_none() && html::is_ip_literal(&l.host) {
            ip = Some(l.host.clone());
        }
    }
    if let Some(m) = mismatch {
        sym(out, "LINK_TEXT_OTHER_SITE", 2.5, m);
    }
    if let Some(s) = shortener {
        sym(out, "URL_SHORTENER", 0.5, format!("link through {s}"));
    }
    if let Some(h) = ip {
        sym(
            out,
            "URL_IP_LITERAL",
            1.5,
            format!("link to the address {h}"),
        );
    }
    for a in &f.attachments {
        let e = ext(&a.name).unwrap_or("");
        if EXECUTABLE.contains(&e) {
            sym(
                out,
                "ATTACH_EXECUTABLE",
                6.0,
                format!("{} runs code", a.name),
            );
        } else if MACRO.contains(&e) {
            sym(
                out,
                "ATTACH_MACRO",
                3.0,
                format!("{} may carry macros", a.name),
            );
        } else if ARCHIVE.contains(&e)
            && let Some(inner) = a
                .inside
                .iter()
                .find(|n| ext(n).is_some_and(|e| EXECUTABLE.contains(&e)))
        {
            sym(
                out,
                "ARCHIVE_EXECUTABLE",
                6.0,
                format!("{} holds {inner}", a.name),
            );
        }
        // "invoice.pdf.exe": a harmless ending shown before the real one.
        let parts: Vec<&str> = a.name.split('.').collect();
        if parts.len() >= 3 && EXECUTABLE.contains(&parts[parts.len() - 1]) {
            sym(
                out,
                "ATTACH_DOUBLE_EXT",
                2.0,
                format!("{} hides its type", a.name),
            );
        }
    }
    let odd: Vec<&String> = f
        .charsets
        .iter()
        .filter(|c| c.starts_with("utf-7") || c.as_str() == "unknown-8bit")
        .collect();
    if let Some(c) = odd.first() {
        sym(out, "CHARSET_ODD", 1.0, format!("text in {c}"));
    }
}

/// The host an anchor's text names, when its text looks like a URL or a domain.
fn shown_host(text: &str) -> Option<String> {
    let t = text.trim();
    if t.contains(' ') || !t.contains('.') {
        return None;
    }
    if let Some(h) = html::host_of(t) {
        return Some(h);
    }
    let host = t.split('/').next()?.to_ascii_lowercase();
    let tld = host.rsplit('.').next()?;
    (host.split('.').count() >= 2
        && (2..=6).contains(&tld.len())
        && tld.chars().all(|c| c.is_ascii_alphabetic())
        && !host.contains('@'))
    .then_some(host)
}

/// Whether two hosts are the same site (one is the other or its subdomain, or both share
/// their last two labels).
fn same_site(a: &str, b: &str) -> bool {
    let tail = |h: &str| -> String {
        let labels: Vec<&str> = h.trim_start_matches("www.").rsplitn(3, '.').collect();
        labels
            .iter()
            .take(2)
            .rev()
            .copied()
            .collect::<Vec<_>>()
            .join(".")
    };
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}")) || tail(a) == tail(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(raw: &str) -> Vec<String> {
        let f = Facts::of(raw.as_bytes());
        let mut out = Vec::new();
        headers(&f, Some("bounce@mailer.example"), 1_796_000_000, &mut out);
        content(&f, &mut out);
        out.into_iter().map(|s| s.name).collect()
    }

    #[test]
    fn a_clean_message_has_no_symbols() {
        let n = names(
            "From: Ana <ana@mailer.example>\r\nTo: b@x.example\r\nSubject: Lunch\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@mailer.example>\r\n\r\nLunch at noon? See https://mailer.example/menu\r\n",
        );
        assert!(n.is_empty(), "{n:?}");
    }

    #[test]
    fn header_anomalies_are_named() {
        let n = names(
            "From: \"service@paypal.com\" <x@evil.example>\r\nSubject: =?utf-8?B?VVJHRU5UIEFDVElPTiBSRVFVSVJFRA==?=\r\nDate: Mon, 1 Jan 2035 10:00:00 +0000\r\n\r\nhi\r\n",
        );
        for s in [
            "MISSING_MID",
            "DATE_IN_FUTURE",
            "FROM_NAME_OTHER_DOMAIN",
            "SUBJ_ALL_CAPS",
            "SUBJ_ENCODED_ASCII",
            "FROM_NOT_ENVELOPE",
        ] {
            assert!(n.contains(&s.to_string()), "{s} not in {n:?}");
        }
        assert!(names("Subject: x\r\n\r\nbody\r\n").contains(&"MISSING_FROM".to_string()));
    }

    #[test]
    fn content_tricks_are_named() {
        let raw = "From: a@b.example\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@b.example>\r\nSubject: hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/html\r\n\r\n<a href=\"http://192.0.2.7/x\">www.mybank.com</a> <a href=\"https://bit.ly/abc\">here</a><span style=\"display:none\">lorem ipsum dolor sit</span>\r\n--XX\r\nContent-Type: application/octet-stream; name=\"invoice.pdf.exe\"\r\nContent-Disposition: attachment; filename=\"invoice.pdf.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--XX--\r\n";
        let n = names(raw);
        for s in [
            "HTML_ONLY",
            "HTML_HIDDEN_TEXT",
            "LINK_TEXT_OTHER_SITE",
            "URL_SHORTENER",
            "URL_IP_LITERAL",
            "ATTACH_EXECUTABLE",
            "ATTACH_DOUBLE_EXT",
        ] {
            assert!(n.contains(&s.to_string()), "{s} not in {n:?}");
        }
    }

    #[test]
    fn sites_and_shown_hosts() {
        assert!(same_site("www.example.com", "example.com"));
        assert!(same_site("mail.example.com", "news.example.com"));
        assert!(!same_site("example.com", "evil.example"));
        assert_eq!(
            shown_host("www.MyBank.com").as_deref(),
            Some("www.mybank.com")
        );
        assert_eq!(shown_host("Click here"), None);
        assert_eq!(shown_host("v1.2"), None);
    }

    #[test]
    fn helo_names_are_checked() {
        let names = |ip: &str, helo: &str| {
            let mut out = Vec::new();
            super::helo(
                &Client {
                    ip: ip.parse().unwrap(),
                    helo,
                    our_name: "mx.mailroom.example",
                },
                &mut out,
            );
            out.into_iter().map(|s| s.name).collect::<Vec<_>>()
        };
        assert!(names("192.0.2.1", "mail.sender.example").is_empty());
        assert!(names("192.0.2.1", "[192.0.2.1]").is_empty());
        assert_eq!(names("192.0.2.1", "[192.0.2.9]"), ["HELO_IP_MISMATCH"]);
        assert_eq!(names("192.0.2.1", "MX.Mailroom.Example"), ["HELO_OUR_NAME"]);
        assert_eq!(names("192.0.2.1", "localhost"), ["HELO_LOCALHOST"]);
        assert!(names("127.0.0.1", "localhost").is_empty());
        assert_eq!(names("192.0.2.1", "192.0.2.1"), ["HELO_BARE_IP"]);
    }

    #[test]
    fn authentication_symbols() {
        let a = AuthOutcome {
            spf: "fail".into(),
            spf_domain: "x.example".into(),
            dkim: vec![],
            dmarc: "fail".into(),
            dmarc_policy: Some("reject".into()),
            arc: "none".into(),
            header: String::new(),
        };
        let mut out = Vec::new();
        authentication(&a, &mut out);
        let n: Vec<_> = out.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(n, ["SPF_FAIL", "DMARC_REJECT"]);
    }
}
