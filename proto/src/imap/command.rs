//! IMAP commands, parsed from one whole command as the [`super::reader`] hands it out. This is
//! the grammar of the commands issue 15 asks for: any-state, not-authenticated and
//! authenticated-state commands, FETCH and STORE ([`super::fetch`]), SEARCH, SORT and THREAD
//! ([`super::search`]), COPY, MOVE and UID EXPUNGE. (NOTIFY and COMPRESS are not parsed yet.)

use super::fetch::{self, Fetch, Store};
use super::lex::{Cursor, LexError, SequenceSet};
use super::search::{self, Key, Search, SortKey, ThreadBy};
use super::utf7;

/// A mailbox name, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mailbox {
    /// `INBOX`, in any case.
    Inbox,
    /// Any other name, as Unicode.
    Other(String),
    /// A name that is not valid modified UTF-7 (as sent): no mailbox has it, and none can be
    /// created with it (the server answers NO, not BAD, as Dovecot does).
    Invalid(String),
}

/// QRESYNC parameters of SELECT/EXAMINE (RFC 7162 §3.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qresync {
    /// The UIDVALIDITY the client knew.
    pub uidvalidity: u32,
    /// The MODSEQ it had seen.
    pub modseq: u64,
    /// The UIDs it knows, if it said.
    pub known_uids: Option<SequenceSet>,
}

/// What LIST selects and returns (RFC 5258, RFC 6154, RFC 5819).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// The command was LSUB (answered with `* LSUB`).
    pub lsub: bool,
    /// `(SUBSCRIBED)`: only subscribed names.
    pub subscribed: bool,
    /// `(SPECIAL-USE)` selection: only folders with a special use.
    pub special_use_only: bool,
    /// `(RECURSIVEMATCH)`: also names whose descendants meet the selection (CHILDINFO).
    pub recursive_match: bool,
    /// The LIST-EXTENDED form was used (selection or return options): only the attributes
    /// asked for are returned.
    pub extended: bool,
    /// `RETURN (SPECIAL-USE)`.
    pub return_special_use: bool,
    /// `RETURN (CHILDREN)`.
    pub return_children: bool,
    /// `RETURN (SUBSCRIBED)`.
    pub return_subscribed: bool,
    /// `RETURN (STATUS (…))`: the items, upper-case.
    pub return_status: Vec<String>,
}

