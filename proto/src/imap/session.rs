//! The IMAP session state machine (RFC 9051 §3): which command is allowed in which state, the
//! commands that need nothing but the session (CAPABILITY, NOOP outside a mailbox, LOGOUT,
//! STARTTLS, ENABLE, ID, NAMESPACE), and for the rest a [`Step`] for the server to carry out
//! against the store, reporting back what changes the state ([`Session::logged_in`],
//! [`Session::selected`], [`Session::deselected`]).

use super::command::{Command, Tagged};

/// The protocol state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before LOGIN/AUTHENTICATE.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected (`read_only` after EXAMINE).
    Selected {
        /// Opened with EXAMINE.
        read_only: bool,
    },
    /// After LOGOUT.
    Logout,
}

/// What the server has configured for this session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// STARTTLS can be offered (a certificate is configured and the connection is plain).
    pub tls_available: bool,
    /// Refuse passwords before TLS (advertise LOGINDISABLED).
    pub require_tls_for_login: bool,
    /// The largest APPEND accepted (APPENDLIMIT).
    pub append_limit: u64,
}

/// Extensions the client turned on with ENABLE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enabled {
    /// `UTF8=ACCEPT`: names and strings are UTF-8.
    pub utf8: bool,
    /// `CONDSTORE`.
    pub condstore: bool,
    /// `QRESYNC` (implies CONDSTORE).
    pub qresync: bool,
    /// `IMAP4rev2` (RFC 9051): no `\Recent`, SEARCH answered with ESEARCH, the mailbox named
    /// in SELECT's LIST response, mailbox names in UTF-8 (as `utf8`).
    pub rev2: bool,
}

/// What the server must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes (whole response lines) and read on.
    Reply(Vec<u8>),
    /// Send these bytes and close the connection.
    Close(Vec<u8>),
    /// Send the tagged OK in these bytes, then start TLS and call [`Session::tls_started`].
    StartTls(Vec<u8>),
    /// Send the tagged OK in these bytes (uncompressed), then compress both ways (RFC 4978):
    /// every byte after the OK's CRLF, either way, is DEFLATE. The session counts it as on.
    Compress(Vec<u8>),
    /// Check the credentials of a LOGIN or AUTHENTICATE and call [`Session::logged_in`] when
    /// they are good; answer the tag either way.
    Authenticate(Tagged),
    /// Carry out the command against the store (the state allows it) and answer its tag; a
    /// SELECT/EXAMINE that succeeds calls [`Session::selected`], a CLOSE/UNSELECT (or a failed
    /// SELECT) [`Session::deselected`].
    Store(Tagged),
}

/// One IMAP session.
#[derive(Debug)]
pub struct Session {
    options: Options,
    state: State,
    tls: bool,
    enabled: Enabled,
    /// COMPRESS DEFLATE is on.
    compressed: bool,
}

