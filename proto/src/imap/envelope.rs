//! ENVELOPE from a message's header block as the message has it (RFC 9051 §7.5.2): field
//! values unfolded but not decoded, addresses split into name, mailbox and host the way
//! Dovecot does (a group is a start marker, its members and an end marker; a missing local part
//! or domain reads `MISSING_MAILBOX` / `MISSING_DOMAIN`; a comment stands in for a missing
//! display name). Only the header block is read, never the body.

use super::response::{Address, Envelope};

/// Header fields looked at, and addresses kept per field (the rest are dropped).
const MAX_FIELDS: usize = 10_000;
const MAX_ADDRESSES: usize = 1000;

/// The envelope of the message whose header block is `header` (up to and including the blank
/// line, or the whole message when it has no body).
pub fn envelope(header: &[u8]) -> Envelope {
    let mut env = Envelope::default();
    for (name, value) in fields(header).take(MAX_FIELDS) {
        let slot = match name.to_ascii_lowercase().as_slice() {
            b"date" => &mut env.date,
            b"subject" => &mut env.subject,
            b"in-reply-to" => &mut env.in_reply_to,
            b"message-id" => &mut env.message_id,
            b"from" => {
                set_field(&mut env.from, &value);
                continue;
            }
            b"sender" => {
                set_field(&mut env.sender, &value);
                continue;
            }
            b"reply-to" => {
                set_field(&mut env.reply_to, &value);
                continue;
            }
            b"to" => {
                set_field(&mut env.to, &value);
                continue;
            }
            b"cc" => {
                set_field(&mut env.cc, &value);
                continue;
            }
            b"bcc" => {
                set_field(&mut env.bcc, &value);
                continue;
            }
            _ => continue,
        };
        *slot = Some(value);
    }
    env
}

/// Fields of a part header that ENVELOPE and BODYSTRUCTURE read.
const IMAP_FIELDS: [&str; 12] = [
    "date",
    "subject",
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "in-reply-to",
    "message-id",
    "content-type",
    "content-transfer-encoding",
];

/// Octets of a head kept by [`imap_head`], at most.
pub const MAX_HEAD: usize = 16 * 1024;

/// The fields of `header` that ENVELOPE and BODYSTRUCTURE read, in order, one `name: value`
/// line each (values as [`fields`] gives them): what a store keeps at delivery so that those
/// answers need not read the message again. [`envelope`] and [`fields`] give the same results
/// on it as on the whole header. `None` when it cannot stand in for the header: bytes that are
/// not UTF-8, more fields than [`envelope`] reads, or more than [`MAX_HEAD`] octets.
pub fn imap_head(header: &[u8]) -> Option<String> {
    let mut out = String::new();
    for (i, (name, value)) in fields(header).enumerate() {
        if i >= MAX_FIELDS {
            return None;
        }
        let lower = name.to_ascii_lowercase();
        if !IMAP_FIELDS.iter().any(|f| f.as_bytes() == lower.as_slice()) {
            continue;
        }
        out.push_str(std::str::from_utf8(&name).ok()?);
        out.push_str(": ");
        out.push_str(std::str::from_utf8(&value).ok()?);
        out.push_str("\r\n");
        if out.len() > MAX_HEAD {
            return None;
        }
    }
    Some(out)
}

/// A field given twice counts as its last occurrence, as Dovecot has it.
fn set_field(list: &mut Vec<Address>, value: &[u8]) {
    *list = addresses(value);
}

