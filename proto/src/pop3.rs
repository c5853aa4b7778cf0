//! POP3 (RFC 1939) without I/O: the line reader, the command parser and the message encoder.
//!
//! - [`LineReader`]: push bytes as they arrive, take out whole lines (LF or CRLF ended). A line
//!   longer than the bound is refused once and skipped up to its end, so the stream stays in
//!   step with a client that pipelines (RFC 2449 PIPELINING).
//! - [`parse`]: one line into a [`Command`]; keywords in any case, message numbers as RFC 1939
//!   has them (decimal, from 1).
//! - [`write_message`] / [`wire_len`]: a stored message as RETR and TOP send it. **The rule for
//!   line endings:** every line ends in CRLF on the wire, whether the stored line ended in CRLF
//!   or in a bare LF; a last line without an ending gets CRLF; a CR not followed by LF is sent
//!   as it is. A line that starts with `.` gets one more `.` (byte-stuffing), and `.` CRLF ends
//!   the response. [`wire_len`] counts the octets after line endings are made CRLF and before
//!   byte-stuffing: the size LIST and STAT report (RFC 1939 §11), which is also the count of
//!   octets a client holds once it has undone the stuffing.

/// Octets of one command line, line ending excluded. RFC 2449 caps commands at 255 octets;
/// SASL responses (RFC 5034) may be longer, so the bound is wider.
pub const MAX_LINE: usize = 2048;

/// A POP3 command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name`.
    User(String),
    /// `PASS password` (the rest of the line: a password may hold spaces).
    Pass(String),
    /// `AUTH [mechanism [initial-response]]` (RFC 5034); no mechanism lists them.
    Auth {
        /// The mechanism, upper case; `None` asks for the list.
        mechanism: Option<String>,
        /// The initial response (base64, or `=` for an empty one).
        initial: Option<String>,
    },
    /// `CAPA` (RFC 2449).
    Capa,
    /// `STLS` (RFC 2595).
    Stls,
    /// `UTF8` (RFC 6856).
    Utf8,
    /// `QUIT`.
    Quit,
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List(Option<u32>),
    /// `RETR msg`.
    Retr(u32),
    /// `DELE msg`.
    Dele(u32),
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `TOP msg n`.
    Top(u32, u32),
    /// `UIDL [msg]`.
    Uidl(Option<u32>),
}

/// Why a line is not a command; the text goes after `-ERR `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub &'static str);

/// Parses one command line (without its line ending).
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let Ok(text) = std::str::from_utf8(line) else {
        return Err(ParseError("command is not UTF-8"));
    };
    let (keyword, rest) = match text.find(' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let keyword = keyword.to_ascii_uppercase();
    let args: Vec<&str> = rest.split(' ').filter(|a| !a.is_empty()).collect();
    let none = |c: Command| {
        if args.is_empty() {
            Ok(c)
        } else {
            Err(ParseError("this command takes no arguments"))
        }
    };
    match keyword.as_str() {
        "USER" => match args.as_slice() {
            [name] => Ok(Command::User((*name).to_string())),
            _ => Err(ParseError("usage: USER name")),
        },
        // The rest of the line, as it is: passwords may hold spaces (RFC 1939 §7 allows it).
        "PASS" if !rest.is_empty() => Ok(Command::Pass(rest.to_string())),
        "PASS" => Err(ParseError("usage: PASS password")),
        "AUTH" => match args.as_slice() {
            [] => Ok(Command::Auth {
                mechanism: None,
                initial: None,
            }),
            [m] => Ok(Command::Auth {
                mechanism: Some(m.to_ascii_uppercase()),
                initial: None,
            }),
            [m, ir] => Ok(Command::Auth {
                mechanism: Some(m.to_ascii_uppercase()),
                initial: Some((*ir).to_string()),
            }),
            _ => Err(ParseError("usage: AUTH mechanism [initial-response]")),
        },
        "CAPA" => none(Command::Capa),
        "STLS" => none(Command::Stls),
        "UTF8" => none(Command::Utf8),
        "QUIT" => none(Command::Quit),
        "STAT" => none(Command::Stat),
        "NOOP" => none(Command::Noop),
        "RSET" => none(Command::Rset),
        "LIST" => match args.as_slice() {
            [] => Ok(Command::List(None)),
            [n] => Ok(Command::List(Some(number(n)?))),
            _ => Err(ParseError("usage: LIST [msg]")),
        },
        "UIDL" => match args.as_slice() {
            [] => Ok(Command::Uidl(None)),
            [n] => Ok(Command::Uidl(Some(number(n)?))),
            _ => Err(ParseError("usage: UIDL [msg]")),
        },
        "RETR" => match args.as_slice() {
            [n] => Ok(Command::Retr(number(n)?)),
            _ => Err(ParseError("usage: RETR msg")),
        },
        "DELE" => match args.as_slice() {
            [n] => Ok(Command::Dele(number(n)?)),
            _ => Err(ParseError("usage: DELE msg")),
        },
        "TOP" => match args.as_slice() {
            [n, lines] => Ok(Command::Top(number(n)?, count(lines)?)),
            _ => Err(ParseError("usage: TOP msg lines")),
        },
        "" => Err(ParseError("empty command")),
        _ => Err(ParseError("unknown command")),
    }
}

