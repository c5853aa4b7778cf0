//! The IMAP command reader: push bytes as they arrive, take out whole commands. A command is
//! one line, or several when it carries literals (`{n}`, `{n+}`, `~{n}`: RFC 9051 §4.3, RFC
//! 7888); the reader hands out the command with its literals in place, exactly as the grammar
//! has them (`{5}\r\nhello`), so the parser works on one byte string.
//!
//! Everything is bounded: the length of each line, of each literal, of the whole command, and
//! the number of literals in one command. A synchronising literal over a bound is refused before
//! the client sends it (the client waits for `+`), so the stream stays in step; a
//! non-synchronising one over a bound cannot be skipped safely (its bytes are on their way and
//! could hold anything), so the connection must end.

/// The reader's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one line of a command (between literals), line ending excluded.
    pub max_line: usize,
    /// Bytes of one literal (APPEND's message is one: the largest message accepted).
    pub max_literal: usize,
    /// Bytes of a whole command, literals included.
    pub max_command: usize,
    /// Literals in one command.
    pub max_literals: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line: 64 * 1024,
            max_literal: 50 * 1024 * 1024,
            max_command: 50 * 1024 * 1024 + 64 * 1024,
            max_literals: 1000,
        }
    }
}

/// Why a command was refused before it was whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A line longer than [`Limits::max_line`].
    LineTooLong,
    /// A literal larger than [`Limits::max_literal`], or one that would make the command larger
    /// than [`Limits::max_command`].
    LiteralTooLarge,
    /// More than [`Limits::max_literals`] literals.
    TooManyLiterals,
}

impl Refusal {
    /// Words for the client.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::LineTooLong => "command line too long",
            Refusal::LiteralTooLarge => "literal too large",
            Refusal::TooManyLiterals => "too many literals in one command",
        }
    }
}

/// What the reader has to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole command: its lines and literals as sent, the final line ending removed.
    Command(Vec<u8>),
    /// The client announced a synchronising literal and waits: send a continuation request
    /// (`+ …`), then keep pushing what arrives.
    Continue,
    /// The command was refused before it was whole; answer it (`tag BAD …`, or `NO [TOOBIG]`
    /// for a literal) and read on: the rest of it is dropped and nothing of it will follow.
    Refused {
        /// The command's tag, when one could be read.
        tag: Option<String>,
        /// Why.
        why: Refusal,
    },
    /// The stream cannot be followed any more (a non-synchronising literal over a bound is on
    /// its way): say `* BYE` and close.
    Fatal(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a line.
    Line,
    /// Reading a literal's bytes.
    Literal { remaining: usize },
    /// Dropping input up to the end of the current line (after refusing an overlong one).
    Discard,
    /// After [`Event::Fatal`]: nothing more is read.
    Dead,
}

/// Accumulates bytes and yields [`Event`]s.
#[derive(Debug)]
pub struct CommandReader {
    limits: Limits,
    /// Received and not yet looked at.
    input: Vec<u8>,
    /// Where in `input` the search for a line end resumes.
    scanned: usize,
    /// The command so far.
    cmd: Vec<u8>,
    literals: usize,
    state: State,
}

