//! The SMTP session state machine: which command is allowed when, and what it answers. No I/O:
//! the network loop feeds it commands and does what the returned [`Step`] says; recipients are
//! checked through [`Recipients`] (the resolver and quotas, in production).

use super::command::{Command, Param, ParseError};
use super::reply::Reply;

/// Limits of one session.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest message accepted, in bytes (advertised as SIZE).
    pub max_message: usize,
    /// Recipients per message.
    pub max_recipients: usize,
    /// Bad commands before the session is closed.
    pub max_errors: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message: 50 * 1024 * 1024,
            max_recipients: 100,
            max_errors: 10,
        }
    }
}

/// What a recipient check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Deliverable.
    Accept,
    /// No such address on a domain of ours (`550 5.1.1`).
    Unknown,
    /// Not a verified domain of ours: we are no open relay (`550 5.7.1`).
    NotOurs,
    /// The mailbox is suspended (`550 5.2.1`).
    Suspended,
    /// The mailbox is full (`452 4.2.2`, try later).
    OverQuota,
    /// The check itself failed (database down): `451 4.3.0`, try later.
    TryLater,
    /// The address forwards outside; outbound delivery is not available in this release, so
    /// the sender is asked to retry (`451 4.3.0`) rather than have a copy dropped.
    CannotForward,
}

/// Checks recipients at RCPT time.
#[allow(async_fn_in_trait)]
pub trait Recipients {
    /// The verdict for one recipient address.
    async fn check(&mut self, address: &str) -> Verdict;

    /// Whether the storage is too full to take mail now (answered at MAIL: `452 4.3.1`).
    fn storage_low(&self) -> bool {
        false
    }
}

/// What the network loop must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the reply and read the next command.
    Reply(Reply),
    /// Send the reply and close the connection.
    Close(Reply),
    /// Send the reply (354), then read the message with a [`super::data::DataReader`] and call
    /// [`Session::data_received`].
    ReadData(Reply),
    /// Send the reply (220), then start TLS and call [`Session::tls_started`].
    StartTls(Reply),
}

/// The envelope of the message being received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The HELO/EHLO name.
    pub helo: String,
    /// The reverse path (empty: the null sender).
    pub from: String,
    /// MAIL parameters.
    pub params: Vec<Param>,
    /// Accepted recipients, in order, each once.
    pub recipients: Vec<String>,
}

