//! SMTP commands and a resumable reader for them: push bytes as they arrive, take commands out
//! when whole lines are there. Lines may end in CRLF or a bare LF (commands only; in DATA only
//! CRLF counts, see [`super::data`]).

use super::reply::Reply;

/// Longest command line accepted, terminator included. RFC 5321 §4.5.3.1.4 asks for 512; long
/// EHLO names and many ESMTP parameters exceed that in practice.
pub const MAX_COMMAND_LINE: usize = 2048;
/// Longest path (RFC 5321 §4.5.3.1.3).
pub const MAX_PATH: usize = 256;

/// An ESMTP parameter: `SIZE=1000`, `BODY=8BITMIME`, `SMTPUTF8`.
pub type Param = (String, Option<String>);

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `HELO domain`.
    Helo(String),
    /// `EHLO domain`.
    Ehlo(String),
    /// `MAIL FROM:<path> params`; an empty path is the null sender (bounces).
    Mail { from: String, params: Vec<Param> },
    /// `RCPT TO:<path> params`.
    Rcpt { to: String, params: Vec<Param> },
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]` (RFC 3030).
    Bdat { size: u64, last: bool },
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY string`.
    Vrfy(String),
    /// `EXPN string`.
    Expn(String),
    /// `HELP`.
    Help,
    /// `STARTTLS`.
    Starttls,
    /// `AUTH mechanism [initial-response]`.
    Auth(String),
}

/// Why a line is not a command, with the reply it earns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Longer than [`MAX_COMMAND_LINE`].
    LineTooLong,
    /// A verb we do not know.
    Unknown(String),
    /// A known verb with bad arguments.
    Syntax(&'static str),
}

impl ParseError {
    /// The reply for this error.
    pub fn reply(&self) -> Reply {
        match self {
            ParseError::LineTooLong => Reply::new(500, Some("5.5.2"), "line too long"),
            ParseError::Unknown(v) => {
                let shown: String = v
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(16)
                    .collect();
                Reply::new(
                    500,
                    Some("5.5.1"),
                    format!("command not recognized: {shown}"),
                )
            }
            ParseError::Syntax(why) => Reply::new(501, Some("5.5.4"), *why),
        }
    }
}

/// Accumulates bytes and yields one command per complete line.
#[derive(Debug, Default)]
pub struct CommandReader {
    buf: Vec<u8>,
    discarding: bool,
}

impl CommandReader {
    /// A reader with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet taken (after DATA or BDAT they belong to the message).
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The next command, an error for the next line, or `None` when more bytes are needed.
    pub fn next_command(&mut self) -> Option<Result<Command, ParseError>> {
        self.next_line().map(|l| l.and_then(|l| parse(&l)))
    }

    /// The next line as it came (without its line ending; a SASL response, say), an error for
    /// an overlong one, or `None` when more bytes are needed.
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, ParseError>> {
        loop {
            match self.buf.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    let line: Vec<u8> = self.buf.drain(..=end).collect();
                    if self.discarding {
                        // The tail of an overlong line, already answered.
                        self.discarding = false;
                        continue;
                    }
                    if line.len() > MAX_COMMAND_LINE {
                        return Some(Err(ParseError::LineTooLong));
                    }
                    let line = &line[..line.len() - 1];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    return Some(Ok(line.to_vec()));
                }
                None if self.buf.len() > MAX_COMMAND_LINE => {
                    self.buf.clear();
                    if self.discarding {
                        return None;
                    }
                    self.discarding = true;
                    return Some(Err(ParseError::LineTooLong));
                }
                None => return None,
            }
        }
    }
}