/// One field of an `ID` list: its name and value (`NIL`: none).
pub type IdField = (Vec<u8>, Option<Vec<u8>>);

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `CAPABILITY`.
    Capability,
    /// `NOOP`.
    Noop,
    /// `LOGOUT`.
    Logout,
    /// `STARTTLS`.
    StartTls,
    /// `COMPRESS mechanism` (RFC 4978), the mechanism upper-case.
    Compress(String),
    /// `LOGIN user password`.
    Login {
        /// The user name.
        user: Vec<u8>,
        /// The password.
        password: Vec<u8>,
    },
    /// `AUTHENTICATE mechanism [initial-response]` (SASL-IR); `=` is an empty response.
    Authenticate {
        /// The mechanism, upper-case.
        mechanism: String,
        /// The initial response, base64 as sent.
        initial: Option<Vec<u8>>,
    },
    /// `ENABLE cap…`, upper-case.
    Enable(Vec<String>),
    /// `ID (field value …)` or `ID NIL`.
    Id(Option<Vec<IdField>>),
    /// `NAMESPACE`.
    Namespace,
    /// `IDLE`.
    Idle,
    /// `SELECT`/`EXAMINE mailbox [(CONDSTORE | QRESYNC (…))]`.
    Select {
        /// The mailbox.
        mailbox: Mailbox,
        /// EXAMINE.
        read_only: bool,
        /// `(CONDSTORE)`.
        condstore: bool,
        /// `(QRESYNC (…))`.
        qresync: Option<Qresync>,
    },
    /// `CREATE mailbox [(USE (\Role …))]`.
    Create {
        /// The name.
        mailbox: Mailbox,
        /// Special uses asked for (CREATE-SPECIAL-USE).
        special_use: Vec<String>,
    },
    /// `DELETE mailbox`.
    Delete(Mailbox),
    /// `RENAME from to`.
    Rename {
        /// The old name.
        from: Mailbox,
        /// The new name.
        to: Mailbox,
    },
    /// `SUBSCRIBE mailbox`.
    Subscribe(Mailbox),
    /// `UNSUBSCRIBE mailbox`.
    Unsubscribe(Mailbox),
    /// `LIST [(selection)] reference pattern [RETURN (…)]`, or `LSUB reference pattern`.
    List {
        /// The reference name, decoded.
        reference: String,
        /// The patterns, decoded (several with LIST-EXTENDED).
        patterns: Vec<String>,
        /// Selection and return options.
        options: ListOptions,
    },
    /// `STATUS mailbox (item…)`, items upper-case.
    Status {
        /// The mailbox.
        mailbox: Mailbox,
        /// MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN, DELETED, SIZE, HIGHESTMODSEQ, RECENT.
        items: Vec<String>,
    },
    /// `APPEND mailbox [(flags)] [date-time] literal`.
    Append {
        /// The mailbox.
        mailbox: Mailbox,
        /// Its flags.
        flags: Vec<String>,
        /// The internal date, as sent (`"dd-Mon-yyyy hh:mm:ss +zzzz"`).
        date: Option<String>,
        /// The message.
        message: Vec<u8>,
        /// It came in a literal8 (`~{n}`, RFC 3516): binary content is announced.
        binary: bool,
    },
    /// `CHECK`.
    Check,
    /// `CLOSE`.
    Close,
    /// `UNSELECT`.
    Unselect,
    /// `EXPUNGE`, or `UID EXPUNGE set`.
    Expunge(Option<SequenceSet>),
    /// `[UID] COPY set mailbox`.
    Copy {
        /// UIDs, not sequence numbers.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// Where to.
        mailbox: Mailbox,
    },
    /// `[UID] MOVE set mailbox`.
    Move {
        /// UIDs, not sequence numbers.
        uid: bool,
        /// Which messages.
        set: SequenceSet,
        /// Where to.
        mailbox: Mailbox,
    },
    /// `GETQUOTAROOT mailbox`.
    GetQuotaRoot(Mailbox),
    /// `GETQUOTA root`.
    GetQuota(Vec<u8>),
    /// `[UID] FETCH …`.
    Fetch {
        /// UIDs, not sequence numbers.
        uid: bool,
        /// What to fetch.
        fetch: Fetch,
    },
    /// `[UID] STORE …`.
    Store {
        /// UIDs, not sequence numbers.
        uid: bool,
        /// What to change.
        store: Store,
    },
    /// `[UID] SEARCH …`.
    Search {
        /// Answer with UIDs.
        uid: bool,
        /// What to look for.
        search: Search,
    },
    /// `[UID] SORT (criteria) charset keys`.
    Sort {
        /// Answer with UIDs.
        uid: bool,
        /// `RETURN (…)` (ESORT, RFC 5267): answer with ESEARCH.
        returns: Option<search::ReturnOptions>,
        /// The sort order.
        criteria: Vec<SortKey>,
        /// The charset, upper-case.
        charset: String,
        /// The search keys.
        keys: Vec<Key>,
    },
    /// `[UID] THREAD algorithm charset keys`.
    Thread {
        /// Answer with UIDs.
        uid: bool,
        /// The algorithm.
        by: ThreadBy,
        /// The charset, upper-case.
        charset: String,
        /// The search keys.
        keys: Vec<Key>,
    },
}

/// A command with its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    /// The tag.
    pub tag: String,
    /// The command.
    pub command: Command,
}

/// A command that does not parse: answer `tag BAD text` (or `* BAD` without a tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    /// The tag, when one could be read.
    pub tag: Option<String>,
    /// What was wrong.
    pub text: &'static str,
}

