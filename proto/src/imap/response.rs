//! Writing IMAP responses (RFC 9051 §7): strings in the form that can carry them (atom-safe
//! text quoted, anything else as a literal), `NIL`, flag lists, and the ENVELOPE and
//! BODYSTRUCTURE data items from plain structures the caller fills (from the parse-once
//! summary, in the server).

/// Appends `s` as a string: quoted when every byte may stand in a quoted string, else as a
/// literal (`{n}\r\n…`). `utf8`: the client enabled UTF8=ACCEPT, so UTF-8 may be quoted.
pub fn string(out: &mut Vec<u8>, s: &[u8], utf8: bool) {
    let eight_bit_ok = utf8 && std::str::from_utf8(s).is_ok();
    let quotable = s.len() <= 1024
        && s.iter()
            .all(|b| (0x20..0x7f).contains(b) || (*b >= 0x80 && eight_bit_ok));
    if quotable {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, s);
    }
}

/// Appends `s` as a literal.
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// Appends `s` as a literal8 (`~{n}`, RFC 3516: may hold NUL).
pub fn literal8(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("~{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// Appends `NIL` or the string.
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>, utf8: bool) {
    match s {
        Some(s) => string(out, s, utf8),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Appends a parenthesised flag list (`(\Seen $Work)`).
pub fn flags<S: AsRef<str>>(out: &mut Vec<u8>, flags: &[S]) {
    out.push(b'(');
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(f.as_ref().as_bytes());
    }
    out.push(b')');
}

/// One address of an ENVELOPE (RFC 9051 §7.5.2): the display name, the local part and the
/// domain, as raw header bytes (encoded words left encoded: the client decodes them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// The display name.
    pub name: Option<Vec<u8>>,
    /// The source route (`@a,@b`), obsolete but still seen.
    pub adl: Option<Vec<u8>>,
    /// The local part (for a group's start: the group's name, with `host` `None`).
    pub mailbox: Option<Vec<u8>>,
    /// The domain (`None` marks a group's start or end).
    pub host: Option<Vec<u8>>,
}

/// An ENVELOPE: the header fields as the message has them (not decoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Date.
    pub date: Option<Vec<u8>>,
    /// Subject.
    pub subject: Option<Vec<u8>>,
    /// From.
    pub from: Vec<Address>,
    /// Sender (the From addresses when absent, by the RFC).
    pub sender: Vec<Address>,
    /// Reply-To (the From addresses when absent).
    pub reply_to: Vec<Address>,
    /// To.
    pub to: Vec<Address>,
    /// Cc.
    pub cc: Vec<Address>,
    /// Bcc.
    pub bcc: Vec<Address>,
    /// In-Reply-To.
    pub in_reply_to: Option<Vec<u8>>,
    /// Message-ID.
    pub message_id: Option<Vec<u8>>,
}

fn addresses(out: &mut Vec<u8>, list: &[Address], utf8: bool) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        nstring(out, a.name.as_deref(), utf8);
        out.push(b' ');
        nstring(out, a.adl.as_deref(), utf8);
        out.push(b' ');
        nstring(out, a.mailbox.as_deref(), utf8);
        out.push(b' ');
        nstring(out, a.host.as_deref(), utf8);
        out.push(b')');
    }
    out.push(b')');
}

impl Envelope {
    /// Appends the ENVELOPE's parenthesised form.
    pub fn write(&self, out: &mut Vec<u8>, utf8: bool) {
        out.push(b'(');
        nstring(out, self.date.as_deref(), utf8);
        out.push(b' ');
        nstring(out, self.subject.as_deref(), utf8);
        for list in [
            &self.from,
            if self.sender.is_empty() {
                &self.from
            } else {
                &self.sender
            },
            if self.reply_to.is_empty() {
                &self.from
            } else {
                &self.reply_to
            },
            &self.to,
            &self.cc,
            &self.bcc,
        ] {
            out.push(b' ');
            addresses(out, list, utf8);
        }
        out.push(b' ');
        nstring(out, self.in_reply_to.as_deref(), utf8);
        out.push(b' ');
        nstring(out, self.message_id.as_deref(), utf8);
        out.push(b')');
    }
}