/// The fields of the header at the start of `message` named in `names` (or, `keep ==
/// false`, all the others), as they are written (folding and line endings kept), then the
/// blank line; and the offset where the body starts (after the blank line). IMAP's
/// `HEADER.FIELDS` and `HEADER.FIELDS.NOT`; also how a bounce returns a header without
/// signatures and a draft leaves without its Bcc.
pub fn header_fields<S: AsRef<str>>(message: &[u8], names: &[S], keep: bool) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    // Walk the raw lines so folding and line endings stay as written.
    while pos < message.len() {
        let rest = &message[pos..];
        if rest.starts_with(b"\r\n") {
            pos += 2;
            break;
        }
        if rest.starts_with(b"\n") {
            pos += 1;
            break;
        }
        let mut end = 0;
        loop {
            match rest[end..].iter().position(|&b| b == b'\n') {
                None => {
                    end = rest.len();
                    break;
                }
                Some(i) => {
                    end += i + 1;
                    if !matches!(rest.get(end), Some(b' ' | b'\t')) {
                        break;
                    }
                }
            }
        }
        let field = &rest[..end];
        pos += end;
        let name = field
            .iter()
            .position(|&b| b == b':')
            .map(|c| &field[..c])
            .unwrap_or(b"");
        let named = names.iter().any(|n| {
            n.as_ref()
                .as_bytes()
                .eq_ignore_ascii_case(name.trim_ascii_end())
        });
        if !name.is_empty() && named == keep {
            out.extend_from_slice(field);
            if !field.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    (out, pos)
}

/// The header fields of a header block: (name, value unfolded and without leading white
/// space or the final line break).
pub fn fields(header: &[u8]) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        loop {
            if pos >= header.len() {
                return None;
            }
            let rest = &header[pos..];
            if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
                // The blank line: the header ends.
                pos = header.len();
                return None;
            }
            // One field: up to a line break not followed by white space.
            let mut end = 0;
            let line_end = loop {
                match rest[end..].iter().position(|&b| b == b'\n') {
                    None => break rest.len(),
                    Some(i) => {
                        end += i + 1;
                        if !matches!(rest.get(end), Some(b' ' | b'\t')) {
                            break end;
                        }
                    }
                }
            };
            let raw = &rest[..line_end];
            pos += line_end;
            let Some(colon) = raw.iter().position(|&b| b == b':') else {
                continue;
            };
            let name = &raw[..colon];
            if name.is_empty() || name.iter().any(|b| *b <= b' ' || *b >= 0x7f) {
                // Not a field (a body line without a blank line before it, say): skipped.
                continue;
            }
            let mut value: Vec<u8> = Vec::with_capacity(raw.len() - colon);
            for &b in &raw[colon + 1..] {
                if b != b'\r' && b != b'\n' {
                    value.push(b);
                }
            }
            let start = value
                .iter()
                .position(|b| *b != b' ' && *b != b'\t')
                .unwrap_or(value.len());
            value.drain(..start);
            while value.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
                value.pop();
            }
            return Some((name.to_vec(), value));
        }
    })
}

/// One lexical token of an address list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An atom (or a run of atom characters and dots).
    Word(Vec<u8>),
    /// A quoted string's content, unescaped.
    Quoted(Vec<u8>),
    /// A comment's content (outer parentheses removed).
    Comment(Vec<u8>),
    /// One of `< > @ , ; : .`, `[`…`]` comes as a word.
    Special(u8),
}

fn tokens(v: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() && out.len() < 100_000 {
        let b = v[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                while i < v.len() && v[i] != b'"' {
                    if v[i] == b'\\' && i + 1 < v.len() {
                        i += 1;
                    }
                    s.push(v[i]);
                    i += 1;
                }
                i += 1;
                out.push(Token::Quoted(s));
            }
            b'(' => {
                let (mut depth, mut s) = (1, Vec::new());
                i += 1;
                while i < v.len() {
                    match v[i] {
                        b'\\' if i + 1 < v.len() => {
                            i += 1;
                            s.push(v[i]);
                        }
                        b'(' => {
                            depth += 1;
                            s.push(b'(');
                        }
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                            s.push(b')');
                        }
                        c => s.push(c),
                    }
                    i += 1;
                }
                out.push(Token::Comment(s));
            }
            b'[' => {
                // A domain literal is one word.
                let end = v[i..]
                    .iter()
                    .position(|&c| c == b']')
                    .map_or(v.len(), |p| i + p + 1);
                out.push(Token::Word(v[i..end].to_vec()));
                i = end;
            }
            b'<' | b'>' | b'@' | b',' | b';' | b':' => {
                out.push(Token::Special(b));
                i += 1;
            }
            _ => {
                let start = i;
                while i < v.len() && !b" \t\r\n\"(<>@,;:[".contains(&v[i]) {
                    i += 1;
                }
                out.push(Token::Word(v[start..i].to_vec()));
            }
        }
    }
    out
}