/// Flags, keywords, patterns and other items one list may hold.
const MAX_ITEMS: usize = 100;

/// Parses one command; `utf8`: the client enabled UTF8=ACCEPT (mailbox names are UTF-8, not
/// modified UTF-7).
pub fn parse(input: &[u8], utf8: bool) -> Result<Tagged, Bad> {
    let mut c = Cursor::new(input);
    let tag = c
        .tag()
        .map_err(|e| Bad {
            tag: None,
            text: e.0,
        })?
        .to_string();
    let bad = |e: LexError| Bad {
        tag: Some(tag.clone()),
        text: e.0,
    };
    c.sp().map_err(bad)?;
    let command = command(&mut c, utf8).map_err(bad)?;
    Ok(Tagged { tag, command })
}

fn command(c: &mut Cursor<'_>, utf8: bool) -> Result<Command, LexError> {
    let name = c.atom()?.to_ascii_uppercase();
    let mailbox = |c: &mut Cursor<'_>| -> Result<Mailbox, LexError> {
        c.sp()?;
        mailbox(c, utf8)
    };
    let cmd = match name.as_str() {
        "CAPABILITY" => Command::Capability,
        "NOOP" => Command::Noop,
        "LOGOUT" => Command::Logout,
        "STARTTLS" => Command::StartTls,
        "COMPRESS" => {
            c.sp()?;
            Command::Compress(c.atom()?.to_ascii_uppercase())
        }
        "NAMESPACE" => Command::Namespace,
        "IDLE" => Command::Idle,
        "CHECK" => Command::Check,
        "CLOSE" => Command::Close,
        "UNSELECT" => Command::Unselect,
        "EXPUNGE" => Command::Expunge(None),
        "LOGIN" => {
            c.sp()?;
            let user = c.astring()?;
            c.sp()?;
            let password = c.astring()?;
            Command::Login { user, password }
        }
        "AUTHENTICATE" => {
            c.sp()?;
            let mechanism = c.atom()?.to_ascii_uppercase();
            let initial = if c.eat(b' ') {
                if c.eat(b'=') {
                    Some(Vec::new())
                } else {
                    let b64 = c.atom()?;
                    if !b64
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
                    {
                        return Err(LexError("the initial response must be base64"));
                    }
                    Some(b64.as_bytes().to_vec())
                }
            } else {
                None
            };
            Command::Authenticate { mechanism, initial }
        }
        "ENABLE" => {
            let mut caps = Vec::new();
            while c.eat(b' ') {
                if caps.len() >= MAX_ITEMS {
                    return Err(LexError("too many capabilities"));
                }
                caps.push(c.atom()?.to_ascii_uppercase());
            }
            if caps.is_empty() {
                return Err(LexError("ENABLE needs a capability"));
            }
            Command::Enable(caps)
        }
        "ID" => {
            c.sp()?;
            if c.peek() == Some(b'(') {
                let mut fields = Vec::new();
                let items = c.list(2 * 30, |c| c.nstring())?;
                if items.len() % 2 != 0 {
                    return Err(LexError("ID takes field and value pairs"));
                }
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    let k = k.ok_or(LexError("an ID field name cannot be NIL"))?;
                    fields.push((k, v));
                }
                Command::Id(Some(fields))
            } else {
                match c.nstring()? {
                    None => Command::Id(None),
                    Some(_) => return Err(LexError("ID takes a list or NIL")),
                }
            }
        }
        "SELECT" | "EXAMINE" => {
            let mb = mailbox(c)?;
            let (mut condstore, mut qresync) = (false, None);
            if c.eat(b' ') {
                c.expect(b'(', "expected select parameters")?;
                loop {
                    let p = c.atom()?.to_ascii_uppercase();
                    match p.as_str() {
                        "CONDSTORE" => condstore = true,
                        "QRESYNC" => {
                            c.sp()?;
                            c.expect(b'(', "expected QRESYNC parameters")?;
                            let uidvalidity = c.number()?;
                            c.sp()?;
                            let modseq = c.number64()?;
                            let mut known_uids = None;
                            if c.eat(b' ') {
                                if c.peek() == Some(b'(') {
                                    // The sequence match data: accepted, not used yet.
                                    skip_list(c)?;
                                } else {
                                    known_uids = Some(c.sequence_set()?);
                                    if c.eat(b' ') {
                                        skip_list(c)?;
                                    }
                                }
                            }
                            c.expect(b')', "expected ) after QRESYNC parameters")?;
                            qresync = Some(Qresync {
                                uidvalidity,
                                modseq,
                                known_uids,
                            });
                        }
                        _ => return Err(LexError("unknown select parameter")),
                    }
                    if c.eat(b')') {
                        break;
                    }
                    c.sp()?;
                }
            }
            Command::Select {
                mailbox: mb,
                read_only: name == "EXAMINE",
                condstore,
                qresync,
            }
        }
        "CREATE" => {
            let mb = mailbox(c)?;
            let mut special_use = Vec::new();
            if c.eat(b' ') {
                c.expect(b'(', "expected create parameters")?;
                let p = c.atom()?.to_ascii_uppercase();
                if p != "USE" {
                    return Err(LexError("unknown create parameter"));
                }
                c.sp()?;
                special_use = c.list(MAX_ITEMS, |c| c.flag())?;
                c.expect(b')', "expected ) after create parameters")?;
            }
            Command::Create {
                mailbox: mb,
                special_use,
            }
        }
        "DELETE" => Command::Delete(mailbox(c)?),
        "SUBSCRIBE" => Command::Subscribe(mailbox(c)?),
        "UNSUBSCRIBE" => Command::Unsubscribe(mailbox(c)?),
        "RENAME" => {
            let from = mailbox(c)?;
            let to = mailbox(c)?;
            Command::Rename { from, to }
        }
        "LIST" | "LSUB" => list(c, &name, utf8)?,
        "STATUS" => {
            let mb = mailbox(c)?;
            c.sp()?;
            let items = c.list(MAX_ITEMS, |c| Ok(c.atom()?.to_ascii_uppercase()))?;
            if items.is_empty() {
                return Err(LexError("STATUS needs at least one item"));
            }
            Command::Status { mailbox: mb, items }
        }
        "APPEND" => {
            let mb = mailbox(c)?;
            c.sp()?;
            let mut flags = Vec::new();
            if c.peek() == Some(b'(') {
                flags = c.list(MAX_ITEMS, |c| c.flag())?;
                c.sp()?;
            }
            let mut date = None;
            if c.peek() == Some(b'"') {
                let d = c.string()?;
                date = Some(String::from_utf8(d).map_err(|_| LexError("expected a date-time"))?);
                c.sp()?;
            }
            let binary = c.peek() == Some(b'~');
            let message = c.literal()?.to_vec();
            Command::Append {
                mailbox: mb,
                flags,
                date,
                message,
                binary,
            }
        }
        "COPY" | "MOVE" => copy_or_move(c, &name, false, utf8)?,
        "GETQUOTAROOT" => Command::GetQuotaRoot(mailbox(c)?),
        "GETQUOTA" => {
            c.sp()?;
            Command::GetQuota(c.astring()?)
        }
        "UID" => {
            c.sp()?;
            let sub = c.atom()?.to_ascii_uppercase();
            match sub.as_str() {
                "COPY" | "MOVE" => copy_or_move(c, &sub, true, utf8)?,
                "EXPUNGE" => {
                    c.sp()?;
                    Command::Expunge(Some(c.sequence_set()?))
                }
                "FETCH" => {
                    c.sp()?;
                    Command::Fetch {
                        uid: true,
                        fetch: fetch::fetch(c)?,
                    }
                }
                "STORE" => {
                    c.sp()?;
                    Command::Store {
                        uid: true,
                        store: fetch::store(c)?,
                    }
                }
                "SEARCH" | "SORT" | "THREAD" => searching(c, &sub, true)?,
                _ => return Err(LexError("unknown UID command")),
            }
        }
        "FETCH" => {
            c.sp()?;
            let f = fetch::fetch(c)?;
            if f.modifiers.vanished {
                return Err(LexError("VANISHED is for UID FETCH"));
            }
            Command::Fetch {
                uid: false,
                fetch: f,
            }
        }
        "STORE" => {
            c.sp()?;
            Command::Store {
                uid: false,
                store: fetch::store(c)?,
            }
        }
        "SEARCH" | "SORT" | "THREAD" => searching(c, &name, false)?,
        _ => return Err(LexError("unknown command")),
    };
    c.end()?;
    Ok(cmd)
}