impl Envelope {
    /// Whether MAIL declared 8-bit (or binary) content or SMTPUTF8.
    pub fn declares_8bit(&self) -> bool {
        self.params.iter().any(|(k, v)| {
            (k == "BODY"
                && v.as_deref().is_some_and(|v| {
                    v.eq_ignore_ascii_case("8BITMIME") || v.eq_ignore_ascii_case("BINARYMIME")
                }))
                || k == "SMTPUTF8"
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before HELO/EHLO.
    Connected,
    /// After HELO/EHLO, no transaction.
    Ready,
    /// After MAIL.
    Mail,
    /// After at least one accepted RCPT.
    Rcpt,
    /// Reading DATA.
    Data,
}

/// One SMTP session.
#[derive(Debug)]
pub struct Session {
    hostname: String,
    limits: Limits,
    phase: Phase,
    esmtp: bool,
    tls: bool,
    tls_available: bool,
    errors: usize,
    envelope: Envelope,
    /// Bytes of the BDAT chunks so far (the bytes themselves are the network loop's).
    bdat_len: usize,
    bdat_overflow: bool,
}

fn ok(text: &str) -> Step {
    Step::Reply(Reply::new(250, Some("2.0.0"), text))
}

fn bad_sequence(text: &str) -> Reply {
    Reply::new(503, Some("5.5.1"), text)
}

impl Session {
    /// A new session for a server named `hostname`; `tls_available` offers STARTTLS.
    pub fn new(hostname: &str, limits: Limits, tls_available: bool) -> Self {
        Self {
            hostname: hostname.to_string(),
            limits,
            phase: Phase::Connected,
            esmtp: false,
            tls: false,
            tls_available,
            errors: 0,
            envelope: Envelope::default(),
            bdat_len: 0,
            bdat_overflow: false,
        }
    }

    /// The greeting sent on connect.
    pub fn greeting(&self) -> Reply {
        Reply::new(220, None, format!("{} ESMTP Mailroom", self.hostname))
    }

    /// The envelope so far.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    fn reset(&mut self) {
        let helo = std::mem::take(&mut self.envelope.helo);
        self.bdat_len = 0;
        self.bdat_overflow = false;
        self.envelope = Envelope {
            helo,
            ..Default::default()
        };
        if self.phase != Phase::Connected {
            self.phase = Phase::Ready;
        }
    }

    /// Counts a refused command; past the limit the session ends.
    fn error(&mut self, reply: Reply) -> Step {
        self.errors += 1;
        if self.errors >= self.limits.max_errors {
            Step::Close(Reply::new(
                421,
                Some("4.7.0"),
                "too many errors, closing connection",
            ))
        } else {
            Step::Reply(reply)
        }
    }

    /// Handles one command line (or the parse error it produced).
    pub async fn command(
        &mut self,
        cmd: Result<Command, ParseError>,
        rcpts: &mut impl Recipients,
    ) -> Step {
        let cmd = match cmd {
            Ok(c) => c,
            Err(e) => return self.error(e.reply()),
        };
        match cmd {
            Command::Ehlo(name) => {
                self.reset();
                self.phase = Phase::Ready;
                self.esmtp = true;
                self.envelope.helo = name.clone();
                let mut lines = vec![
                    format!("{} greets {name}", self.hostname),
                    "PIPELINING".into(),
                    format!("SIZE {}", self.limits.max_message),
                    "8BITMIME".into(),
                    "SMTPUTF8".into(),
                    "ENHANCEDSTATUSCODES".into(),
                    "CHUNKING".into(),
                ];
                if self.tls_available && !self.tls {
                    lines.push("STARTTLS".into());
                }
                Step::Reply(Reply {
                    code: 250,
                    enhanced: None,
                    lines,
                })
            }
            Command::Helo(name) => {
                self.reset();
                self.phase = Phase::Ready;
                self.esmtp = false;
                self.envelope.helo = name;
                Step::Reply(Reply::new(250, None, self.hostname.clone()))
            }
            Command::Starttls if self.tls || !self.tls_available => {
                self.error(bad_sequence("TLS not available"))
            }
            Command::Starttls if matches!(self.phase, Phase::Mail | Phase::Rcpt) => self.error(
                bad_sequence("STARTTLS is not allowed inside a mail transaction"),
            ),
            Command::Starttls => {
                Step::StartTls(Reply::new(220, Some("2.0.0"), "ready to start TLS"))
            }
            Command::Mail { .. } if self.phase == Phase::Connected => {
                self.error(bad_sequence("send HELO or EHLO first"))
            }
            Command::Mail { .. } if self.phase != Phase::Ready => {
                self.error(bad_sequence("a transaction is already open; RSET first"))
            }
            Command::Mail { from, params } => {
                if rcpts.storage_low() {
                    return Step::Reply(Reply::new(
                        452,
                        Some("4.3.1"),
                        "insufficient system storage; try again later",
                    ));
                }
                if let Some((_, size)) = params.iter().find(|(k, _)| k == "SIZE") {
                    match size.as_deref().and_then(|s| s.parse::<usize>().ok()) {
                        Some(n) if n > self.limits.max_message => {
                            return Step::Reply(Reply::new(
                                552,
                                Some("5.3.4"),
                                format!(
                                    "message size exceeds the limit of {} bytes",
                                    self.limits.max_message
                                ),
                            ));
                        }
                        Some(_) => {}
                        None => {
                            return self.error(Reply::new(
                                501,
                                Some("5.5.4"),
                                "SIZE needs a number",
                            ));
                        }
                    }
                }
                if let Some((k, _)) = params.iter().find(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "SIZE" | "BODY" | "SMTPUTF8" | "RET" | "ENVID" | "AUTH"
                    )
                }) {
                    return self.error(Reply::new(
                        555,
                        Some("5.5.4"),
                        format!("parameter {k} not supported"),
                    ));
                }
                self.envelope.from = from;
                self.envelope.params = params;
                self.phase = Phase::Mail;
                ok("sender ok")
            }
            Command::Rcpt { .. } if !matches!(self.phase, Phase::Mail | Phase::Rcpt) => {
                self.error(bad_sequence("send MAIL first"))
            }
            Command::Rcpt { to, params } => {
                if !params.is_empty() {
                    return self.error(Reply::new(
                        555,
                        Some("5.5.4"),
                        "RCPT parameters are not supported",
                    ));
                }
                if self.envelope.recipients.len() >= self.limits.max_recipients {
                    return Step::Reply(Reply::new(
                        452,
                        Some("4.5.3"),
                        "too many recipients; send the rest in another message",
                    ));
                }
                let reply = match rcpts.check(&to).await {
                    Verdict::Accept => {
                        let key = to.to_lowercase();
                        if !self
                            .envelope
                            .recipients
                            .iter()
                            .any(|r| r.to_lowercase() == key)
                        {
                            self.envelope.recipients.push(to);
                        }
                        self.phase = Phase::Rcpt;
                        return ok("recipient ok");
                    }
                    Verdict::Unknown => Reply::new(550, Some("5.1.1"), "no such recipient here"),
                    Verdict::NotOurs => Reply::new(
                        550,
                        Some("5.7.1"),
                        "relaying denied: not a domain of this server",
                    ),
                    Verdict::Suspended => Reply::new(550, Some("5.2.1"), "mailbox disabled"),
                    Verdict::OverQuota => {
                        return Step::Reply(Reply::new(
                            452,
                            Some("4.2.2"),
                            "mailbox full; try later",
                        ));
                    }
                    Verdict::TryLater => {
                        return Step::Reply(Reply::new(
                            451,
                            Some("4.3.0"),
                            "temporary failure; try later",
                        ));
                    }
                    Verdict::CannotForward => {
                        return Step::Reply(Reply::new(
                            451,
                            Some("4.3.0"),
                            "this address forwards outside and forwarding is not available yet; try later",
                        ));
                    }
                };
                self.error(reply)
            }
            Command::Data if self.phase == Phase::Mail => {
                self.error(bad_sequence("no valid recipients"))
            }
            Command::Data if self.phase != Phase::Rcpt => {
                self.error(bad_sequence("send MAIL and RCPT first"))
            }
            Command::Data => {
                self.phase = Phase::Data;
                Step::ReadData(Reply::new(354, None, "end data with <CR><LF>.<CR><LF>"))
            }
            Command::Bdat { .. } => self.error(Reply::new(
                502,
                Some("5.5.1"),
                "BDAT is handled by the network loop",
            )),
            Command::Rset => {
                self.reset();
                ok("reset")
            }
            Command::Noop => ok("ok"),
            Command::Quit => Step::Close(Reply::new(
                221,
                Some("2.0.0"),
                format!("{} closing connection", self.hostname),
            )),
            Command::Vrfy(_) => Step::Reply(Reply::new(
                252,
                Some("2.5.0"),
                "cannot verify, but will try delivery",
            )),
            Command::Expn(_) => Step::Reply(Reply::new(502, Some("5.5.1"), "EXPN is not offered")),
            Command::Help => Step::Reply(Reply::new(214, Some("2.0.0"), "see RFC 5321")),
            // This server is the MX: it takes mail for our domains and relays nothing, so it
            // has no use for authentication (RFC 4954 §4: not advertised, so not implemented).
            Command::Auth(_) => self.error(Reply::new(
                502,
                Some("5.5.1"),
                "authentication is not offered here: this server only receives mail for its domains",
            )),
        }
    }