/// A parser over the tokens of one address list.
struct Parser {
    toks: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos)
    }

    fn special(&self, c: u8) -> bool {
        self.peek() == Some(&Token::Special(c))
    }

    /// Words, quoted strings and dots up to a special other than `.`; comments collected apart.
    fn phrase(&mut self, comments: &mut Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let mut words = Vec::new();
        while let Some(t) = self.peek() {
            match t {
                Token::Word(w) | Token::Quoted(w) => words.push(w.clone()),
                Token::Comment(c) => comments.push(c.clone()),
                Token::Special(_) => break,
            }
            self.pos += 1;
        }
        words
    }

    /// `local@domain` up to `>` , `,` or `;` (not consumed); comments collected apart.
    fn addr_spec(&mut self, comments: &mut Vec<Vec<u8>>) -> (Vec<u8>, Option<Vec<u8>>) {
        let mut local = Vec::new();
        let mut domain: Option<Vec<u8>> = None;
        while let Some(t) = self.peek().cloned() {
            match t {
                Token::Special(b'@') if domain.is_none() => domain = Some(Vec::new()),
                Token::Special(b'>' | b',' | b';') => break,
                Token::Special(b'<') => {}
                Token::Special(c) => push_to(&mut local, &mut domain, &[c]),
                Token::Word(w) => push_to(&mut local, &mut domain, &w),
                Token::Quoted(q) => {
                    if domain.is_none() {
                        local.push(b'"');
                        local.extend(q);
                        local.push(b'"');
                    } else {
                        push_to(&mut local, &mut domain, &q)
                    }
                }
                Token::Comment(c) => comments.push(c),
            }
            self.pos += 1;
        }
        (local, domain)
    }
}

fn push_to(local: &mut Vec<u8>, domain: &mut Option<Vec<u8>>, w: &[u8]) {
    match domain {
        Some(d) => d.extend_from_slice(w),
        None => local.extend_from_slice(w),
    }
}

fn join(words: &[Vec<u8>]) -> Option<Vec<u8>> {
    if words.is_empty() {
        return None;
    }
    Some(words.join(&b' '))
}

fn address(
    name: Option<Vec<u8>>,
    adl: Option<Vec<u8>>,
    local: Vec<u8>,
    domain: Option<Vec<u8>>,
) -> Address {
    let mailbox = if local.is_empty() {
        b"MISSING_MAILBOX".to_vec()
    } else {
        local
    };
    let host = match domain {
        Some(d) if !d.is_empty() => d,
        _ => b"MISSING_DOMAIN".to_vec(),
    };
    Address {
        name,
        adl,
        mailbox: Some(mailbox),
        host: Some(host),
    }
}