/// SEARCH, SORT or THREAD (after the name).
fn searching(c: &mut Cursor<'_>, name: &str, uid: bool) -> Result<Command, LexError> {
    c.sp()?;
    Ok(match name {
        "SEARCH" => Command::Search {
            uid,
            search: search::search(c)?,
        },
        "SORT" => {
            let returns = search::returns(c)?;
            let (criteria, charset, keys) = search::sort(c)?;
            Command::Sort {
                uid,
                returns,
                criteria,
                charset,
                keys,
            }
        }
        _ => {
            let (by, charset, keys) = search::thread(c)?;
            Command::Thread {
                uid,
                by,
                charset,
                keys,
            }
        }
    })
}

fn copy_or_move(
    c: &mut Cursor<'_>,
    name: &str,
    uid: bool,
    utf8: bool,
) -> Result<Command, LexError> {
    c.sp()?;
    let set = c.sequence_set()?;
    c.sp()?;
    let mb = mailbox(c, utf8)?;
    Ok(if name == "MOVE" {
        Command::Move {
            uid,
            set,
            mailbox: mb,
        }
    } else {
        Command::Copy {
            uid,
            set,
            mailbox: mb,
        }
    })
}

fn list(c: &mut Cursor<'_>, name: &str, utf8: bool) -> Result<Command, LexError> {
    let mut options = ListOptions {
        lsub: name == "LSUB",
        subscribed: name == "LSUB",
        ..Default::default()
    };
    c.sp()?;
    if name == "LIST" && c.peek() == Some(b'(') {
        for o in c.list(MAX_ITEMS, |c| Ok(c.atom()?.to_ascii_uppercase()))? {
            match o.as_str() {
                "SUBSCRIBED" => options.subscribed = true,
                "SPECIAL-USE" => options.special_use_only = true,
                "RECURSIVEMATCH" => options.recursive_match = true,
                // We have no remote mailboxes: accepted, changes nothing.
                "REMOTE" => {}
                _ => return Err(LexError("unknown list selection option")),
            }
        }
        if options.recursive_match && !options.subscribed {
            // RFC 5258 §3: RECURSIVEMATCH alone means nothing.
            return Err(LexError("RECURSIVEMATCH needs another selection option"));
        }
        options.extended = true;
        c.sp()?;
    }
    let reference = name_text(&c.astring()?, utf8)?;
    c.sp()?;
    let patterns = if c.peek() == Some(b'(') && name == "LIST" {
        c.list(MAX_ITEMS, |c| list_pattern(c, utf8))?
    } else {
        vec![list_pattern(c, utf8)?]
    };
    if name == "LIST" && c.eat(b' ') {
        options.extended = true;
        let ret = c.atom()?;
        if !ret.eq_ignore_ascii_case("RETURN") {
            return Err(LexError("expected RETURN"));
        }
        c.sp()?;
        c.expect(b'(', "expected return options")?;
        if !c.eat(b')') {
            loop {
                let o = c.atom()?.to_ascii_uppercase();
                match o.as_str() {
                    "SPECIAL-USE" => options.return_special_use = true,
                    "CHILDREN" => options.return_children = true,
                    "SUBSCRIBED" => options.return_subscribed = true,
                    "STATUS" => {
                        c.sp()?;
                        options.return_status =
                            c.list(MAX_ITEMS, |c| Ok(c.atom()?.to_ascii_uppercase()))?;
                    }
                    _ => return Err(LexError("unknown list return option")),
                }
                if c.eat(b')') {
                    break;
                }
                c.sp()?;
            }
        }
    }
    if patterns.len() > 1 {
        options.extended = true;
    }
    Ok(Command::List {
        reference,
        patterns,
        options,
    })
}

