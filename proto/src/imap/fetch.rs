//! The grammar of FETCH and STORE (RFC 9051 §6.4.5, §6.4.6; BINARY, RFC 3516; CONDSTORE and
//! QRESYNC modifiers, RFC 7162).

use super::lex::{Cursor, LexError, SequenceSet};

/// Which part of a message `BODY[…]` / `BINARY[…]` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// The part path (`1.2` is `[1, 2]`); empty for the whole message.
    pub part: Vec<u32>,
    /// What of that part.
    pub text: Option<SectionText>,
}

/// The text specifier of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (…)`, names upper-case.
    HeaderFields(Vec<String>),
    /// `HEADER.FIELDS.NOT (…)`, names upper-case.
    HeaderFieldsNot(Vec<String>),
    /// `TEXT`.
    Text,
    /// `MIME` (only after a part number).
    Mime,
}

/// One FETCH data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// `ENVELOPE`.
    Envelope,
    /// `FLAGS`.
    Flags,
    /// `INTERNALDATE`.
    InternalDate,
    /// `RFC822.SIZE`.
    Rfc822Size,
    /// `UID`.
    Uid,
    /// `MODSEQ`.
    ModSeq,
    /// `BODYSTRUCTURE` (with extension data).
    BodyStructure,
    /// `BODY` (without extension data).
    Body,
    /// `RFC822` (as `BODY[]`, sets \Seen).
    Rfc822,
    /// `RFC822.HEADER` (as `BODY.PEEK[HEADER]`).
    Rfc822Header,
    /// `RFC822.TEXT` (as `BODY[TEXT]`).
    Rfc822Text,
    /// `BODY[section]<partial>` or `BODY.PEEK[…]`.
    BodySection {
        /// The section.
        section: Section,
        /// `<start.count>`.
        partial: Option<(u32, u32)>,
        /// `.PEEK`: do not set \Seen.
        peek: bool,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[…]`: the part decoded.
    Binary {
        /// The part path.
        part: Vec<u32>,
        /// `<start.count>`.
        partial: Option<(u32, u32)>,
        /// `.PEEK`.
        peek: bool,
    },
    /// `BINARY.SIZE[part]`.
    BinarySize(Vec<u32>),
}

/// FETCH modifiers (CONDSTORE, QRESYNC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchModifiers {
    /// `CHANGEDSINCE n`.
    pub changed_since: Option<u64>,
    /// `VANISHED` (UID FETCH only).
    pub vanished: bool,
}

/// `FETCH set items [modifiers]`, as parsed after the command name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// Which messages.
    pub set: SequenceSet,
    /// What of them (macros expanded).
    pub items: Vec<Attribute>,
    /// Modifiers.
    pub modifiers: FetchModifiers,
}

/// How STORE changes the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// `STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] flags`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    /// Which messages.
    pub set: SequenceSet,
    /// `UNCHANGEDSINCE n`.
    pub unchanged_since: Option<u64>,
    /// Replace, add or remove.
    pub mode: StoreMode,
    /// `.SILENT`: no untagged FETCH in reply.
    pub silent: bool,
    /// The flags and keywords.
    pub flags: Vec<String>,
}

/// Items one FETCH may ask for, and header names one section may list.
const MAX_ITEMS: usize = 100;

/// Parses `set items [modifiers]` (after `FETCH `).
pub fn fetch(c: &mut Cursor<'_>) -> Result<Fetch, LexError> {
    let set = c.sequence_set()?;
    c.sp()?;
    let items = if c.peek() == Some(b'(') {
        c.list(MAX_ITEMS, attribute)?
    } else {
        match peek_word(c).as_str() {
            "ALL" => {
                take_word(c);
                vec![
                    Attribute::Flags,
                    Attribute::InternalDate,
                    Attribute::Rfc822Size,
                    Attribute::Envelope,
                ]
            }
            "FAST" => {
                take_word(c);
                vec![
                    Attribute::Flags,
                    Attribute::InternalDate,
                    Attribute::Rfc822Size,
                ]
            }
            "FULL" => {
                take_word(c);
                vec![
                    Attribute::Flags,
                    Attribute::InternalDate,
                    Attribute::Rfc822Size,
                    Attribute::Envelope,
                    Attribute::Body,
                ]
            }
            _ => vec![attribute(c)?],
        }
    };
    if items.is_empty() {
        return Err(LexError("FETCH needs at least one item"));
    }
    let mut modifiers = FetchModifiers::default();
    if c.eat(b' ') {
        c.expect(b'(', "expected fetch modifiers")?;
        loop {
            let m = c.atom()?.to_ascii_uppercase();
            match m.as_str() {
                "CHANGEDSINCE" => {
                    c.sp()?;
                    modifiers.changed_since = Some(c.number64()?);
                }
                "VANISHED" => modifiers.vanished = true,
                _ => return Err(LexError("unknown fetch modifier")),
            }
            if c.eat(b')') {
                break;
            }
            c.sp()?;
        }
        if modifiers.vanished && modifiers.changed_since.is_none() {
            return Err(LexError("VANISHED needs CHANGEDSINCE"));
        }
    }
    Ok(Fetch {
        set,
        items,
        modifiers,
    })
}

/// The next word (letters, digits, `.`), upper-case, not taken.
fn peek_word(c: &Cursor<'_>) -> String {
    let mut probe = c.clone();
    take_word(&mut probe).to_ascii_uppercase()
}

fn take_word(c: &mut Cursor<'_>) -> String {
    let mut out = String::new();
    while let Some(b) = c.peek() {
        if b.is_ascii_alphanumeric() || b == b'.' {
            out.push(char::from(b));
            let _ = c.eat(b);
        } else {
            break;
        }
    }
    out
}

fn attribute(c: &mut Cursor<'_>) -> Result<Attribute, LexError> {
    let word = take_word(c).to_ascii_uppercase();
    Ok(match word.as_str() {
        "ENVELOPE" => Attribute::Envelope,
        "FLAGS" => Attribute::Flags,
        "INTERNALDATE" => Attribute::InternalDate,
        "RFC822.SIZE" => Attribute::Rfc822Size,
        "UID" => Attribute::Uid,
        "MODSEQ" => Attribute::ModSeq,
        "BODYSTRUCTURE" => Attribute::BodyStructure,
        "RFC822" => Attribute::Rfc822,
        "RFC822.HEADER" => Attribute::Rfc822Header,
        "RFC822.TEXT" => Attribute::Rfc822Text,
        "BODY" if c.peek() != Some(b'[') => Attribute::Body,
        "BODY" | "BODY.PEEK" => {
            let section = section(c)?;
            let partial = partial(c)?;
            Attribute::BodySection {
                section,
                partial,
                peek: word == "BODY.PEEK",
            }
        }
        "BINARY" | "BINARY.PEEK" => {
            let part = binary_part(c)?;
            let partial = partial(c)?;
            Attribute::Binary {
                part,
                partial,
                peek: word == "BINARY.PEEK",
            }
        }
        "BINARY.SIZE" => Attribute::BinarySize(binary_part(c)?),
        _ => return Err(LexError("unknown fetch item")),
    })
}

/// `[1.2.3]` for BINARY: part numbers only.
fn binary_part(c: &mut Cursor<'_>) -> Result<Vec<u32>, LexError> {
    c.expect(b'[', "expected [")?;
    let mut part = Vec::new();
    if !c.eat(b']') {
        loop {
            part.push(part_number(c)?);
            if c.eat(b']') {
                break;
            }
            c.expect(b'.', "expected . or ]")?;
        }
    }
    Ok(part)
}

fn part_number(c: &mut Cursor<'_>) -> Result<u32, LexError> {
    match c.number()? {
        0 => Err(LexError("part numbers start at 1")),
        n => Ok(n),
    }
}

fn section(c: &mut Cursor<'_>) -> Result<Section, LexError> {
    c.expect(b'[', "expected [")?;
    let mut s = Section::default();
    if c.eat(b']') {
        return Ok(s);
    }
    while c.peek().is_some_and(|b| b.is_ascii_digit()) {
        s.part.push(part_number(c)?);
        if !c.eat(b'.') {
            c.expect(b']', "expected ] after a part number")?;
            return Ok(s);
        }
    }
    let word = take_word(c).to_ascii_uppercase();
    s.text = Some(match word.as_str() {
        "HEADER" => SectionText::Header,
        "TEXT" => SectionText::Text,
        "MIME" if !s.part.is_empty() => SectionText::Mime,
        "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
            c.sp()?;
            let names = c.list(MAX_ITEMS, |c| {
                let n = c.astring()?;
                String::from_utf8(n)
                    .map(|s| s.to_ascii_uppercase())
                    .map_err(|_| LexError("header field names are ASCII"))
            })?;
            if names.is_empty() {
                return Err(LexError("HEADER.FIELDS needs at least one name"));
            }
            if word == "HEADER.FIELDS" {
                SectionText::HeaderFields(names)
            } else {
                SectionText::HeaderFieldsNot(names)
            }
        }
        _ => return Err(LexError("unknown section")),
    });
    c.expect(b']', "expected ]")?;
    Ok(s)
}

/// `<start.count>`, if given.
fn partial(c: &mut Cursor<'_>) -> Result<Option<(u32, u32)>, LexError> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let start = c.number()?;
    c.expect(b'.', "expected <start.count>")?;
    let count = c.number()?;
    if count == 0 {
        return Err(LexError("a partial fetch needs a count above 0"));
    }
    c.expect(b'>', "expected >")?;
    Ok(Some((start, count)))
}

/// Parses `set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] flags` (after `STORE `).
pub fn store(c: &mut Cursor<'_>) -> Result<Store, LexError> {
    let set = c.sequence_set()?;
    c.sp()?;
    let mut unchanged_since = None;
    if c.eat(b'(') {
        let m = c.atom()?;
        if !m.eq_ignore_ascii_case("UNCHANGEDSINCE") {
            return Err(LexError("unknown store modifier"));
        }
        c.sp()?;
        unchanged_since = Some(c.number64()?);
        c.expect(b')', "expected )")?;
        c.sp()?;
    }
    let mode = if c.eat(b'+') {
        StoreMode::Add
    } else if c.eat(b'-') {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    let word = c.atom()?.to_ascii_uppercase();
    let silent = match word.as_str() {
        "FLAGS" => false,
        "FLAGS.SILENT" => true,
        _ => return Err(LexError("expected FLAGS, +FLAGS or -FLAGS")),
    };
    c.sp()?;
    let flags = if c.peek() == Some(b'(') {
        c.list(MAX_ITEMS, |c| c.flag())?
    } else {
        let mut v = vec![c.flag()?];
        while c.eat(b' ') {
            if v.len() >= MAX_ITEMS {
                return Err(LexError("too many flags"));
            }
            v.push(c.flag()?);
        }
        v
    };
    Ok(Store {
        set,
        unchanged_since,
        mode,
        silent,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::lex::SeqNumber;

    fn f(s: &str) -> Result<Fetch, LexError> {
        let mut c = Cursor::new(s.as_bytes());
        let r = fetch(&mut c)?;
        c.end()?;
        Ok(r)
    }

    fn st(s: &str) -> Result<Store, LexError> {
        let mut c = Cursor::new(s.as_bytes());
        let r = store(&mut c)?;
        c.end()?;
        Ok(r)
    }

    #[test]
    fn fetch_items_clients_send() {
        let r = f("1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)").unwrap();
        assert_eq!(r.items, [Attribute::Flags]);
        assert_eq!(
            r.modifiers,
            FetchModifiers {
                changed_since: Some(12345),
                vanished: true
            }
        );
        assert_eq!(
            r.set,
            SequenceSet::Ranges(vec![(SeqNumber::Value(1), SeqNumber::Largest)])
        );
        let r = f("1:3 (UID RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100> BODY[1.2.MIME] BODY[] BINARY.PEEK[1] BINARY.SIZE[2] MODSEQ)").unwrap();
        assert_eq!(
            r.items,
            [
                Attribute::Uid,
                Attribute::Rfc822Size,
                Attribute::Envelope,
                Attribute::BodyStructure,
                Attribute::BodySection {
                    section: Section {
                        part: vec![],
                        text: Some(SectionText::HeaderFields(vec![
                            "FROM".into(),
                            "SUBJECT".into()
                        ]))
                    },
                    partial: Some((0, 100)),
                    peek: true
                },
                Attribute::BodySection {
                    section: Section {
                        part: vec![1, 2],
                        text: Some(SectionText::Mime)
                    },
                    partial: None,
                    peek: false
                },
                Attribute::BodySection {
                    section: Section::default(),
                    partial: None,
                    peek: false
                },
                Attribute::Binary {
                    part: vec![1],
                    partial: None,
                    peek: true
                },
                Attribute::BinarySize(vec![2]),
                Attribute::ModSeq,
            ]
        );
        assert_eq!(f("4 FAST").unwrap().items.len(), 3);
        assert_eq!(f("4 full").unwrap().items.len(), 5);
        assert_eq!(f("4 body[2.TEXT]").unwrap().items.len(), 1);
        assert_eq!(f("4 BODY").unwrap().items, [Attribute::Body]);
    }

    #[test]
    fn bad_fetches_say_why() {
        for (s, why) in [
            ("1 (FLAGS", "expected a space"),
            ("1 (FROB)", "unknown fetch item"),
            ("1 BODY[MIME]", "unknown section"),
            ("1 BODY[0]", "part numbers start at 1"),
            ("1 BODY[]<5.0>", "a partial fetch needs a count above 0"),
            ("1 (FLAGS) (VANISHED)", "VANISHED needs CHANGEDSINCE"),
            ("1 (FLAGS) (FOO 1)", "unknown fetch modifier"),
            ("1 ()", "FETCH needs at least one item"),
        ] {
            assert_eq!(f(s).err(), Some(LexError(why)), "{s}");
        }
    }

    #[test]
    fn store_forms() {
        let s = st("1:2 +FLAGS.SILENT (\\Seen $Work)").unwrap();
        assert_eq!(
            (s.mode, s.silent, s.flags.clone()),
            (StoreMode::Add, true, vec!["\\Seen".into(), "$Work".into()])
        );
        let s = st("1 (UNCHANGEDSINCE 5) -FLAGS \\Flagged \\Deleted").unwrap();
        assert_eq!(
            (s.mode, s.unchanged_since, s.flags.len()),
            (StoreMode::Remove, Some(5), 2)
        );
        assert_eq!(st("1 FLAGS ()").unwrap().flags, Vec::<String>::new());
        assert_eq!(
            st("1 LABELS (x)").err(),
            Some(LexError("expected FLAGS, +FLAGS or -FLAGS"))
        );
    }
}