/// Parses one command line (without its line ending).
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    if line.contains(&0) {
        return Err(ParseError::Syntax("NUL bytes are not allowed in commands"));
    }
    let line =
        std::str::from_utf8(line).map_err(|_| ParseError::Syntax("commands must be UTF-8"))?;
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], line[i + 1..].trim()),
        None => (line, ""),
    };
    let no_args = |c: Command| {
        if rest.is_empty() {
            Ok(c)
        } else {
            Err(ParseError::Syntax("this command takes no arguments"))
        }
    };
    match verb.to_ascii_uppercase().as_str() {
        "HELO" | "EHLO" if rest.is_empty() || rest.contains(' ') => {
            Err(ParseError::Syntax("give one domain or address literal"))
        }
        "HELO" => Ok(Command::Helo(rest.to_string())),
        "EHLO" => Ok(Command::Ehlo(rest.to_string())),
        "MAIL" => {
            let (from, params) = path_and_params(rest, "FROM:")?;
            Ok(Command::Mail { from, params })
        }
        "RCPT" => {
            let (to, params) = path_and_params(rest, "TO:")?;
            if to.is_empty() {
                return Err(ParseError::Syntax("the recipient cannot be empty"));
            }
            Ok(Command::Rcpt { to, params })
        }
        "DATA" => no_args(Command::Data),
        "BDAT" => {
            let mut parts = rest.split_ascii_whitespace();
            let size = parts
                .next()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(ParseError::Syntax("BDAT needs a chunk size"))?;
            let last = match parts.next() {
                None => false,
                Some(l) if l.eq_ignore_ascii_case("LAST") => true,
                Some(_) => return Err(ParseError::Syntax("BDAT size [LAST]")),
            };
            if parts.next().is_some() {
                return Err(ParseError::Syntax("BDAT size [LAST]"));
            }
            Ok(Command::Bdat { size, last })
        }
        "RSET" => no_args(Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_args(Command::Quit),
        "VRFY" => Ok(Command::Vrfy(rest.to_string())),
        "EXPN" => Ok(Command::Expn(rest.to_string())),
        "HELP" => Ok(Command::Help),
        "STARTTLS" => no_args(Command::Starttls),
        "AUTH" if rest.is_empty() => Err(ParseError::Syntax("AUTH mechanism [initial-response]")),
        "AUTH" => Ok(Command::Auth(rest.to_string())),
        _ => Err(ParseError::Unknown(verb.to_string())),
    }
}

/// `FROM:<path> params`: the path (without brackets and source route) and the parameters.
fn path_and_params(rest: &str, keyword: &str) -> Result<(String, Vec<Param>), ParseError> {
    let bad =
        ParseError::Syntax("expected FROM:<address> or TO:<address>, then optional parameters");
    // `get`, not indexing: the cut may fall inside a multi-byte character (found by fuzzing).
    let Some(rest) = rest
        .get(..keyword.len())
        .filter(|k| k.eq_ignore_ascii_case(keyword))
        .and(rest.get(keyword.len()..))
    else {
        return Err(bad);
    };
    let rest = rest.trim_start();
    let (path, params) = if let Some(inner) = rest.strip_prefix('<') {
        let close = inner
            .find('>')
            .ok_or(ParseError::Syntax("unterminated <address>"))?;
        (&inner[..close], inner[close + 1..].trim())
    } else {
        // Lenient: a bare address without angle brackets.
        match rest.find(' ') {
            Some(i) => (&rest[..i], rest[i + 1..].trim()),
            None => (rest, ""),
        }
    };
    if path.len() > MAX_PATH {
        return Err(ParseError::Syntax(
            "the address is longer than 256 characters",
        ));
    }
    // A source route (`@a,@b:user@d`) must be accepted and ignored (RFC 5321 §4.1.2).
    let path = match path.strip_prefix('@') {
        Some(_) => path.split_once(':').map(|(_, p)| p).ok_or(bad.clone())?,
        None => path,
    };
    if !path.is_empty() && !valid_mailbox(path) {
        return Err(ParseError::Syntax("not a valid address"));
    }
    let mut out = Vec::new();
    for p in params.split_ascii_whitespace() {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (p, None),
        };
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ParseError::Syntax("malformed parameter"));
        }
        out.push((k.to_ascii_uppercase(), v));
    }
    Ok((path.to_string(), out))
}

