//! The grammar of SEARCH (RFC 9051 §6.4.4), with ESEARCH's `RETURN` (RFC 4731), SEARCHRES's
//! `$` (RFC 5182), CONDSTORE's `MODSEQ` (RFC 7162) and WITHIN's `OLDER`/`YOUNGER` (RFC 5032);
//! and of SORT and THREAD (RFC 5256).

use super::lex::{Cursor, LexError, SequenceSet};

/// A calendar date as SEARCH gives it (`5-Dec-2026`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day, 1–31.
    pub day: u8,
}

/// One search key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// `ALL`.
    All,
    /// A flag that is set (`ANSWERED`, `SEEN`, `KEYWORD x`, …): the flag as `\Seen` or keyword.
    Flag(String),
    /// A flag that is not set (`UNSEEN`, `UNKEYWORD x`, …).
    NotFlag(String),
    /// `NEW` (recent and unseen).
    New,
    /// `OLD` (not recent).
    Old,
    /// `RECENT`.
    Recent,
    /// `FROM`, `TO`, `CC`, `BCC`, `SUBJECT`: that header contains the text.
    Address {
        /// The header, upper-case.
        field: &'static str,
        /// The text.
        text: Vec<u8>,
    },
    /// `HEADER name text`.
    Header {
        /// The field name, upper-case.
        name: String,
        /// The text (empty: the field exists).
        text: Vec<u8>,
    },
    /// `BODY text`.
    Body(Vec<u8>),
    /// `TEXT text` (header or body).
    Text(Vec<u8>),
    /// `BEFORE`/`ON`/`SINCE`: by internal date.
    Internal(DateCmp, Date),
    /// `SENTBEFORE`/`SENTON`/`SENTSINCE`: by the Date header.
    Sent(DateCmp, Date),
    /// `OLDER n`: internal date more than n seconds ago.
    Older(u32),
    /// `YOUNGER n`: internal date less than n seconds ago.
    Younger(u32),
    /// `LARGER n`.
    Larger(u32),
    /// `SMALLER n`.
    Smaller(u32),
    /// `UID set`.
    Uid(SequenceSet),
    /// A sequence set (or `$`).
    Seq(SequenceSet),
    /// `MODSEQ n` (entry names are accepted and ignored).
    ModSeq(u64),
    /// `NOT key`.
    Not(Box<Key>),
    /// `OR key key`.
    Or(Box<Key>, Box<Key>),
    /// `(key key …)`: all of them.
    And(Vec<Key>),
}

/// How a date key compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateCmp {
    /// Before the day.
    Before,
    /// On the day.
    On,
    /// On or after the day.
    Since,
}

/// ESEARCH return options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReturnOptions {
    /// `MIN`.
    pub min: bool,
    /// `MAX`.
    pub max: bool,
    /// `ALL` (as a sequence set).
    pub all: bool,
    /// `COUNT`.
    pub count: bool,
    /// `SAVE` (SEARCHRES).
    pub save: bool,
}

/// `SEARCH [RETURN (…)] [CHARSET x] keys`, after the command name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// `RETURN (…)`, when given (an ESEARCH answer is wanted).
    pub returns: Option<ReturnOptions>,
    /// The charset, upper-case.
    pub charset: Option<String>,
    /// The keys, all of which must match.
    pub keys: Vec<Key>,
}

/// A SORT criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    /// `REVERSE`.
    pub reverse: bool,
    /// What to sort by.
    pub by: SortBy,
}

/// What SORT sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    /// `ARRIVAL`.
    Arrival,
    /// `CC`.
    Cc,
    /// `DATE`.
    Date,
    /// `FROM`.
    From,
    /// `SIZE`.
    Size,
    /// `SUBJECT`.
    Subject,
    /// `TO`.
    To,
    /// `DISPLAYFROM` (RFC 5957).
    DisplayFrom,
    /// `DISPLAYTO` (RFC 5957).
    DisplayTo,
}

/// How THREAD threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadBy {
    /// `REFERENCES`.
    References,
    /// `ORDEREDSUBJECT`.
    OrderedSubject,
}

/// Keys one search may hold in all, and nesting depth (so a hostile search cannot blow the
/// stack).
const MAX_KEYS: usize = 1000;
const MAX_DEPTH: usize = 32;

/// Parses `[RETURN (…)] [CHARSET x] keys` (after `SEARCH `).
pub fn search(c: &mut Cursor<'_>) -> Result<Search, LexError> {
    let returns = returns(c)?;
    let charset = charset(c)?;
    let keys = keys(c)?;
    Ok(Search {
        returns,
        charset,
        keys,
    })
}