    /// The message's data could not be kept (the spool failed): the transaction ends, and the
    /// network loop answers `452 4.3.1`.
    pub fn abandon(&mut self) {
        self.reset();
    }

    /// The message's data arrived. Returns the envelope to deliver (the network loop answers
    /// `250` only once every copy is committed) or the refusal to send; the transaction ends
    /// either way.
    pub fn data_received(&mut self, message: &[u8], overflowed: bool) -> Result<Envelope, Reply> {
        let envelope = std::mem::take(&mut self.envelope);
        self.envelope.helo = envelope.helo.clone();
        self.phase = Phase::Ready;
        if overflowed {
            return Err(Reply::new(
                552,
                Some("5.3.4"),
                format!("message larger than {} bytes", self.limits.max_message),
            ));
        }
        if !envelope.declares_8bit() && message.iter().any(|b| *b >= 0x80) {
            return Err(Reply::new(
                554,
                Some("5.6.0"),
                "8-bit content needs MAIL FROM:<…> BODY=8BITMIME",
            ));
        }
        if message.contains(&0)
            && !envelope
                .params
                .iter()
                .any(|(k, v)| k == "BODY" && v.as_deref() == Some("BINARYMIME"))
        {
            return Err(Reply::new(
                554,
                Some("5.6.0"),
                "NUL bytes are not allowed in a text message",
            ));
        }
        Ok(envelope)
    }