/// Parses an address list (From, To, …) into ENVELOPE addresses.
pub fn addresses(value: &[u8]) -> Vec<Address> {
    let mut p = Parser {
        toks: tokens(value),
        pos: 0,
    };
    let mut out = Vec::new();
    let mut in_group = false;
    while p.pos < p.toks.len() && out.len() < MAX_ADDRESSES {
        if p.special(b',') {
            p.pos += 1;
            continue;
        }
        if p.special(b';') {
            p.pos += 1;
            if in_group {
                out.push(Address::default());
                in_group = false;
            }
            continue;
        }
        let start = p.pos;
        let mut comments = Vec::new();
        let words = p.phrase(&mut comments);
        if p.special(b':') && !in_group {
            // A group: its name, then its members up to `;`.
            p.pos += 1;
            out.push(Address {
                mailbox: Some(join(&words).unwrap_or_default()),
                ..Address::default()
            });
            in_group = true;
            continue;
        }
        if p.special(b'<') {
            p.pos += 1;
            // An obsolete source route: `@a,@b:` before the address.
            let mut adl: Option<Vec<u8>> = None;
            if p.special(b'@') {
                let mark = p.pos;
                let mut route = Vec::new();
                while let Some(t) = p.peek().cloned() {
                    p.pos += 1;
                    match t {
                        Token::Special(b':') => {
                            adl = Some(route);
                            break;
                        }
                        Token::Special(b'>') => break,
                        Token::Special(c) => route.push(c),
                        Token::Word(w) | Token::Quoted(w) => route.extend(w),
                        Token::Comment(_) => {}
                    }
                }
                if adl.is_none() {
                    p.pos = mark;
                }
            }
            let mut inner = Vec::new();
            let (local, domain) = p.addr_spec(&mut inner);
            if p.special(b'>') {
                p.pos += 1;
            }
            // Anything up to the next `,` (comments, stray words) belongs to this address.
            while p.peek().is_some() && !p.special(b',') && !p.special(b';') {
                if let Some(Token::Comment(c)) = p.peek() {
                    comments.push(c.clone());
                }
                p.pos += 1;
            }
            let name = join(&words).or_else(|| comments.last().cloned());
            if local.is_empty() && domain.is_none() && name.is_none() {
                // `<>`: the null address; nothing to show.
                continue;
            }
            out.push(address(name, adl, local, domain));
            continue;
        }
        // A bare addr-spec: start over and read it as one.
        p.pos = start;
        let mut comments = Vec::new();
        let (local, domain) = p.addr_spec(&mut comments);
        if p.pos == start {
            // Nothing we can read here (a stray `>` or `:`): skip it.
            p.pos += 1;
            continue;
        }
        if local.is_empty() && domain.is_none() {
            continue;
        }
        out.push(address(comments.last().cloned(), None, local, domain));
    }
    if in_group {
        out.push(Address::default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(list: &[Address]) -> String {
        let mut out = Vec::new();
        for a in list {
            let f = |o: &Option<Vec<u8>>| {
                o.as_ref().map_or("NIL".to_string(), |v| {
                    String::from_utf8_lossy(v).into_owned()
                })
            };
            out.push(format!("{}|{}|{}", f(&a.name), f(&a.mailbox), f(&a.host)));
        }
        out.join(" ; ")
    }

    #[test]
    fn addresses_split_like_dovecot() {
        assert_eq!(
            show(&addresses(
                b"\"Ana B.\" <ana@example.com>, bob@example.org (Bob)"
            )),
            "Ana B.|ana|example.com ; Bob|bob|example.org"
        );
        assert_eq!(
            show(&addresses(b"=?utf-8?q?J=C3=BCrgen?= <j@x.de>")),
            "=?utf-8?q?J=C3=BCrgen?=|j|x.de"
        );
        assert_eq!(
            show(&addresses(b"undisclosed-recipients:;")),
            "NIL|undisclosed-recipients|NIL ; NIL|NIL|NIL"
        );
        assert_eq!(
            show(&addresses(b"Team: a@x.org, B <b@y.org>; c@z.org")),
            "NIL|Team|NIL ; NIL|a|x.org ; B|b|y.org ; NIL|NIL|NIL ; NIL|c|z.org"
        );
        assert_eq!(show(&addresses(b"nobody")), "NIL|nobody|MISSING_DOMAIN");
        assert_eq!(
            show(&addresses(b"\"q\\\"uote\"@x.org")),
            "NIL|\"q\"uote\"|x.org"
        );
        assert_eq!(show(&addresses(b"<>")), "");
        let routed = addresses(b"<@route:user@domain>");
        assert_eq!(routed[0].adl.as_deref(), Some(&b"@route"[..]));
        assert_eq!(show(&routed), "NIL|user|domain");
        assert_eq!(show(&addresses(b"a@[127.0.0.1]")), "NIL|a|[127.0.0.1]");
    }

    #[test]
    fn fields_are_unfolded_and_the_last_one_counts() {
        let h = b"Subject: a\r\n  folded\r\nFrom: x@y.z\r\nSubject: second\r\nDate:Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nbody: not a header\r\n";
        assert_eq!(
            envelope(b"Subject: a\r\n  folded\r\n\r\n")
                .subject
                .as_deref(),
            Some(&b"a  folded"[..])
        );
        let e = envelope(h);
        assert_eq!(e.subject.as_deref(), Some(&b"second"[..]));
        assert_eq!(
            e.date.as_deref(),
            Some(&b"Mon, 1 Jan 2024 00:00:00 +0000"[..])
        );
        assert_eq!(show(&e.from), "NIL|x|y.z");
        assert!(e.message_id.is_none() && e.to.is_empty());
    }

    #[test]
    fn any_bytes_give_an_envelope() {
        for input in [
            &b"From: <<<@@@>>>,,;;::\r\n"[..],
            b"To: (((unclosed\r\n",
            b"Cc: \"unclosed\r\n",
            b":\r\n\r\n",
            b"\xff\xfe: \xff\r\n",
        ] {
            let _ = envelope(input);
        }
    }
}