/// `RETURN (…) ` before a SEARCH's keys (RFC 4731) or a SORT's criteria (ESORT, RFC 5267),
/// when there; `RETURN ()` means ALL.
pub fn returns(c: &mut Cursor<'_>) -> Result<Option<ReturnOptions>, LexError> {
    if !starts_with_word(c, "RETURN") {
        return Ok(None);
    }
    let _ = c.atom()?;
    c.sp()?;
    let mut r = ReturnOptions::default();
    for o in c.list(10, |c| Ok(c.atom()?.to_ascii_uppercase()))? {
        match o.as_str() {
            "MIN" => r.min = true,
            "MAX" => r.max = true,
            "ALL" => r.all = true,
            "COUNT" => r.count = true,
            "SAVE" => r.save = true,
            _ => return Err(LexError("unknown search return option")),
        }
    }
    if r == ReturnOptions::default() {
        r.all = true;
    }
    c.sp()?;
    Ok(Some(r))
}

fn charset(c: &mut Cursor<'_>) -> Result<Option<String>, LexError> {
    if !starts_with_word(c, "CHARSET") {
        return Ok(None);
    }
    let _ = c.atom()?;
    c.sp()?;
    let cs = charset_name(c)?;
    c.sp()?;
    Ok(Some(cs))
}

/// A charset name, upper-case.
fn charset_name(c: &mut Cursor<'_>) -> Result<String, LexError> {
    String::from_utf8(c.astring()?)
        .map(|s| s.to_ascii_uppercase())
        .map_err(|_| LexError("expected a charset name"))
}

/// Keys up to the end of the command, separated by spaces.
fn keys(c: &mut Cursor<'_>) -> Result<Vec<Key>, LexError> {
    let mut count = 0;
    let mut keys = vec![key(c, 0, &mut count)?];
    while c.eat(b' ') {
        keys.push(key(c, 0, &mut count)?);
    }
    Ok(keys)
}

fn starts_with_word(c: &Cursor<'_>, word: &str) -> bool {
    let mut probe = c.clone();
    probe
        .atom()
        .is_ok_and(|a| a.eq_ignore_ascii_case(word) && probe.peek() == Some(b' '))
}

fn key(c: &mut Cursor<'_>, depth: usize, count: &mut usize) -> Result<Key, LexError> {
    *count += 1;
    if *count > MAX_KEYS || depth > MAX_DEPTH {
        return Err(LexError("search too complex"));
    }
    match c.peek() {
        Some(b'(') => {
            let _ = c.eat(b'(');
            let mut all = vec![key(c, depth + 1, count)?];
            while c.eat(b' ') {
                all.push(key(c, depth + 1, count)?);
            }
            c.expect(b')', "expected ) after search keys")?;
            return Ok(Key::And(all));
        }
        Some(b'$') | Some(b'*') => return Ok(Key::Seq(c.sequence_set()?)),
        Some(b) if b.is_ascii_digit() => return Ok(Key::Seq(c.sequence_set()?)),
        _ => {}
    }
    let word = c.atom()?.to_ascii_uppercase();
    let arg_string = |c: &mut Cursor<'_>| -> Result<Vec<u8>, LexError> {
        c.sp()?;
        c.astring()
    };
    let flag = |f: &str| Key::Flag(f.to_string());
    let not_flag = |f: &str| Key::NotFlag(f.to_string());
    Ok(match word.as_str() {
        "ALL" => Key::All,
        "ANSWERED" => flag("\\Answered"),
        "DELETED" => flag("\\Deleted"),
        "DRAFT" => flag("\\Draft"),
        "FLAGGED" => flag("\\Flagged"),
        "SEEN" => flag("\\Seen"),
        "UNANSWERED" => not_flag("\\Answered"),
        "UNDELETED" => not_flag("\\Deleted"),
        "UNDRAFT" => not_flag("\\Draft"),
        "UNFLAGGED" => not_flag("\\Flagged"),
        "UNSEEN" => not_flag("\\Seen"),
        "NEW" => Key::New,
        "OLD" => Key::Old,
        "RECENT" => Key::Recent,
        "KEYWORD" | "UNKEYWORD" => {
            c.sp()?;
            let k = c.atom()?.to_string();
            if word == "KEYWORD" {
                Key::Flag(k)
            } else {
                Key::NotFlag(k)
            }
        }
        "FROM" | "TO" | "CC" | "BCC" | "SUBJECT" => {
            let field = match word.as_str() {
                "FROM" => "FROM",
                "TO" => "TO",
                "CC" => "CC",
                "BCC" => "BCC",
                _ => "SUBJECT",
            };
            Key::Address {
                field,
                text: arg_string(c)?,
            }
        }
        "HEADER" => {
            let name = String::from_utf8(arg_string(c)?)
                .map_err(|_| LexError("header field names are ASCII"))?
                .to_ascii_uppercase();
            Key::Header {
                name,
                text: arg_string(c)?,
            }
        }
        "BODY" => Key::Body(arg_string(c)?),
        "TEXT" => Key::Text(arg_string(c)?),
        "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" => {
            c.sp()?;
            let d = date(c)?;
            let cmp = match word.trim_start_matches("SENT") {
                "BEFORE" => DateCmp::Before,
                "ON" => DateCmp::On,
                _ => DateCmp::Since,
            };
            if word.starts_with("SENT") {
                Key::Sent(cmp, d)
            } else {
                Key::Internal(cmp, d)
            }
        }
        "OLDER" | "YOUNGER" | "LARGER" | "SMALLER" => {
            c.sp()?;
            let n = c.number()?;
            match word.as_str() {
                "OLDER" => Key::Older(n),
                "YOUNGER" => Key::Younger(n),
                "LARGER" => Key::Larger(n),
                _ => Key::Smaller(n),
            }
        }
        "UID" => {
            c.sp()?;
            Key::Uid(c.sequence_set()?)
        }
        "MODSEQ" => {
            c.sp()?;
            if c.peek() == Some(b'"') {
                // entry-name entry-type-req: accepted, not used (no per-flag MODSEQ).
                let _ = c.astring()?;
                c.sp()?;
                let _ = c.atom()?;
                c.sp()?;
            }
            Key::ModSeq(c.number64()?)
        }
        "NOT" => {
            c.sp()?;
            Key::Not(Box::new(key(c, depth + 1, count)?))
        }
        "OR" => {
            c.sp()?;
            let a = key(c, depth + 1, count)?;
            c.sp()?;
            let b = key(c, depth + 1, count)?;
            Key::Or(Box::new(a), Box::new(b))
        }
        _ => return Err(LexError("unknown search key")),
    })
}