/// A LIST pattern: a string, or an atom that may hold `%` and `*`.
fn list_pattern(c: &mut Cursor<'_>, utf8: bool) -> Result<String, LexError> {
    let raw = match c.peek() {
        _ if c.at_string() => c.string()?,
        _ => {
            let mut out = Vec::new();
            while let Some(b) = c.peek() {
                if b <= 0x20 || b >= 0x7f || b"(){\"\\".contains(&b) {
                    break;
                }
                out.push(b);
                let _ = c.eat(b);
            }
            if out.is_empty() {
                return Err(LexError("expected a mailbox pattern"));
            }
            out
        }
    };
    match name_text(&raw, utf8) {
        Err(_) if !utf8 && raw.iter().all(|b| (0x20..0x7f).contains(b)) => {
            // Not modified UTF-7: no name can match it; as sent, it matches nothing we hold.
            Ok(String::from_utf8_lossy(&raw).into_owned())
        }
        r => r,
    }
}

fn skip_list(c: &mut Cursor<'_>) -> Result<(), LexError> {
    let mut depth = 0usize;
    loop {
        match c.peek() {
            None => return Err(LexError("unterminated list")),
            Some(b'(') => depth += 1,
            Some(b')') => {
                depth -= 1;
                let _ = c.eat(b')');
                if depth == 0 {
                    return Ok(());
                }
                continue;
            }
            _ => {}
        }
        let _ = c.eat(c.peek().unwrap_or(b' '));
    }
}