/// A message number: decimal digits, 1 or more.
fn number(s: &str) -> Result<u32, ParseError> {
    match count(s) {
        Ok(0) | Err(_) => Err(ParseError("invalid message number")),
        Ok(n) => Ok(n),
    }
}

/// A non-negative count (TOP's lines): decimal digits only.
fn count(s: &str) -> Result<u32, ParseError> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError("invalid number"));
    }
    s.parse().map_err(|_| ParseError("number too large"))
}

/// What [`LineReader::next_line`] hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A whole line, its ending removed.
    Line(Vec<u8>),
    /// A line over [`MAX_LINE`]: its bytes were dropped.
    TooLong,
}

/// Splits pushed bytes into lines, each bounded by [`MAX_LINE`].
#[derive(Debug, Default)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Inside an over-long line: drop bytes up to its end.
    skipping: bool,
}

impl LineReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes that arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next line, or `None` when more bytes are needed.
    pub fn next_line(&mut self) -> Option<Line> {
        loop {
            match self.buf.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                    if self.skipping {
                        self.skipping = false;
                        continue;
                    }
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if line.len() > MAX_LINE {
                        return Some(Line::TooLong);
                    }
                    return Some(Line::Line(line));
                }
                None if self.buf.len() > MAX_LINE + 1 => {
                    self.buf.clear();
                    if self.skipping {
                        return None;
                    }
                    self.skipping = true;
                    return Some(Line::TooLong);
                }
                None => return None,
            }
        }
    }

    /// Bytes held (pushed and not yet handed out).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Drops whatever was pushed and not yet read (bytes pipelined after STLS).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.skipping = false;
    }
}

/// The lines of a message: each without its ending (LF, or CRLF).
fn lines(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = raw;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (line, next) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    })
}

/// Octets of the message with every line ending made CRLF, before byte-stuffing: the size
/// LIST and STAT report (see the module docs).
pub fn wire_len(raw: &[u8]) -> u64 {
    lines(raw).map(|l| l.len() as u64 + 2).sum()
}