/// `d-Mon-yyyy`, plain or quoted.
fn date(c: &mut Cursor<'_>) -> Result<Date, LexError> {
    let raw = c.astring()?;
    let s = std::str::from_utf8(&raw).map_err(|_| LexError("expected a date like 5-Dec-2026"))?;
    let bad = LexError("expected a date like 5-Dec-2026");
    let mut parts = s.split('-');
    let (Some(d), Some(m), Some(y), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad);
    };
    let day: u8 = d.parse().map_err(|_| bad.clone())?;
    let year: u16 = y.parse().map_err(|_| bad.clone())?;
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let month = MONTHS
        .iter()
        .position(|x| x.eq_ignore_ascii_case(m))
        .ok_or(bad.clone())? as u8
        + 1;
    if !(1..=31).contains(&day) || y.len() != 4 || d.is_empty() || d.len() > 2 {
        return Err(bad);
    }
    Ok(Date { year, month, day })
}

/// Parses `(criteria) charset keys` (after `SORT `).
pub fn sort(c: &mut Cursor<'_>) -> Result<(Vec<SortKey>, String, Vec<Key>), LexError> {
    let mut criteria = Vec::new();
    c.expect(b'(', "expected sort criteria")?;
    loop {
        let mut word = c.atom()?.to_ascii_uppercase();
        let reverse = word == "REVERSE";
        if reverse {
            c.sp()?;
            word = c.atom()?.to_ascii_uppercase();
        }
        let by = match word.as_str() {
            "ARRIVAL" => SortBy::Arrival,
            "CC" => SortBy::Cc,
            "DATE" => SortBy::Date,
            "FROM" => SortBy::From,
            "SIZE" => SortBy::Size,
            "SUBJECT" => SortBy::Subject,
            "TO" => SortBy::To,
            "DISPLAYFROM" => SortBy::DisplayFrom,
            "DISPLAYTO" => SortBy::DisplayTo,
            _ => return Err(LexError("unknown sort criterion")),
        };
        if criteria.len() >= 16 {
            return Err(LexError("too many sort criteria"));
        }
        criteria.push(SortKey { reverse, by });
        if c.eat(b')') {
            break;
        }
        c.sp()?;
    }
    c.sp()?;
    let charset = charset_name(c)?;
    c.sp()?;
    Ok((criteria, charset, keys(c)?))
}