    /// A `BDAT` chunk may be read now (RFC 3030): after an accepted RCPT, or between chunks.
    /// On refusal, the step to answer with (the chunk's bytes must still be read and dropped).
    pub fn bdat(&mut self) -> Result<(), Step> {
        match self.phase {
            Phase::Rcpt | Phase::Data => {
                self.phase = Phase::Data;
                Ok(())
            }
            Phase::Mail => Err(self.error(bad_sequence("no valid recipients"))),
            _ => Err(self.error(bad_sequence("send MAIL and RCPT first"))),
        }
    }

    /// Counts `n` more bytes of BDAT chunks; false once the message is over the size limit
    /// (it is then remembered as too large, and its bytes are to be dropped).
    pub fn bdat_push(&mut self, n: usize) -> bool {
        if !self.bdat_overflow && self.bdat_len + n > self.limits.max_message {
            self.bdat_overflow = true;
        }
        self.bdat_len += n;
        !self.bdat_overflow
    }

    /// Ends the BDAT message: whether it overflowed.
    pub fn take_bdat(&mut self) -> bool {
        self.bdat_len = 0;
        std::mem::take(&mut self.bdat_overflow)
    }

    /// Whether the TLS layer is up.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// TLS is up: the session starts over (RFC 3207 §4.2).
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.phase = Phase::Connected;
        self.envelope = Envelope::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::command::parse;

    struct Directory;

    impl Recipients for Directory {
        async fn check(&mut self, address: &str) -> Verdict {
            match address.split_once('@') {
                Some((_, "elsewhere.example")) => Verdict::NotOurs,
                Some(("ana" | "ANA" | "bo", _)) => Verdict::Accept,
                Some(("full", _)) => Verdict::OverQuota,
                Some(("off", _)) => Verdict::Suspended,
                Some(("flaky", _)) => Verdict::TryLater,
                _ => Verdict::Unknown,
            }
        }
    }

    async fn say(s: &mut Session, line: &str) -> Step {
        s.command(parse(line.as_bytes()), &mut Directory).await
    }

    fn code(step: &Step) -> u16 {
        match step {
            Step::Reply(r) | Step::Close(r) | Step::ReadData(r) | Step::StartTls(r) => r.code,
        }
    }

    #[tokio::test]
    async fn a_full_transaction() {
        let mut s = Session::new("mx.test", Limits::default(), true);
        let ehlo = say(&mut s, "EHLO client.example").await;
        let Step::Reply(r) = &ehlo else {
            panic!("{ehlo:?}")
        };
        for cap in [
            "PIPELINING",
            "8BITMIME",
            "SMTPUTF8",
            "ENHANCEDSTATUSCODES",
            "STARTTLS",
            "CHUNKING",
        ] {
            assert!(r.lines.iter().any(|l| l == cap), "{cap}");
        }
        assert!(r.lines.iter().any(|l| l.starts_with("SIZE ")));
        // The MX neither advertises nor implements AUTH, and does not point elsewhere.
        assert!(!r.lines.iter().any(|l| l.starts_with("AUTH")));
        let Step::Reply(auth) = say(&mut s, "AUTH PLAIN AGFAYg==").await else {
            panic!("AUTH closed the session")
        };
        assert_eq!((auth.code, auth.enhanced), (502, Some("5.5.1")));
        assert!(!auth.lines.concat().contains("submission"), "{auth:?}");
        assert_eq!(
            code(&say(&mut s, "MAIL FROM:<x@sender.example> BODY=8BITMIME").await),
            250
        );
        assert_eq!(code(&say(&mut s, "RCPT TO:<ana@acme.example>").await), 250);
        assert_eq!(code(&say(&mut s, "RCPT TO:<ANA@acme.example>").await), 250);
        assert_eq!(code(&say(&mut s, "RCPT TO:<bo@acme.example>").await), 250);
        assert!(matches!(say(&mut s, "DATA").await, Step::ReadData(r) if r.code == 354));
        let env = s
            .data_received("Subject: olá\r\n\r\nhi\r\n".as_bytes(), false)
            .unwrap();
        assert_eq!(
            env.recipients,
            ["ana@acme.example", "bo@acme.example"],
            "each recipient once"
        );
        assert_eq!(
            (env.from.as_str(), env.helo.as_str()),
            ("x@sender.example", "client.example")
        );
        // The next transaction starts clean.
        assert_eq!(code(&say(&mut s, "DATA").await), 503);
        assert!(matches!(say(&mut s, "QUIT").await, Step::Close(r) if r.code == 221));
    }