/// One part of a BODYSTRUCTURE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyPart {
    /// Type, e.g. `TEXT` (case as the message has it; clients compare without case).
    pub media_type: String,
    /// Subtype, e.g. `PLAIN`.
    pub subtype: String,
    /// Content-Type parameters.
    pub params: Vec<(String, String)>,
    /// Content-ID.
    pub id: Option<Vec<u8>>,
    /// Content-Description.
    pub description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding (`7bit` when absent, as Dovecot writes it).
    pub encoding: Option<String>,
    /// Body octets.
    pub size: u64,
    /// Body lines (text and message/rfc822).
    pub lines: u64,
    /// Content-Disposition and its parameters.
    pub disposition: Option<(String, Vec<(String, String)>)>,
    /// Content-Language.
    pub language: Vec<String>,
    /// Content-Location.
    pub location: Option<Vec<u8>>,
    /// Parts of a multipart, or the enclosed message of a message/rfc822.
    pub children: Vec<BodyPart>,
    /// For message/rfc822: the enclosed message's envelope.
    pub envelope: Option<Box<Envelope>>,
}

fn params(out: &mut Vec<u8>, params: &[(String, String)], utf8: bool) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, k.as_bytes(), utf8);
        out.push(b' ');
        string(out, v.as_bytes(), utf8);
    }
    out.push(b')');
}

impl BodyPart {
    /// Appends the part as BODYSTRUCTURE (`extended`: with extension data) or BODY.
    pub fn write(&self, out: &mut Vec<u8>, extended: bool, utf8: bool) {
        out.push(b'(');
        if self.media_type.eq_ignore_ascii_case("multipart") {
            for c in &self.children {
                c.write(out, extended, utf8);
            }
            if self.children.is_empty() {
                // A multipart with no parts still needs one body (RFC 9051 §7.5.2 grammar).
                BodyPart {
                    media_type: "text".into(),
                    subtype: "plain".into(),
                    ..Default::default()
                }
                .write(out, extended, utf8);
            }
            out.push(b' ');
            string(out, self.subtype.as_bytes(), utf8);
            if extended {
                out.push(b' ');
                params(out, &self.params, utf8);
                self.extension(out, utf8);
            }
        } else {
            string(out, self.media_type.as_bytes(), utf8);
            out.push(b' ');
            string(out, self.subtype.as_bytes(), utf8);
            out.push(b' ');
            params(out, &self.params, utf8);
            out.push(b' ');
            nstring(out, self.id.as_deref(), utf8);
            out.push(b' ');
            nstring(out, self.description.as_deref(), utf8);
            out.push(b' ');
            string(
                out,
                self.encoding.as_deref().unwrap_or("7bit").as_bytes(),
                utf8,
            );
            out.extend_from_slice(format!(" {}", self.size).as_bytes());
            let message = self.media_type.eq_ignore_ascii_case("message")
                && (self.subtype.eq_ignore_ascii_case("rfc822")
                    || self.subtype.eq_ignore_ascii_case("global"));
            if message {
                out.push(b' ');
                match &self.envelope {
                    Some(e) => e.write(out, utf8),
                    None => Envelope::default().write(out, utf8),
                }
                out.push(b' ');
                match self.children.first() {
                    Some(c) => c.write(out, extended, utf8),
                    None => BodyPart {
                        media_type: "text".into(),
                        subtype: "plain".into(),
                        ..Default::default()
                    }
                    .write(out, extended, utf8),
                }
                out.extend_from_slice(format!(" {}", self.lines).as_bytes());
            } else if self.media_type.eq_ignore_ascii_case("text") {
                out.extend_from_slice(format!(" {}", self.lines).as_bytes());
            }
            if extended {
                // body-ext-1part: md5 first.
                out.extend_from_slice(b" NIL");
                self.extension(out, utf8);
            }
        }
        out.push(b')');
    }