impl CommandReader {
    /// A reader with these bounds.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            input: Vec::new(),
            scanned: 0,
            cmd: Vec::new(),
            literals: 0,
            state: State::Line,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.state != State::Dead {
            self.input.extend_from_slice(bytes);
        }
    }

    /// Takes the bytes received after the last command handed out (between commands: they
    /// begin the next one), leaving the reader empty. After COMPRESS they are compressed and
    /// go to the inflater instead.
    pub fn take_input(&mut self) -> Vec<u8> {
        self.scanned = 0;
        std::mem::take(&mut self.input)
    }

    /// Bytes held (received and not yet handed out), for memory accounting.
    pub fn buffered(&self) -> usize {
        self.input.len() + self.cmd.len()
    }

    /// The next event, or `None` when more bytes are needed.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            match self.state {
                State::Dead => return None,
                State::Literal { remaining } => {
                    let take = remaining.min(self.input.len());
                    self.cmd.extend(self.input.drain(..take));
                    self.scanned = 0;
                    if take < remaining {
                        self.state = State::Literal {
                            remaining: remaining - take,
                        };
                        return None;
                    }
                    self.state = State::Line;
                }
                State::Discard => match self.input.iter().position(|b| *b == b'\n') {
                    Some(end) => {
                        self.input.drain(..=end);
                        self.scanned = 0;
                        self.state = State::Line;
                    }
                    None => {
                        self.input.clear();
                        self.scanned = 0;
                        return None;
                    }
                },
                State::Line => {
                    let found = self.input[self.scanned..]
                        .iter()
                        .position(|b| *b == b'\n')
                        .map(|i| self.scanned + i);
                    let Some(end) = found else {
                        self.scanned = self.input.len();
                        // One more byte than a line may hold: its CR.
                        if self.input.len() > self.limits.max_line + 1 {
                            return Some(self.refuse(Refusal::LineTooLong, true));
                        }
                        return None;
                    };
                    let mut text: Vec<u8> = self.input.drain(..=end).collect();
                    self.scanned = 0;
                    text.pop();
                    if text.last() == Some(&b'\r') {
                        text.pop();
                    }
                    if text.len() > self.limits.max_line {
                        self.cmd.extend_from_slice(&text);
                        return Some(self.refuse(Refusal::LineTooLong, false));
                    }
                    self.cmd.extend_from_slice(&text);
                    let Some((size, sync)) = literal_at_end(&text) else {
                        self.literals = 0;
                        self.state = State::Line;
                        return Some(Event::Command(std::mem::take(&mut self.cmd)));
                    };
                    self.literals += 1;
                    let why = if self.literals > self.limits.max_literals {
                        Some(Refusal::TooManyLiterals)
                    } else if size > self.limits.max_literal
                        || self.cmd.len().saturating_add(size) > self.limits.max_command
                    {
                        Some(Refusal::LiteralTooLarge)
                    } else {
                        None
                    };
                    if let Some(why) = why {
                        if !sync {
                            self.state = State::Dead;
                            self.input.clear();
                            self.cmd.clear();
                            return Some(Event::Fatal(why));
                        }
                        // The client waits for `+`, which never comes: the command ends here.
                        return Some(self.refuse(why, false));
                    }
                    self.cmd.extend_from_slice(b"\r\n");
                    self.state = State::Literal { remaining: size };
                    if sync {
                        return Some(Event::Continue);
                    }
                }
            }
        }
    }

    /// Refuses the command being read; `rest_of_line`: the current line has not ended yet, so
    /// drop input up to its end.
    fn refuse(&mut self, why: Refusal, rest_of_line: bool) -> Event {
        let tag = tag_of(&self.cmd, &self.input);
        self.cmd.clear();
        self.literals = 0;
        if rest_of_line {
            self.input.clear();
            self.scanned = 0;
            self.state = State::Discard;
        } else {
            self.state = State::Line;
        }
        Event::Refused { tag, why }
    }
}

/// A literal announced at the end of a line: `{n}` (synchronising), `{n+}` or `{n-}`
/// (non-synchronising, RFC 7888), also as `~{n}` (literal8). Returns its size and whether the
/// client waits for a continuation request.
fn literal_at_end(line: &[u8]) -> Option<(usize, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let mut digits = &inner[open + 1..];
    let sync = match digits.last() {
        Some(b'+') | Some(b'-') => {
            digits = &digits[..digits.len() - 1];
            false
        }
        _ => true,
    };
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    Some((usize::try_from(n).unwrap_or(usize::MAX), sync))
}