/// `local@domain`: a dot-atom or quoted local part, a domain or an address literal.
fn valid_mailbox(path: &str) -> bool {
    let Some((local, domain)) = path.rsplit_once('@') else {
        return false;
    };
    let local_ok = if let Some(q) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        !q.is_empty() && q.len() <= 64 && !q.contains(['\r', '\n'])
    } else {
        !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii())
    };
    let domain_ok = if let Some(lit) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        lit.parse::<std::net::Ipv4Addr>().is_ok()
            || lit
                .strip_prefix("IPv6:")
                .is_some_and(|v| v.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !domain.is_empty()
            && domain.len() <= 255
            && domain
                .split('.')
                .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'))
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.' || !c.is_ascii())
    };
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command, ParseError> {
        parse(s.as_bytes())
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            p("EHLO client.example"),
            Ok(Command::Ehlo("client.example".into()))
        );
        assert_eq!(
            p("helo [192.0.2.1]"),
            Ok(Command::Helo("[192.0.2.1]".into()))
        );
        assert_eq!(
            p("MAIL FROM:<ana@example.com> SIZE=1000 BODY=8BITMIME SMTPUTF8"),
            Ok(Command::Mail {
                from: "ana@example.com".into(),
                params: vec![
                    ("SIZE".into(), Some("1000".into())),
                    ("BODY".into(), Some("8BITMIME".into())),
                    ("SMTPUTF8".into(), None)
                ]
            })
        );
        assert_eq!(
            p("mail from: <>"),
            Ok(Command::Mail {
                from: String::new(),
                params: vec![]
            })
        );
        assert_eq!(
            p("RCPT TO:<@relay.example:bo@example.com>"),
            Ok(Command::Rcpt {
                to: "bo@example.com".into(),
                params: vec![]
            })
        );
        assert_eq!(
            p("RCPT TO:bo@example.com"),
            Ok(Command::Rcpt {
                to: "bo@example.com".into(),
                params: vec![]
            })
        );
        assert_eq!(
            p("RCPT TO:<\"ana silva\"@example.com>"),
            Ok(Command::Rcpt {
                to: "\"ana silva\"@example.com".into(),
                params: vec![]
            })
        );
        assert_eq!(
            p("RCPT TO:<josé@exemplo.pt>"),
            Ok(Command::Rcpt {
                to: "josé@exemplo.pt".into(),
                params: vec![]
            })
        );
        assert_eq!(
            p("BDAT 1000 LAST"),
            Ok(Command::Bdat {
                size: 1000,
                last: true
            })
        );
        assert_eq!(p("data"), Ok(Command::Data));
        assert_eq!(p("QUIT"), Ok(Command::Quit));
    }

    #[test]
    fn a_multibyte_character_where_the_keyword_should_end_is_an_error_not_a_panic() {
        // Found by `cargo fuzz run smtp_readers`.
        assert_eq!(
            p("MAIL FROM\u{1ac}UUUUUU@Ub.ex06")
                .unwrap_err()
                .reply()
                .code,
            501
        );
        assert_eq!(p("RCPT TOé<a@b.example>").unwrap_err().reply().code, 501);
        assert_eq!(p("RCPT é").unwrap_err().reply().code, 501);
    }

    #[test]
    fn bad_commands_get_the_right_reply() {
        for (line, code) in [
            ("FOO bar", 500),
            ("MAIL TO:<a@b.example>", 501),
            ("MAIL FROM:<a@b.example", 501),
            ("RCPT TO:<>", 501),
            ("RCPT TO:<no-at-sign>", 501),
            ("MAIL FROM:<a@b.example> SI%E=1", 501),
            ("DATA now", 501),
            ("EHLO", 501),
            ("BDAT many", 501),
        ] {
            assert_eq!(p(line).unwrap_err().reply().code, code, "{line}");
        }
        assert_eq!(
            parse(b"MAIL FROM:<a@b\0.example>")
                .unwrap_err()
                .reply()
                .code,
            501
        );
        assert_eq!(parse(b"EHLO \xff\xfe").unwrap_err().reply().code, 501);
        let long = format!("RCPT TO:<{}@example.com>", "a".repeat(300));
        assert_eq!(p(&long).unwrap_err().reply().code, 501);
    }

    /// Pipelined commands, split at every chunk size, come out the same.
    #[test]
    fn the_reader_is_resumable_at_every_chunk_size() {
        let stream = b"EHLO c.example\r\nMAIL FROM:<a@b.example> SIZE=10\r\nRCPT TO:<x@y.example>\nRCPT TO:<z@y.example>\r\nDATA\r\n";
        let expected = {
            let mut r = CommandReader::new();
            r.push(stream);
            std::iter::from_fn(|| r.next_command()).collect::<Vec<_>>()
        };
        assert_eq!(expected.len(), 5);
        assert!(expected.iter().all(|c| c.is_ok()));
        for size in 1..=512 {
            let mut r = CommandReader::new();
            let mut got = Vec::new();
            for chunk in stream.chunks(size) {
                r.push(chunk);
                while let Some(c) = r.next_command() {
                    got.push(c);
                }
            }
            assert_eq!(got, expected, "chunk size {size}");
        }
    }

    #[test]
    fn an_overlong_line_is_answered_once_and_the_next_command_still_works() {
        let mut stream = vec![b'A'; MAX_COMMAND_LINE * 3];
        stream.extend_from_slice(b"\r\nNOOP\r\n");
        for size in [1, 7, 512, 4096] {
            let mut r = CommandReader::new();
            let mut got = Vec::new();
            for chunk in stream.chunks(size) {
                r.push(chunk);
                while let Some(c) = r.next_command() {
                    got.push(c);
                }
            }
            assert_eq!(
                got,
                vec![Err(ParseError::LineTooLong), Ok(Command::Noop)],
                "chunk size {size}"
            );
        }
    }
}
