//! The lexical layer of the IMAP grammar (RFC 9051 §9) over one whole command as the
//! [`super::reader`] hands it out: a cursor that takes a tag, atoms, strings (quoted or literal),
//! numbers, sequence sets and parenthesised lists, and says precisely what it expected when the
//! input does not fit (the text of the `BAD` reply).

/// What the input was expected to hold, for the `BAD` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError(pub &'static str);

/// The result of a lexical step.
pub type Lex<T> = Result<T, LexError>;

/// One number of a sequence set: a number, `*` (the largest in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNumber {
    /// A message sequence number or UID (never 0).
    Value(u32),
    /// `*`.
    Largest,
}

/// A sequence set (`1:4,7,9:*`), or `$` (SEARCHRES: the saved search result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    /// Ranges, each `from:to` in the order given (a single number is `n:n`).
    Ranges(Vec<(SeqNumber, SeqNumber)>),
    /// `$`.
    Saved,
}

impl SequenceSet {
    /// The ranges as inclusive `(low, high)` pairs, low first, with `*` standing for `largest`;
    /// `None` for `$` (the saved result is the caller's).
    pub fn bounds(&self, largest: u64) -> Option<Vec<(u64, u64)>> {
        let SequenceSet::Ranges(r) = self else {
            return None;
        };
        let v = |n: SeqNumber| match n {
            SeqNumber::Value(v) => u64::from(v),
            SeqNumber::Largest => largest,
        };
        Some(
            r.iter()
                .map(|&(a, b)| (v(a).min(v(b)), v(a).max(v(b))))
                .collect(),
        )
    }

    /// Whether `n` is in the ranges (`*` is `largest`); `None` for `$`.
    pub fn contains(&self, n: u64, largest: u64) -> Option<bool> {
        self.bounds(largest)
            .map(|b| b.iter().any(|(lo, hi)| (*lo..=*hi).contains(&n)))
    }
}

/// Sequence-set ranges one command may give (a client lists UIDs; bounded like everything).
pub const MAX_RANGES: usize = 10_000;

/// A cursor over one command.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"(){ %*\"\\]".contains(&b)
}

fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Self { input, pos: 0 }
    }

    /// Whether everything was taken.
    pub fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// The next byte, not taken.
    pub fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Takes `b` if it comes next.
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Takes exactly `b`.
    pub fn expect(&mut self, b: u8, what: &'static str) -> Lex<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(LexError(what))
        }
    }

    /// Takes one space.
    pub fn sp(&mut self) -> Lex<()> {
        self.expect(b' ', "expected a space")
    }

    /// Requires the end of the command.
    pub fn end(&self) -> Lex<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(LexError("unexpected characters at the end of the command"))
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// The command's tag.
    pub fn tag(&mut self) -> Lex<&'a str> {
        let t = self.take_while(is_tag_char);
        if t.is_empty() || t.len() > 64 {
            return Err(LexError("expected a tag"));
        }
        std::str::from_utf8(t).map_err(|_| LexError("expected a tag"))
    }

    /// An atom (a command name, a flag without its backslash, a keyword).
    pub fn atom(&mut self) -> Lex<&'a str> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return Err(LexError("expected an atom"));
        }
        std::str::from_utf8(a).map_err(|_| LexError("expected an atom"))
    }

    /// A number (`number` in the grammar: up to 2^32 - 1).
    pub fn number(&mut self) -> Lex<u32> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() || d.len() > 10 {
            return Err(LexError("expected a number"));
        }
        std::str::from_utf8(d)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(LexError("number out of range"))
    }

    /// A 63-bit number (`number64`: MODSEQ values).
    pub fn number64(&mut self) -> Lex<u64> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() || d.len() > 19 {
            return Err(LexError("expected a number"));
        }
        std::str::from_utf8(d)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|n| *n <= i64::MAX as u64)
            .ok_or(LexError("number out of range"))
    }

    /// A quoted string (`"…"` with `\"` and `\\`), as bytes.
    fn quoted(&mut self) -> Lex<Vec<u8>> {
        self.expect(b'"', "expected a quoted string")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r') | Some(b'\n') => {
                    return Err(LexError("unterminated quoted string"));
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        _ => return Err(LexError("bad escape in a quoted string")),
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A literal (`{n}`, `{n+}`, `{n-}`, `~{n}` then CRLF and n bytes), as a slice of the input.
    pub fn literal(&mut self) -> Lex<&'a [u8]> {
        self.eat(b'~');
        self.expect(b'{', "expected a literal")?;
        let n = self.number()? as usize;
        let _ = self.eat(b'+') || self.eat(b'-');
        self.expect(b'}', "expected a literal")?;
        self.expect(b'\r', "expected CRLF after a literal's size")?;
        self.expect(b'\n', "expected CRLF after a literal's size")?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.input.len())
            .ok_or(LexError("literal shorter than announced"))?;
        let bytes = &self.input[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// Whether a string starts here: `"`, `{` or `~{` (a `~` alone is an atom character).
    pub fn at_string(&self) -> bool {
        match self.peek() {
            Some(b'"') | Some(b'{') => true,
            Some(b'~') => self.input.get(self.pos + 1) == Some(&b'{'),
            _ => false,
        }
    }

    /// A string: quoted or literal.
    pub fn string(&mut self) -> Lex<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            _ if self.at_string() => self.literal().map(<[u8]>::to_vec),
            _ => Err(LexError("expected a string")),
        }
    }

    /// An astring: an atom (with `]`) or a string.
    pub fn astring(&mut self) -> Lex<Vec<u8>> {
        match self.peek() {
            _ if self.at_string() => self.string(),
            _ => {
                let a = self.take_while(is_astring_char);
                if a.is_empty() {
                    Err(LexError("expected an atom or a string"))
                } else {
                    Ok(a.to_vec())
                }
            }
        }
    }

    /// `NIL` or a string.
    pub fn nstring(&mut self) -> Lex<Option<Vec<u8>>> {
        if self.input[self.pos..].len() >= 3
            && self.input[self.pos..self.pos + 3].eq_ignore_ascii_case(b"NIL")
            && !self
                .input
                .get(self.pos + 3)
                .copied()
                .is_some_and(is_astring_char)
        {
            self.pos += 3;
            return Ok(None);
        }
        self.string().map(Some)
    }

    /// A sequence set, or `$`.
    pub fn sequence_set(&mut self) -> Lex<SequenceSet> {
        if self.eat(b'$') {
            return Ok(SequenceSet::Saved);
        }
        let mut ranges = Vec::new();
        loop {
            let from = self.seq_number()?;
            let to = if self.eat(b':') {
                self.seq_number()?
            } else {
                from
            };
            if ranges.len() >= MAX_RANGES {
                return Err(LexError("too many ranges in a sequence set"));
            }
            ranges.push((from, to));
            if !self.eat(b',') {
                return Ok(SequenceSet::Ranges(ranges));
            }
        }
    }

    fn seq_number(&mut self) -> Lex<SeqNumber> {
        if self.eat(b'*') {
            return Ok(SeqNumber::Largest);
        }
        match self.number()? {
            0 => Err(LexError("0 is not a message number")),
            n => Ok(SeqNumber::Value(n)),
        }
    }

    /// A parenthesised, space-separated list of items read by `item`; `()` is empty.
    pub fn list<T>(
        &mut self,
        max: usize,
        mut item: impl FnMut(&mut Self) -> Lex<T>,
    ) -> Lex<Vec<T>> {
        self.expect(b'(', "expected a parenthesised list")?;
        let mut out = Vec::new();
        if self.eat(b')') {
            return Ok(out);
        }
        loop {
            if out.len() >= max {
                return Err(LexError("too many items in a list"));
            }
            out.push(item(self)?);
            if self.eat(b')') {
                return Ok(out);
            }
            self.sp()?;
        }
    }

    /// A flag: `\Name` (system or extension flag) or a keyword atom.
    pub fn flag(&mut self) -> Lex<String> {
        let backslash = self.eat(b'\\');
        let a = self.atom()?;
        Ok(if backslash {
            format!("\\{a}")
        } else {
            a.to_string()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_sets_know_their_members() {
        let set = Cursor::new(b"4:2,9,20:*").sequence_set().unwrap();
        assert_eq!(set.bounds(30), Some(vec![(2, 4), (9, 9), (20, 30)]));
        assert_eq!(set.contains(3, 30), Some(true));
        assert_eq!(set.contains(5, 30), Some(false));
        assert_eq!(set.contains(25, 30), Some(true));
        // `*` below the range's start: the range runs from `*` up.
        assert_eq!(set.contains(15, 10), Some(true));
        assert_eq!(SequenceSet::Saved.contains(1, 1), None);
    }

    #[test]
    fn tags_atoms_and_strings() {
        let mut c =
            Cursor::new(b"a.1 LOGIN \"ana \\\"q\\\" \\\\\" {3}\r\nx y NIL \"\" ~{2+}\r\n\0\xff");
        assert_eq!(c.tag(), Ok("a.1"));
        c.sp().unwrap();
        assert_eq!(c.atom(), Ok("LOGIN"));
        c.sp().unwrap();
        assert_eq!(c.astring().unwrap(), b"ana \"q\" \\");
        c.sp().unwrap();
        assert_eq!(c.astring().unwrap(), b"x y");
        c.sp().unwrap();
        assert_eq!(c.nstring(), Ok(None));
        c.sp().unwrap();
        assert_eq!(c.nstring(), Ok(Some(Vec::new())));
        c.sp().unwrap();
        assert_eq!(c.string().unwrap(), b"\0\xff");
        assert!(c.end().is_ok());
    }

    #[test]
    fn bad_input_says_what_was_expected() {
        assert_eq!(Cursor::new(b"+x").tag(), Err(LexError("expected a tag")));
        assert!(Cursor::new(b"\"open").astring().is_err());
        assert!(Cursor::new(b"\"bad \\x\"").astring().is_err());
        assert_eq!(
            Cursor::new(b"{5}\r\nabc").literal(),
            Err(LexError("literal shorter than announced"))
        );
        assert_eq!(
            Cursor::new(b"4294967296").number(),
            Err(LexError("number out of range"))
        );
        assert_eq!(Cursor::new(b"4294967295").number(), Ok(u32::MAX));
        assert!(Cursor::new(b"9223372036854775808").number64().is_err());
        assert_eq!(
            Cursor::new(b"NILE").nstring().err(),
            Some(LexError("expected a string"))
        );
    }

    #[test]
    fn sequence_sets() {
        use SeqNumber::*;
        assert_eq!(
            Cursor::new(b"1:4,7,9:*").sequence_set(),
            Ok(SequenceSet::Ranges(vec![
                (Value(1), Value(4)),
                (Value(7), Value(7)),
                (Value(9), Largest)
            ]))
        );
        assert_eq!(Cursor::new(b"$").sequence_set(), Ok(SequenceSet::Saved));
        assert!(Cursor::new(b"0:3").sequence_set().is_err());
        assert!(Cursor::new(b"1,").sequence_set().is_err());
        let many = (1..=MAX_RANGES + 1)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert!(Cursor::new(many.as_bytes()).sequence_set().is_err());
    }

    #[test]
    fn lists_and_flags() {
        let mut c = Cursor::new(b"(\\Seen $Work \\Flagged) ()");
        assert_eq!(
            c.list(10, |c| c.flag()),
            Ok(vec![
                "\\Seen".to_string(),
                "$Work".into(),
                "\\Flagged".into()
            ])
        );
        c.sp().unwrap();
        assert_eq!(c.list(10, |c| c.flag()), Ok(Vec::new()));
        assert!(Cursor::new(b"(a b c)").list(2, |c| c.atom()).is_err());
        assert!(Cursor::new(b"(a  b)").list(9, |c| c.atom()).is_err());
        assert!(Cursor::new(b"(a b").list(9, |c| c.atom()).is_err());
    }
}