fn line(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for p in parts {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(b"\r\n");
}

fn tagged(tag: &str, status: &str, text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    line(
        &mut out,
        &[
            tag.as_bytes(),
            b" ",
            status.as_bytes(),
            b" ",
            text.as_bytes(),
        ],
    );
    out
}

impl Session {
    /// A new session (implicit TLS: `tls` is already up).
    pub fn new(options: Options, tls: bool) -> Self {
        Self {
            options,
            state: State::NotAuthenticated,
            tls,
            enabled: Enabled::default(),
            compressed: false,
        }
    }

    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// What the client enabled.
    pub fn enabled(&self) -> Enabled {
        self.enabled
    }

    /// Whether LOGIN and AUTHENTICATE are refused now (plain connection, TLS required).
    pub fn login_disabled(&self) -> bool {
        self.options.require_tls_for_login && !self.tls
    }

    /// The capabilities to advertise in the current state.
    pub fn capabilities(&self) -> Vec<String> {
        // Only what the server carries out. IMAP4rev1 behaviour until the client enables
        // IMAP4rev2 (RFC 9051 §6.3.1).
        let mut caps: Vec<String> = vec!["IMAP4rev1".into(), "IMAP4rev2".into()];
        if self.state == State::NotAuthenticated {
            if self.options.tls_available && !self.tls {
                caps.push("STARTTLS".into());
            }
            if self.login_disabled() {
                caps.push("LOGINDISABLED".into());
            } else {
                caps.push("AUTH=PLAIN".into());
            }
            caps.push("SASL-IR".into());
        }
        caps.extend(
            [
                "LITERAL+",
                "ID",
                "ENABLE",
                "IDLE",
                "NAMESPACE",
                "UNSELECT",
                "UIDPLUS",
                "MOVE",
                "CHILDREN",
                "SPECIAL-USE",
                "CREATE-SPECIAL-USE",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "STATUS=SIZE",
                "CONDSTORE",
                "QRESYNC",
                "ESEARCH",
                "SEARCHRES",
                "WITHIN",
                "SORT",
                "SORT=DISPLAY",
                "ESORT",
                "THREAD=REFERENCES",
                "THREAD=ORDEREDSUBJECT",
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "UTF8=ACCEPT",
                "BINARY",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        if self.state != State::NotAuthenticated && !self.compressed {
            caps.push("COMPRESS=DEFLATE".into());
        }
        caps.push(format!("APPENDLIMIT={}", self.options.append_limit));
        caps
    }

    /// The greeting: `* OK [CAPABILITY …] …`.
    pub fn greeting(&self, hostname: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let caps = self.capabilities().join(" ");
        line(
            &mut out,
            &[
                b"* OK [CAPABILITY ",
                caps.as_bytes(),
                b"] ",
                hostname.as_bytes(),
                b" Mailroom IMAP ready",
            ],
        );
        out
    }

    /// Handles one parsed command.
    pub fn command(&mut self, t: Tagged) -> Step {
        use Command as C;
        let tag = t.tag.clone();
        let no = |text: &str| Step::Reply(tagged(&tag, "NO", text));
        let bad = |text: &str| Step::Reply(tagged(&tag, "BAD", text));
        // Commands valid in any state.
        match &t.command {
            C::Capability => {
                let mut out = Vec::new();
                let caps = self.capabilities().join(" ");
                line(&mut out, &[b"* CAPABILITY ", caps.as_bytes()]);
                out.extend(tagged(&tag, "OK", "CAPABILITY completed"));
                return Step::Reply(out);
            }
            C::Logout => {
                self.state = State::Logout;
                let mut out = Vec::new();
                line(&mut out, &[b"* BYE logging out"]);
                out.extend(tagged(&tag, "OK", "LOGOUT completed"));
                return Step::Close(out);
            }
            C::Noop if !matches!(self.state, State::Selected { .. }) => {
                return Step::Reply(tagged(&tag, "OK", "NOOP completed"));
            }
            C::Id(_) => {
                let mut out = Vec::new();
                line(&mut out, &[b"* ID (\"name\" \"Mailroom\")"]);
                out.extend(tagged(&tag, "OK", "ID completed"));
                return Step::Reply(out);
            }
            _ => {}
        }
        match self.state {
            State::Logout => bad("the session is ending"),
            State::NotAuthenticated => match t.command {
                C::StartTls if self.tls || !self.options.tls_available => {
                    bad("TLS is not available here")
                }
                C::StartTls => Step::StartTls(tagged(&tag, "OK", "begin TLS negotiation now")),
                C::Login { .. } | C::Authenticate { .. } if self.login_disabled() => {
                    Step::Reply(tagged(
                        &tag,
                        "NO",
                        "[PRIVACYREQUIRED] use STARTTLS or port 993 first",
                    ))
                }
                C::Authenticate { ref mechanism, .. } if mechanism != "PLAIN" => Step::Reply(
                    tagged(&tag, "NO", "[CANNOT] only AUTHENTICATE PLAIN is offered"),
                ),
                C::Login { .. } | C::Authenticate { .. } => Step::Authenticate(t),
                _ => bad("log in first"),
            },
            State::Authenticated | State::Selected { .. } => match t.command {
                C::StartTls | C::Login { .. } | C::Authenticate { .. } => bad("already logged in"),
                C::Compress(ref m) if m != "DEFLATE" => bad("only COMPRESS DEFLATE is offered"),
                C::Compress(_) if self.compressed => Step::Reply(tagged(
                    &tag,
                    "NO",
                    "[COMPRESSIONACTIVE] DEFLATE is already on",
                )),
                C::Compress(_) => {
                    self.compressed = true;
                    Step::Compress(tagged(&tag, "OK", "DEFLATE active"))
                }
                C::Enable(ref caps) => {
                    let mut on = Vec::new();
                    for c in caps {
                        let newly = match c.as_str() {
                            "UTF8=ACCEPT" => !std::mem::replace(&mut self.enabled.utf8, true),
                            "IMAP4REV2" => {
                                self.enabled.utf8 = true;
                                !std::mem::replace(&mut self.enabled.rev2, true)
                            }
                            "CONDSTORE" => !std::mem::replace(&mut self.enabled.condstore, true),
                            "QRESYNC" => {
                                self.enabled.condstore = true;
                                !std::mem::replace(&mut self.enabled.qresync, true)
                            }
                            _ => false,
                        };
                        if newly {
                            on.push(if c == "IMAP4REV2" {
                                "IMAP4rev2"
                            } else {
                                c.as_str()
                            });
                        }
                    }
                    let mut out = Vec::new();
                    line(&mut out, &[b"* ENABLED ", on.join(" ").as_bytes()]);
                    out.extend(tagged(&tag, "OK", "ENABLE completed"));
                    Step::Reply(out)
                }
                C::Namespace => {
                    let mut out = Vec::new();
                    line(&mut out, &[b"* NAMESPACE ((\"\" \"/\")) NIL NIL"]);
                    out.extend(tagged(&tag, "OK", "NAMESPACE completed"));
                    Step::Reply(out)
                }
                C::Select {
                    qresync: Some(_), ..
                } if !self.enabled.qresync => bad("ENABLE QRESYNC first"),
                // Commands that need a selected mailbox.
                C::Check
                | C::Close
                | C::Unselect
                | C::Expunge(_)
                | C::Copy { .. }
                | C::Move { .. }
                | C::Fetch { .. }
                | C::Store { .. }
                | C::Search { .. }
                | C::Sort { .. }
                | C::Thread { .. }
                | C::Noop
                    if !matches!(self.state, State::Selected { .. }) =>
                {
                    bad("select a mailbox first")
                }
                C::Expunge(_) | C::Store { .. }
                    if self.state == (State::Selected { read_only: true }) =>
                {
                    no("[READ-ONLY] the mailbox was opened with EXAMINE")
                }
                _ => Step::Store(t),
            },
        }
    }

    /// A CONDSTORE-enabling command (FETCH MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE, SEARCH
    /// MODSEQ, SELECT (CONDSTORE)) turned CONDSTORE on (RFC 7162 §3.1); true when it was off.
    pub fn enable_condstore(&mut self) -> bool {
        !std::mem::replace(&mut self.enabled.condstore, true)
    }

    /// LOGIN/AUTHENTICATE succeeded.
    pub fn logged_in(&mut self) {
        if self.state == State::NotAuthenticated {
            self.state = State::Authenticated;
        }
    }

    /// SELECT/EXAMINE succeeded.
    pub fn selected(&mut self, read_only: bool) {
        if self.state != State::NotAuthenticated && self.state != State::Logout {
            self.state = State::Selected { read_only };
        }
    }

    /// No mailbox is selected any more (CLOSE, UNSELECT, a failed SELECT).
    pub fn deselected(&mut self) {
        if matches!(self.state, State::Selected { .. }) {
            self.state = State::Authenticated;
        }
    }

    /// TLS is up (after STARTTLS): the client must ask for capabilities again.
    pub fn tls_started(&mut self) {
        self.tls = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::command::parse;

    fn step(s: &mut Session, line: &str) -> Step {
        s.command(parse(line.as_bytes(), s.enabled().utf8).unwrap())
    }

    fn text(st: &Step) -> String {
        match st {
            Step::Reply(b) | Step::Close(b) | Step::StartTls(b) | Step::Compress(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            other => format!("{other:?}"),
        }
    }

    fn opts() -> Options {
        Options {
            tls_available: true,
            require_tls_for_login: true,
            append_limit: 1000,
        }
    }

    #[test]
    fn the_states_admit_their_commands() {
        let mut s = Session::new(opts(), false);
        let g = String::from_utf8(s.greeting("mx.test")).unwrap();
        assert!(
            g.starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED"),
            "{g}"
        );
        assert!(text(&step(&mut s, "a SELECT INBOX")).starts_with("a BAD log in first"));
        assert!(text(&step(&mut s, "a COMPRESS DEFLATE")).starts_with("a BAD log in first"));
        assert!(text(&step(&mut s, "a LOGIN ana pw")).starts_with("a NO [PRIVACYREQUIRED]"));
        assert!(matches!(step(&mut s, "a STARTTLS"), Step::StartTls(_)));
        s.tls_started();
        let caps = s.capabilities();
        assert!(
            caps.contains(&"AUTH=PLAIN".to_string()) && !caps.contains(&"STARTTLS".to_string())
        );
        assert!(text(&step(&mut s, "a STARTTLS")).starts_with("a BAD"));
        assert!(text(&step(&mut s, "a AUTHENTICATE CRAM-MD5")).starts_with("a NO [CANNOT]"));
        assert!(matches!(
            step(&mut s, "a LOGIN ana pw"),
            Step::Authenticate(_)
        ));
        s.logged_in();
        assert_eq!(s.state(), State::Authenticated);
        assert!(!s.capabilities().contains(&"AUTH=PLAIN".to_string()));
        assert!(text(&step(&mut s, "a FETCH 1 FLAGS")).starts_with("a BAD select a mailbox first"));
        assert!(text(&step(&mut s, "a LOGIN ana pw")).starts_with("a BAD already logged in"));
        assert!(matches!(step(&mut s, "a LIST \"\" *"), Step::Store(_)));
        // COMPRESS (RFC 4978): DEFLATE once, offered until it is on.
        assert!(s.capabilities().contains(&"COMPRESS=DEFLATE".to_string()));
        assert!(text(&step(&mut s, "a COMPRESS GZIP")).starts_with("a BAD"));
        let on = step(&mut s, "a COMPRESS deflate");
        assert!(matches!(&on, Step::Compress(_)) && text(&on).starts_with("a OK"));
        assert!(!s.capabilities().iter().any(|c| c.starts_with("COMPRESS")));
        assert!(text(&step(&mut s, "a COMPRESS DEFLATE")).starts_with("a NO [COMPRESSIONACTIVE]"));
        assert!(matches!(step(&mut s, "a EXAMINE INBOX"), Step::Store(_)));
        s.selected(true);
        assert!(matches!(
            step(&mut s, "a UID FETCH 1:* FLAGS"),
            Step::Store(_)
        ));
        assert!(text(&step(&mut s, "a STORE 1 +FLAGS \\Seen")).starts_with("a NO [READ-ONLY]"));
        assert!(
            matches!(step(&mut s, "a NOOP"), Step::Store(_)),
            "NOOP reports changes when selected"
        );
        s.deselected();
        assert_eq!(s.state(), State::Authenticated);
        let bye = step(&mut s, "z LOGOUT");
        assert!(matches!(&bye, Step::Close(_)) && text(&bye).starts_with("* BYE"));
        assert!(
            text(&step(&mut s, "a NOOP")).contains("OK"),
            "NOOP is valid in every state"
        );
    }

    #[test]
    fn enable_turns_on_what_it_knows_once() {
        let mut s = Session::new(Options::default(), true);
        assert!(matches!(
            step(&mut s, "a LOGIN ana pw"),
            Step::Authenticate(_)
        ));
        s.logged_in();
        assert!(
            text(&step(&mut s, "a SELECT INBOX (QRESYNC (1 2))"))
                .starts_with("a BAD ENABLE QRESYNC first")
        );
        assert_eq!(
            text(&step(&mut s, "a ENABLE QRESYNC X-UNKNOWN")),
            "* ENABLED QRESYNC\r\na OK ENABLE completed\r\n"
        );
        assert!(s.enabled().qresync && s.enabled().condstore);
        assert_eq!(
            text(&step(&mut s, "b ENABLE QRESYNC UTF8=ACCEPT")),
            "* ENABLED UTF8=ACCEPT\r\nb OK ENABLE completed\r\n"
        );
        // Names are UTF-8 from now on.
        assert!(matches!(
            step(&mut s, "c SELECT \"Entwürfe\""),
            Step::Store(_)
        ));
        assert!(!s.enabled().rev2);
        assert_eq!(
            text(&step(&mut s, "d ENABLE imap4rev2")),
            "* ENABLED IMAP4rev2\r\nd OK ENABLE completed\r\n"
        );
        assert!(s.enabled().rev2 && s.enabled().utf8);
    }

    #[test]
    fn imap4rev2_brings_utf8_names() {
        let mut s = Session::new(Options::default(), true);
        assert!(matches!(
            step(&mut s, "a LOGIN ana pw"),
            Step::Authenticate(_)
        ));
        s.logged_in();
        assert!(text(&step(&mut s, "a ENABLE IMAP4rev2")).starts_with("* ENABLED IMAP4rev2"));
        assert_eq!(
            s.enabled(),
            Enabled {
                utf8: true,
                rev2: true,
                ..Enabled::default()
            }
        );
    }
}