    #[tokio::test]
    async fn recipients_get_the_replies_the_issue_asks_for() {
        let mut s = Session::new("mx.test", Limits::default(), false);
        say(&mut s, "EHLO c").await;
        say(&mut s, "MAIL FROM:<>").await;
        for (rcpt, want) in [
            ("nobody@acme.example", (550, "5.1.1")),
            ("x@elsewhere.example", (550, "5.7.1")),
            ("off@acme.example", (550, "5.2.1")),
            ("full@acme.example", (452, "4.2.2")),
            ("flaky@acme.example", (451, "4.3.0")),
        ] {
            let Step::Reply(r) = say(&mut s, &format!("RCPT TO:<{rcpt}>")).await else {
                panic!()
            };
            assert_eq!((r.code, r.enhanced.unwrap_or("")), want, "{rcpt}");
        }
        let Step::Reply(r) = say(&mut s, "DATA").await else {
            panic!()
        };
        assert_eq!(
            (r.code, r.enhanced),
            (503, Some("5.5.1")),
            "DATA without an accepted recipient"
        );
    }

    #[tokio::test]
    async fn sequence_limits_and_errors() {
        let limits = Limits {
            max_message: 100,
            max_recipients: 2,
            max_errors: 6,
        };
        let mut s = Session::new("mx.test", limits, false);
        assert_eq!(
            code(&say(&mut s, "MAIL FROM:<a@b.example>").await),
            503,
            "MAIL before EHLO"
        );
        say(&mut s, "EHLO c").await;
        assert_eq!(
            code(&say(&mut s, "RCPT TO:<ana@acme.example>").await),
            503,
            "RCPT before MAIL"
        );
        assert_eq!(
            code(&say(&mut s, "MAIL FROM:<a@b.example> SIZE=101").await),
            552
        );
        assert_eq!(
            code(&say(&mut s, "MAIL FROM:<a@b.example> SIZE=100").await),
            250
        );
        assert_eq!(
            code(&say(&mut s, "MAIL FROM:<a@b.example>").await),
            503,
            "nested MAIL"
        );
        say(&mut s, "RCPT TO:<ana@acme.example>").await;
        say(&mut s, "RCPT TO:<bo@acme.example>").await;
        let Step::Reply(r) = say(&mut s, "RCPT TO:<ana2@acme.example>").await else {
            panic!()
        };
        assert_eq!((r.code, r.enhanced), (452, Some("4.5.3")));
        say(&mut s, "DATA").await;
        assert_eq!(s.data_received(b"", true).unwrap_err().code, 552);
        say(&mut s, "MAIL FROM:<a@b.example>").await;
        say(&mut s, "RCPT TO:<ana@acme.example>").await;
        say(&mut s, "DATA").await;
        assert_eq!(
            s.data_received(b"caf\xc3\xa9\r\n", false).unwrap_err().code,
            554,
            "8-bit without BODY=8BITMIME"
        );
        assert_eq!(code(&say(&mut s, "VRFY ana").await), 252);
        assert_eq!(
            code(&say(&mut s, "STARTTLS").await),
            503,
            "no TLS configured"
        );
        // Errors add up to a 421 and a closed connection.
        let mut last = say(&mut s, "BOGUS").await;
        while let Step::Reply(_) = last {
            last = say(&mut s, "BOGUS").await;
        }
        assert!(matches!(last, Step::Close(r) if r.code == 421));
    }

    #[tokio::test]
    async fn starttls_restarts_the_session() {
        let mut s = Session::new("mx.test", Limits::default(), true);
        say(&mut s, "EHLO c").await;
        assert!(matches!(say(&mut s, "STARTTLS").await, Step::StartTls(r) if r.code == 220));
        s.tls_started();
        assert_eq!(
            code(&say(&mut s, "MAIL FROM:<a@b.example>").await),
            503,
            "EHLO again after TLS"
        );
        let Step::Reply(r) = say(&mut s, "EHLO c").await else {
            panic!()
        };
        assert!(!r.lines.iter().any(|l| l == "STARTTLS"));
        assert_eq!(code(&say(&mut s, "STARTTLS").await), 503);
    }
}