/// A mailbox name: `INBOX` in any case, else decoded (UTF-8, or modified UTF-7).
fn mailbox(c: &mut Cursor<'_>, utf8: bool) -> Result<Mailbox, LexError> {
    let raw = c.astring()?;
    if raw.eq_ignore_ascii_case(b"INBOX") {
        return Ok(Mailbox::Inbox);
    }
    match name_text(&raw, utf8) {
        Ok(name) => Ok(Mailbox::Other(name)),
        // ASCII that is not modified UTF-7 (`&` not starting a valid run).
        Err(_) if !utf8 && raw.iter().all(|b| (0x20..0x7f).contains(b)) => {
            Ok(Mailbox::Invalid(String::from_utf8_lossy(&raw).into_owned()))
        }
        Err(e) => Err(e),
    }
}

fn name_text(raw: &[u8], utf8: bool) -> Result<String, LexError> {
    let s = std::str::from_utf8(raw).map_err(|_| LexError("a mailbox name must be UTF-8"))?;
    if s.chars().any(char::is_control) {
        return Err(LexError("a mailbox name cannot hold control characters"));
    }
    if utf8 {
        Ok(s.to_string())
    } else {
        utf7::decode(s).map_err(|_| LexError("the mailbox name is not valid modified UTF-7"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::lex::SeqNumber;

    fn p(s: &str) -> Command {
        parse(s.as_bytes(), false)
            .unwrap_or_else(|b| panic!("{s}: {b:?}"))
            .command
    }

    fn other(s: &str) -> Mailbox {
        Mailbox::Other(s.into())
    }

    #[test]
    fn commands_clients_send_parse() {
        assert_eq!(p("a CAPABILITY"), Command::Capability);
        assert_eq!(
            p("a login ana \"s3 cret\""),
            Command::Login {
                user: b"ana".to_vec(),
                password: b"s3 cret".to_vec()
            }
        );
        assert_eq!(
            p("a AUTHENTICATE PLAIN AGFuYQBzZWNyZXQ="),
            Command::Authenticate {
                mechanism: "PLAIN".into(),
                initial: Some(b"AGFuYQBzZWNyZXQ=".to_vec())
            }
        );
        assert_eq!(
            p("a ENABLE QRESYNC utf8=accept"),
            Command::Enable(vec!["QRESYNC".into(), "UTF8=ACCEPT".into()])
        );
        assert_eq!(
            p("a ID (\"name\" \"Thunderbird\" \"os\" NIL)"),
            Command::Id(Some(vec![
                (b"name".to_vec(), Some(b"Thunderbird".to_vec())),
                (b"os".to_vec(), None)
            ]))
        );
        assert_eq!(p("a ID NIL"), Command::Id(None));
        assert_eq!(
            p("a SELECT inbox (QRESYNC (67890007 20050715194045000 41,43:211))"),
            Command::Select {
                mailbox: Mailbox::Inbox,
                read_only: false,
                condstore: false,
                qresync: Some(Qresync {
                    uidvalidity: 67890007,
                    modseq: 20050715194045000,
                    known_uids: Some(SequenceSet::Ranges(vec![
                        (SeqNumber::Value(41), SeqNumber::Value(41)),
                        (SeqNumber::Value(43), SeqNumber::Value(211))
                    ]))
                })
            }
        );
        assert_eq!(
            p("a EXAMINE Entw&APw-rfe (CONDSTORE)"),
            Command::Select {
                mailbox: other("Entwürfe"),
                read_only: true,
                condstore: true,
                qresync: None
            }
        );
        assert_eq!(
            p("a CREATE Drafts2 (USE (\\Drafts))"),
            Command::Create {
                mailbox: other("Drafts2"),
                special_use: vec!["\\Drafts".into()]
            }
        );
        assert_eq!(
            p("a LIST \"\" \"*\" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))"),
            Command::List {
                reference: String::new(),
                patterns: vec!["*".into()],
                options: ListOptions {
                    extended: true,
                    return_special_use: true,
                    return_status: vec!["MESSAGES".into(), "UNSEEN".into(), "SIZE".into()],
                    ..Default::default()
                }
            }
        );
        assert_eq!(
            p("a LIST (SUBSCRIBED) \"\" (INBOX Work/%)"),
            Command::List {
                reference: String::new(),
                patterns: vec!["INBOX".into(), "Work/%".into()],
                options: ListOptions {
                    subscribed: true,
                    extended: true,
                    ..Default::default()
                }
            }
        );
        assert_eq!(
            p("a STATUS INBOX (MESSAGES UIDNEXT size HIGHESTMODSEQ)"),
            Command::Status {
                mailbox: Mailbox::Inbox,
                items: vec![
                    "MESSAGES".into(),
                    "UIDNEXT".into(),
                    "SIZE".into(),
                    "HIGHESTMODSEQ".into()
                ]
            }
        );
        assert_eq!(
            p("a APPEND Sent (\\Seen) \"06-Dec-2026 10:00:00 +0000\" {5+}\r\nhello"),
            Command::Append {
                mailbox: other("Sent"),
                flags: vec!["\\Seen".into()],
                date: Some("06-Dec-2026 10:00:00 +0000".into()),
                message: b"hello".to_vec(),
                binary: false,
            }
        );
        assert_eq!(
            p("a UID MOVE 1:4 Trash"),
            Command::Move {
                uid: true,
                set: SequenceSet::Ranges(vec![(SeqNumber::Value(1), SeqNumber::Value(4))]),
                mailbox: other("Trash")
            }
        );
        assert_eq!(
            p("a UID EXPUNGE $"),
            Command::Expunge(Some(SequenceSet::Saved))
        );
        assert!(matches!(
            p("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5 VANISHED)"),
            Command::Fetch { uid: true, .. }
        ));
        assert!(matches!(
            p("a STORE 1 +FLAGS (\\Seen)"),
            Command::Store { uid: false, .. }
        ));
        assert!(matches!(
            p("a UID SEARCH RETURN (SAVE) UNSEEN"),
            Command::Search { uid: true, .. }
        ));
        assert!(matches!(
            p("a UID SORT (REVERSE DATE) UTF-8 ALL"),
            Command::Sort {
                uid: true,
                returns: None,
                ..
            }
        ));
        assert!(matches!(
            p("a SORT RETURN (MIN COUNT) (SUBJECT) UTF-8 ALL"),
            Command::Sort {
                returns: Some(search::ReturnOptions {
                    min: true,
                    count: true,
                    max: false,
                    all: false,
                    save: false
                }),
                ..
            }
        ));
        assert!(matches!(
            p("a SORT RETURN () (SUBJECT) UTF-8 ALL"),
            Command::Sort {
                returns: Some(search::ReturnOptions { all: true, .. }),
                ..
            }
        ));
        assert!(parse(b"a SORT RETURN (MIN) UTF-8 ALL", false).is_err());
        assert!(p("a COMPRESS deflate") == Command::Compress("DEFLATE".into()));
        assert!(matches!(
            p("a THREAD REFERENCES UTF-8 ALL"),
            Command::Thread { uid: false, .. }
        ));
    }

    #[test]
    fn ascii_names_that_are_not_modified_utf7_name_no_mailbox() {
        // Not BAD: the command is well formed; the server answers NO (no such mailbox).
        assert_eq!(
            parse(b"a SELECT &AGE-", false).map(|t| t.command),
            Ok(Command::Select {
                mailbox: Mailbox::Invalid("&AGE-".into()),
                read_only: false,
                condstore: false,
                qresync: None,
            })
        );
    }

    #[test]
    fn names_are_utf8_after_enable_and_modified_utf7_before() {
        let raw = "a SELECT \"Entwürfe\"".as_bytes();
        assert!(
            parse(raw, false).is_err(),
            "8-bit before ENABLE UTF8=ACCEPT"
        );
        assert_eq!(
            parse(raw, true).map(|t| t.command),
            Ok(Command::Select {
                mailbox: other("Entwürfe"),
                read_only: false,
                condstore: false,
                qresync: None
            })
        );
        assert_eq!(
            parse(b"a SELECT Entw&APw-rfe", true).map(|t| t.command),
            Ok(Command::Select {
                mailbox: other("Entw&APw-rfe"),
                read_only: false,
                condstore: false,
                qresync: None
            })
        );
    }

    #[test]
    fn bad_commands_say_why_with_their_tag() {
        for (line, tag, text) in [
            ("a FROB", Some("a"), "unknown command"),
            ("a LOGIN ana", Some("a"), "expected a space"),
            (
                "a NOOP extra",
                Some("a"),
                "unexpected characters at the end of the command",
            ),
            (
                "a SELECT INBOX (FOO)",
                Some("a"),
                "unknown select parameter",
            ),
            ("a UID FROB 1", Some("a"), "unknown UID command"),
            (
                "a ID (\"name\")",
                Some("a"),
                "ID takes field and value pairs",
            ),
            ("a ENABLE", Some("a"), "ENABLE needs a capability"),
            ("a COPY 0 Trash", Some("a"), "0 is not a message number"),
            (
                "a APPEND INBOX {9}\r\nshort",
                Some("a"),
                "literal shorter than announced",
            ),
            (
                "a FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)",
                Some("a"),
                "VANISHED is for UID FETCH",
            ),
            ("a FETCH 1 (FROB)", Some("a"), "unknown fetch item"),
            ("+bad NOOP", None, "expected a tag"),
            ("", None, "expected a tag"),
        ] {
            assert_eq!(
                parse(line.as_bytes(), false),
                Err(Bad {
                    tag: tag.map(str::to_string),
                    text
                }),
                "{line:?}"
            );
        }
    }
}