/// Appends the message as a multi-line response body: CRLF line endings, byte-stuffed,
/// ended by `.` CRLF. `body_lines`: TOP's count (the header block, the blank line, then at
/// most that many lines of the body); `None` sends the whole message (RETR).
pub fn write_message(out: &mut Vec<u8>, raw: &[u8], body_lines: Option<u32>) {
    out.reserve(raw.len() + raw.len() / 32 + 8);
    let mut in_header = true;
    let mut left = body_lines.map(u64::from);
    for line in lines(raw) {
        if !in_header {
            match &mut left {
                Some(0) => break,
                Some(n) => *n -= 1,
                None => {}
            }
        }
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        if in_header && line.is_empty() {
            in_header = false;
        }
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Undoes what a client undoes: the terminator and the stuffing.
    fn unstuff(wire: &[u8]) -> Vec<u8> {
        let body = wire.strip_suffix(b".\r\n").expect("terminator");
        let mut out = Vec::new();
        for line in body.split_inclusive(|b| *b == b'\n') {
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        }
        out
    }

    #[test]
    fn commands_parse_in_any_case() {
        assert_eq!(
            parse(b"user alice@example.com"),
            Ok(Command::User("alice@example.com".into()))
        );
        assert_eq!(
            parse(b"PASS two words"),
            Ok(Command::Pass("two words".into()))
        );
        assert_eq!(parse(b"Stat"), Ok(Command::Stat));
        assert_eq!(parse(b"LIST"), Ok(Command::List(None)));
        assert_eq!(parse(b"list 3"), Ok(Command::List(Some(3))));
        assert_eq!(parse(b"TOP 2 0"), Ok(Command::Top(2, 0)));
        assert_eq!(parse(b"UIDL 10"), Ok(Command::Uidl(Some(10))));
        assert_eq!(
            parse(b"AUTH plain AGFAYgBj"),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("AGFAYgBj".into())
            })
        );
        assert_eq!(
            parse(b"AUTH"),
            Ok(Command::Auth {
                mechanism: None,
                initial: None
            })
        );
    }

    #[test]
    fn bad_commands_are_refused_with_a_reason() {
        for bad in [
            &b""[..],
            b"XYZZY",
            b"RETR",
            b"RETR 0",
            b"RETR -1",
            b"RETR 1x",
            b"RETR 99999999999",
            b"DELE 1 2",
            b"STAT now",
            b"TOP 1",
            b"USER",
            b"PASS",
            b"\xff\xfe",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn lines_are_split_and_bounded() {
        let mut r = LineReader::new();
        r.push(b"USER a\r\nPA");
        assert_eq!(r.next_line(), Some(Line::Line(b"USER a".to_vec())));
        assert_eq!(r.next_line(), None);
        r.push(b"SS b\nSTAT\r\n");
        assert_eq!(r.next_line(), Some(Line::Line(b"PASS b".to_vec())));
        assert_eq!(r.next_line(), Some(Line::Line(b"STAT".to_vec())));
        // An over-long line is refused once, then the reader is back in step.
        r.push(&vec![b'x'; MAX_LINE * 3]);
        assert_eq!(r.next_line(), Some(Line::TooLong));
        r.push(&vec![b'x'; MAX_LINE * 3]);
        assert_eq!(r.next_line(), None);
        r.push(b"xx\r\nNOOP\r\n");
        assert_eq!(r.next_line(), Some(Line::Line(b"NOOP".to_vec())));
        // One just over the bound that arrives whole.
        let mut long = vec![b'y'; MAX_LINE + 1];
        long.extend_from_slice(b"\r\nQUIT\r\n");
        r.push(&long);
        assert_eq!(r.next_line(), Some(Line::TooLong));
        assert_eq!(r.next_line(), Some(Line::Line(b"QUIT".to_vec())));
    }

    #[test]
    fn every_chunking_gives_the_same_lines() {
        let input = b"CAPA\r\nUSER a\r\nPASS b c\nLIST\r\nRETR 1\r\nQUIT\r\n";
        let whole: Vec<Line> = {
            let mut r = LineReader::new();
            r.push(input);
            std::iter::from_fn(|| r.next_line()).collect()
        };
        assert_eq!(whole.len(), 6);
        for size in 1..input.len() {
            let mut r = LineReader::new();
            let mut got = Vec::new();
            for chunk in input.chunks(size) {
                r.push(chunk);
                while let Some(l) = r.next_line() {
                    got.push(l);
                }
            }
            assert_eq!(got, whole, "chunk size {size}");
        }
    }

    #[test]
    fn messages_go_out_crlf_and_stuffed() {
        let raw = b"Subject: x\r\n\r\n.hidden\r\n..two\r\nlast";
        let mut out = Vec::new();
        write_message(&mut out, raw, None);
        assert_eq!(
            out,
            b"Subject: x\r\n\r\n..hidden\r\n...two\r\nlast\r\n.\r\n"
        );
        assert_eq!(unstuff(&out).len() as u64, wire_len(raw));
        // LF-only lines become CRLF; a bare CR stays.
        let raw = b"A: b\n\nline\ronly\n.\n";
        let mut out = Vec::new();
        write_message(&mut out, raw, None);
        assert_eq!(out, b"A: b\r\n\r\nline\ronly\r\n..\r\n.\r\n");
        assert_eq!(unstuff(&out).len() as u64, wire_len(raw));
        assert_eq!(wire_len(b""), 0);
    }

    #[test]
    fn top_sends_the_header_and_some_body_lines() {
        let raw = b"From: a\r\nTo: b\r\n\r\none\r\ntwo\r\nthree\r\n";
        let mut out = Vec::new();
        write_message(&mut out, raw, Some(0));
        assert_eq!(out, b"From: a\r\nTo: b\r\n\r\n.\r\n");
        out.clear();
        write_message(&mut out, raw, Some(2));
        assert_eq!(out, b"From: a\r\nTo: b\r\n\r\none\r\ntwo\r\n.\r\n");
        out.clear();
        write_message(&mut out, raw, Some(100));
        let mut whole = Vec::new();
        write_message(&mut whole, raw, None);
        assert_eq!(out, whole);
        // No blank line: all of it is header.
        out.clear();
        write_message(&mut out, b"From: a\r\nTo: b", Some(0));
        assert_eq!(out, b"From: a\r\nTo: b\r\n.\r\n");
    }
}