/// The tag at the start of a command, if it looks like one (up to 64 tag characters).
fn tag_of(cmd: &[u8], input: &[u8]) -> Option<String> {
    let start = if cmd.is_empty() { input } else { cmd };
    let end = start.iter().position(|b| *b == b' ').unwrap_or(start.len());
    let tag = &start[..end];
    let ok = !tag.is_empty()
        && tag.len() <= 64
        && tag
            .iter()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(b));
    ok.then(|| String::from_utf8_lossy(tag).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Limits {
        Limits {
            max_line: 64,
            max_literal: 20,
            max_command: 100,
            max_literals: 3,
        }
    }

    /// Every event for `stream` pushed in pieces of `size`.
    fn events(stream: &[u8], size: usize, limits: Limits) -> Vec<Event> {
        let mut r = CommandReader::new(limits);
        let mut out = Vec::new();
        for chunk in stream.chunks(size) {
            r.push(chunk);
            while let Some(e) = r.next_event() {
                out.push(e);
            }
        }
        out
    }

    fn cmd(s: &[u8]) -> Event {
        Event::Command(s.to_vec())
    }

    /// The same events at every chunk size.
    fn same_at_every_size(stream: &[u8], limits: Limits, want: &[Event]) {
        for size in 1..=stream.len().max(1) {
            assert_eq!(events(stream, size, limits), want, "chunk size {size}");
        }
    }

    #[test]
    fn commands_and_literals_come_out_whole_at_every_chunk_size() {
        let stream = b"a1 NOOP\r\na2 LOGIN {3}\r\nana {6+}\r\nse\r\n t\r\na3 APPEND INBOX (\\Seen) ~{5}\r\nx\0\r\ny\r\na4 LOGOUT\n";
        same_at_every_size(
            stream,
            Limits::default(),
            &[
                cmd(b"a1 NOOP"),
                Event::Continue,
                cmd(b"a2 LOGIN {3}\r\nana {6+}\r\nse\r\n t"),
                Event::Continue,
                cmd(b"a3 APPEND INBOX (\\Seen) ~{5}\r\nx\0\r\ny"),
                cmd(b"a4 LOGOUT"),
            ],
        );
    }

    #[test]
    fn a_synchronising_literal_is_announced_before_its_bytes_come() {
        let mut r = CommandReader::new(Limits::default());
        r.push(b"a1 APPEND INBOX {5}\r\n");
        assert_eq!(r.next_event(), Some(Event::Continue));
        assert_eq!(r.next_event(), None, "waits for the literal");
        r.push(b"hel");
        assert_eq!(r.next_event(), None);
        r.push(b"lo\r\n");
        assert_eq!(r.next_event(), Some(cmd(b"a1 APPEND INBOX {5}\r\nhello")));
    }

    #[test]
    fn an_oversized_synchronising_literal_is_refused_and_the_next_command_works() {
        let stream = b"a1 APPEND INBOX {21}\r\na2 NOOP\r\n";
        same_at_every_size(
            stream,
            small(),
            &[
                Event::Refused {
                    tag: Some("a1".into()),
                    why: Refusal::LiteralTooLarge,
                },
                cmd(b"a2 NOOP"),
            ],
        );
        // Past the whole command's bound, even when the literal alone fits.
        let stream =
            b"a1 X {20}\r\n12345678901234567890 {20}\r\n12345678901234567890 {20}\r\na2 NOOP\r\n";
        let limits = Limits {
            max_command: 60,
            ..small()
        };
        let got = events(stream, stream.len(), limits);
        assert_eq!(
            got[..3],
            [
                Event::Continue,
                Event::Continue,
                Event::Refused {
                    tag: Some("a1".into()),
                    why: Refusal::LiteralTooLarge
                }
            ],
            "{got:?}"
        );
    }

    #[test]
    fn an_oversized_non_synchronising_literal_ends_the_stream() {
        let stream = b"a1 APPEND INBOX {21+}\r\nAAAAAAAAAAAAAAAAAAAAA\r\na2 NOOP\r\n";
        same_at_every_size(stream, small(), &[Event::Fatal(Refusal::LiteralTooLarge)]);
    }

    #[test]
    fn an_overlong_line_is_refused_once_and_the_next_command_works() {
        let mut stream = b"a1 LOGIN ".to_vec();
        stream.extend(std::iter::repeat_n(b'x', 200));
        stream.extend_from_slice(b"\r\na2 NOOP\r\n");
        same_at_every_size(
            &stream,
            small(),
            &[
                Event::Refused {
                    tag: Some("a1".into()),
                    why: Refusal::LineTooLong,
                },
                cmd(b"a2 NOOP"),
            ],
        );
    }

    #[test]
    fn too_many_literals_are_refused() {
        let stream = b"a1 X {1}\r\na {1}\r\nb {1}\r\nc {1}\r\nd\r\na2 NOOP\r\n";
        let got = events(stream, stream.len(), small());
        assert_eq!(
            got[..3],
            [Event::Continue, Event::Continue, Event::Continue]
        );
        assert_eq!(
            got[3],
            Event::Refused {
                tag: Some("a1".into()),
                why: Refusal::TooManyLiterals
            }
        );
        // The client never got `+` for the fourth literal: what it sends next is a command
        // (here `d`, then a2), read as such.
        assert_eq!(got[4..], [cmd(b"d"), cmd(b"a2 NOOP")]);
    }

    #[test]
    fn announcements_are_recognised_only_at_the_end_of_a_line() {
        assert_eq!(literal_at_end(b"a1 LOGIN {3}"), Some((3, true)));
        assert_eq!(literal_at_end(b"a1 LOGIN {3+}"), Some((3, false)));
        assert_eq!(literal_at_end(b"a1 LOGIN {3-}"), Some((3, false)));
        assert_eq!(literal_at_end(b"a1 APPEND X ~{10}"), Some((10, true)));
        assert_eq!(literal_at_end(b"a1 LOGIN \"{3}\" x"), None);
        assert_eq!(literal_at_end(b"a1 X {}"), None);
        assert_eq!(literal_at_end(b"a1 X {1a}"), None);
        assert_eq!(literal_at_end(b"a1 X {99999999999}"), None, "11 digits");
        assert_eq!(
            literal_at_end(b"a1 X {9999999999}").map(|(n, _)| n),
            Some(9_999_999_999)
        );
    }

    /// A fuzzing pass that runs in `cargo test`: random streams of the bytes that matter
    /// (braces, digits, `+`, `~`, line ends) give the same events at every chunk size, and the
    /// reader never holds more than its bounds.
    #[test]
    fn random_streams_are_cut_invariant_and_bounded() {
        let alphabet = b"{}{}+-~0123456789\r\n\r\n a1XY\0\xff";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let len = (next() % 300) as usize;
            let stream: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let whole = events(&stream, stream.len().max(1), small());
            for size in [1, 2, 3, 7, 13, 64] {
                let mut r = CommandReader::new(small());
                let mut got = Vec::new();
                for chunk in stream.chunks(size) {
                    r.push(chunk);
                    while let Some(e) = r.next_event() {
                        got.push(e);
                    }
                    assert!(r.buffered() <= 100 + 64 + 2 + size, "{stream:?}");
                }
                assert_eq!(got, whole, "{stream:?} at chunk size {size}");
            }
        }
    }
}