/// Parses `algorithm charset keys` (after `THREAD `).
pub fn thread(c: &mut Cursor<'_>) -> Result<(ThreadBy, String, Vec<Key>), LexError> {
    let by = match c.atom()?.to_ascii_uppercase().as_str() {
        "REFERENCES" => ThreadBy::References,
        "ORDEREDSUBJECT" => ThreadBy::OrderedSubject,
        _ => return Err(LexError("unknown thread algorithm")),
    };
    c.sp()?;
    let charset = charset_name(c)?;
    c.sp()?;
    Ok((by, charset, keys(c)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::lex::SeqNumber;

    fn s(input: &str) -> Result<Search, LexError> {
        let mut c = Cursor::new(input.as_bytes());
        let r = search(&mut c)?;
        c.end()?;
        Ok(r)
    }

    #[test]
    fn searches_clients_send() {
        let r =
            s("RETURN (MIN MAX COUNT) CHARSET utf-8 UNSEEN FROM \"ana\" SINCE 5-Dec-2026").unwrap();
        assert_eq!(
            r.returns,
            Some(ReturnOptions {
                min: true,
                max: true,
                count: true,
                ..Default::default()
            })
        );
        assert_eq!(r.charset.as_deref(), Some("UTF-8"));
        assert_eq!(
            r.keys,
            [
                Key::NotFlag("\\Seen".into()),
                Key::Address {
                    field: "FROM",
                    text: b"ana".to_vec()
                },
                Key::Internal(
                    DateCmp::Since,
                    Date {
                        year: 2026,
                        month: 12,
                        day: 5
                    }
                )
            ]
        );
        assert_eq!(s("$").unwrap().keys, [Key::Seq(SequenceSet::Saved)]);
        assert_eq!(
            s("RETURN () ALL").unwrap().returns,
            Some(ReturnOptions {
                all: true,
                ..Default::default()
            })
        );
        let r = s("OR SEEN (FLAGGED DRAFT) NOT KEYWORD $Junk UID 1:* MODSEQ 77 YOUNGER 3600 1,3")
            .unwrap();
        assert_eq!(r.keys.len(), 6);
        assert_eq!(
            r.keys[0],
            Key::Or(
                Box::new(Key::Flag("\\Seen".into())),
                Box::new(Key::And(vec![
                    Key::Flag("\\Flagged".into()),
                    Key::Flag("\\Draft".into())
                ]))
            )
        );
        assert_eq!(r.keys[1], Key::Not(Box::new(Key::Flag("$Junk".into()))));
        assert_eq!(
            r.keys[2],
            Key::Uid(SequenceSet::Ranges(vec![(
                SeqNumber::Value(1),
                SeqNumber::Largest
            )]))
        );
        assert_eq!(r.keys[3], Key::ModSeq(77));
        assert_eq!(r.keys[4], Key::Younger(3600));
        assert_eq!(
            r.keys[5],
            Key::Seq(SequenceSet::Ranges(vec![
                (SeqNumber::Value(1), SeqNumber::Value(1)),
                (SeqNumber::Value(3), SeqNumber::Value(3))
            ]))
        );
        assert_eq!(
            s("HEADER Message-ID \"<x@y>\" SENTBEFORE \"1-Jan-2027\"")
                .unwrap()
                .keys[1],
            Key::Sent(
                DateCmp::Before,
                Date {
                    year: 2027,
                    month: 1,
                    day: 1
                }
            )
        );
    }

    #[test]
    fn bad_searches_say_why_and_depth_is_bounded() {
        for (input, why) in [
            ("FROBNICATE", "unknown search key"),
            ("SINCE 32-Dec-2026", "expected a date like 5-Dec-2026"),
            ("SINCE 5-Dez-2026", "expected a date like 5-Dec-2026"),
            ("RETURN (EVERYTHING) ALL", "unknown search return option"),
            ("(SEEN", "expected ) after search keys"),
            ("OR SEEN", "expected a space"),
        ] {
            assert_eq!(s(input).err(), Some(LexError(why)), "{input}");
        }
        let deep = format!("{}SEEN{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(s(&deep).err(), Some(LexError("search too complex")));
        let nots = format!("{}SEEN", "NOT ".repeat(100));
        assert_eq!(s(&nots).err(), Some(LexError("search too complex")));
        let wide = vec!["SEEN"; MAX_KEYS + 1].join(" ");
        assert_eq!(s(&wide).err(), Some(LexError("search too complex")));
    }

    #[test]
    fn sort_and_thread() {
        let mut c = Cursor::new(b"(REVERSE DATE subject) UTF-8 ALL");
        let (crit, cs, keys) = sort(&mut c).unwrap();
        assert_eq!(
            crit,
            [
                SortKey {
                    reverse: true,
                    by: SortBy::Date
                },
                SortKey {
                    reverse: false,
                    by: SortBy::Subject
                }
            ]
        );
        assert_eq!((cs.as_str(), keys), ("UTF-8", vec![Key::All]));
        let mut c = Cursor::new(b"REFERENCES US-ASCII UNDELETED");
        assert_eq!(
            thread(&mut c).unwrap(),
            (
                ThreadBy::References,
                "US-ASCII".into(),
                vec![Key::NotFlag("\\Deleted".into())]
            )
        );
        assert!(sort(&mut Cursor::new(b"(COLOR) UTF-8 ALL")).is_err());
        assert!(thread(&mut Cursor::new(b"BYMAGIC UTF-8 ALL")).is_err());
    }
}