    /// Disposition, language and location (the extension data both kinds share).
    fn extension(&self, out: &mut Vec<u8>, utf8: bool) {
        out.push(b' ');
        match &self.disposition {
            Some((kind, p)) => {
                out.push(b'(');
                string(out, kind.as_bytes(), utf8);
                out.push(b' ');
                params(out, p, utf8);
                out.push(b')');
            }
            None => out.extend_from_slice(b"NIL"),
        }
        out.push(b' ');
        match self.language.as_slice() {
            [] => out.extend_from_slice(b"NIL"),
            [one] => string(out, one.as_bytes(), utf8),
            many => {
                out.push(b'(');
                for (i, l) in many.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    string(out, l.as_bytes(), utf8);
                }
                out.push(b')');
            }
        }
        out.push(b' ');
        nstring(out, self.location.as_deref(), utf8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn strings_take_the_form_that_can_carry_them() {
        assert_eq!(w(|o| string(o, b"plain text", false)), "\"plain text\"");
        assert_eq!(
            w(|o| string(o, b"say \"hi\" \\o/", false)),
            "\"say \\\"hi\\\" \\\\o/\""
        );
        assert_eq!(
            w(|o| string(o, b"two\r\nlines", false)),
            "{10}\r\ntwo\r\nlines"
        );
        assert_eq!(w(|o| string(o, "olá".as_bytes(), false)), "{4}\r\nolá");
        assert_eq!(w(|o| string(o, "olá".as_bytes(), true)), "\"olá\"");
        assert_eq!(w(|o| nstring(o, None, false)), "NIL");
        assert_eq!(w(|o| literal8(o, b"a\0b")), "~{3}\r\na\0b");
        assert_eq!(w(|o| flags(o, &["\\Seen", "$Work"])), "(\\Seen $Work)");
        assert_eq!(w(|o| flags::<&str>(o, &[])), "()");
    }

    #[test]
    fn envelope_in_rfc_form() {
        let ana = Address {
            name: Some(b"Ana Silva".to_vec()),
            mailbox: Some(b"ana".to_vec()),
            host: Some(b"example.com".to_vec()),
            adl: None,
        };
        let e = Envelope {
            date: Some(b"Sun, 06 Dec 2026 10:00:00 +0000".to_vec()),
            subject: Some(b"=?UTF-8?Q?ol=C3=A1?=".to_vec()),
            from: vec![ana.clone()],
            to: vec![Address {
                name: None,
                mailbox: Some(b"bo".to_vec()),
                host: Some(b"example.org".to_vec()),
                adl: None,
            }],
            message_id: Some(b"<1@example.com>".to_vec()),
            ..Default::default()
        };
        assert_eq!(
            w(|o| e.write(o, false)),
            "(\"Sun, 06 Dec 2026 10:00:00 +0000\" \"=?UTF-8?Q?ol=C3=A1?=\" \
             ((\"Ana Silva\" NIL \"ana\" \"example.com\")) \
             ((\"Ana Silva\" NIL \"ana\" \"example.com\")) \
             ((\"Ana Silva\" NIL \"ana\" \"example.com\")) \
             ((NIL NIL \"bo\" \"example.org\")) NIL NIL NIL \"<1@example.com>\")"
        );
    }

    #[test]
    fn bodystructure_of_a_multipart_with_an_attached_message() {
        let text = BodyPart {
            media_type: "TEXT".into(),
            subtype: "PLAIN".into(),
            params: vec![("CHARSET".into(), "utf-8".into())],
            size: 12,
            lines: 1,
            ..Default::default()
        };
        let inner = BodyPart {
            media_type: "MESSAGE".into(),
            subtype: "RFC822".into(),
            size: 300,
            lines: 9,
            envelope: Some(Box::new(Envelope::default())),
            children: vec![text.clone()],
            disposition: Some(("attachment".into(), vec![])),
            ..Default::default()
        };
        let top = BodyPart {
            media_type: "MULTIPART".into(),
            subtype: "MIXED".into(),
            params: vec![("BOUNDARY".into(), "b1".into())],
            children: vec![text, inner],
            ..Default::default()
        };
        assert_eq!(
            w(|o| top.write(o, false, false)),
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7bit\" 12 1)\
             (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7bit\" 300 \
             (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) \
             (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7bit\" 12 1) 9) \"MIXED\")"
        );
        let ext = w(|o| top.write(o, true, false));
        assert!(
            ext.ends_with(" \"MIXED\" (\"BOUNDARY\" \"b1\") NIL NIL NIL)"),
            "{ext}"
        );
        assert!(
            ext.contains(" 9 NIL (\"attachment\" NIL) NIL NIL)"),
            "{ext}"
        );
    }
}
