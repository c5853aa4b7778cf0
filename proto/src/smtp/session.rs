//! The SMTP session state machine: which command is allowed when, and what it answers, with
//! one handler per command. No I/O: the network loop feeds it commands and carries out what the
//! returned [`Step`] says: a reply to send, a recipient to look up (answered with
//! [`Session::recipient_checked`]), a message to read (DATA, or a BDAT chunk, whose bytes are
//! counted through [`Session::chunk_bytes`] and ended with [`Session::chunk_done`]), TLS to
//! start.

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

/// What a recipient look-up decided.
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
    /// Submission: the tenant no longer sends to this address (an earlier hard bounce):
    /// `550 5.1.1`.
    Suppressed,
    /// Not an address mail can be sent to (no `@`, no domain): `501 5.1.3`.
    BadAddress,
    /// The address forwards outside; outbound delivery is not available in this release, so
    /// the sender is asked to retry (`451 4.3.0`) rather than have a copy dropped.
    CannotForward,
    /// Greylisted: a new sender is asked to retry after this many seconds (`451 4.7.1`).
    Greylisted(u64),
}

/// What the server knows of itself when a command arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conditions {
    /// The storage is too full to take mail now: MAIL is answered `452 4.3.1`.
    pub storage_low: bool,
}

/// What the network loop must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the reply and read the next command.
    Reply(Reply),
    /// Send the reply and close the connection.
    Close(Reply),
    /// Look the address up and hand the verdict to [`Session::recipient_checked`].
    CheckRecipient(String),
    /// Send the reply (354), then read the message with a [`super::data::DataReader`] and call
    /// [`Session::message_received`].
    ReadData(Reply),
    /// Read exactly `size` bytes of a BDAT chunk (RFC 3030), whatever becomes of them, so the
    /// command stream stays in step: hand the length of each piece read to
    /// [`Session::chunk_bytes`] (which says whether to keep it), then call
    /// [`Session::chunk_done`].
    ReadChunk {
        /// The chunk's size in bytes.
        size: u64,
    },
    /// The last BDAT chunk is in: call [`Session::message_received`] with the chunks' bytes.
    Deliver,
    /// Send the reply (220), then start TLS and call [`Session::tls_started`].
    StartTls(Reply),
    /// Submission: check these credentials and hand the outcome to [`Session::authenticated`].
    Authenticate {
        /// The login (authentication identity).
        user: String,
        /// The password.
        password: String,
    },
    /// Submission: check that the logged-in user may send as this reverse path, and hand the
    /// verdict to [`Session::sender_checked`].
    CheckSender(String),
}

/// What a credentials check decided ([`Step::Authenticate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVerdict {
    /// Logged in: `235 2.7.0`.
    Accept,
    /// Wrong login or password: `535 5.7.8`.
    Invalid,
    /// The account may not log in (suspended): `535 5.7.8` with this text.
    Refused(String),
    /// Too many attempts, or a failure on our side: `454 4.7.0`, try later.
    TryLater(String),
}

/// What a sender check decided ([`Step::CheckSender`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderVerdict {
    /// The user may send as it.
    Accept,
    /// Not an address of the user's (`553 5.7.1`), with the reason.
    NotYours(String),
    /// The check failed (`451 4.3.0`).
    TryLater,
}

/// The SASL exchange under way.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sasl {
    /// PLAIN: waiting for the response.
    Plain,
    /// LOGIN: waiting for the user name.
    LoginUser,
    /// LOGIN: waiting for the password of this user.
    LoginPassword(String),
}

/// A submission session's state (RFC 6409, RFC 4954).
#[derive(Debug, Clone)]
struct Submission {
    /// AUTH only once TLS is up.
    require_tls: bool,
    /// The user logged in.
    user: Option<String>,
    /// A SASL exchange under way.
    sasl: Option<Sasl>,
    /// The reverse path and parameters being checked.
    pending_mail: Option<(String, Vec<Param>)>,
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
    /// Reading DATA, or between BDAT chunks.
    Data,
}

/// The BDAT chunk being read.
#[derive(Debug)]
struct Chunk {
    size: u64,
    last: bool,
    /// The chunk is read and dropped, then this is the answer (a sequence error).
    refused: Option<Step>,
}

/// One SMTP session.
#[derive(Debug)]
pub struct Session {
    hostname: String,
    limits: Limits,
    phase: Phase,
    tls: bool,
    tls_available: bool,
    errors: usize,
    envelope: Envelope,
    /// The RCPT address being looked up.
    pending_rcpt: Option<String>,
    chunk: Option<Chunk>,
    /// Bytes of the BDAT chunks so far (the bytes themselves are the network loop's).
    bdat_len: usize,
    bdat_overflow: bool,
    /// Set for a submission server.
    submission: Option<Submission>,
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
            tls: false,
            tls_available,
            errors: 0,
            envelope: Envelope::default(),
            pending_rcpt: None,
            chunk: None,
            bdat_len: 0,
            bdat_overflow: false,
            submission: None,
        }
    }

    /// A session of a submission server (RFC 6409): AUTH PLAIN and LOGIN are offered (once
    /// TLS is up, when `require_tls`), and a transaction needs a logged-in user whose sender
    /// addresses are checked ([`Step::CheckSender`]).
    pub fn submission(
        hostname: &str,
        limits: Limits,
        tls_available: bool,
        require_tls: bool,
    ) -> Self {
        let mut s = Self::new(hostname, limits, tls_available);
        s.submission = Some(Submission {
            require_tls,
            user: None,
            sasl: None,
            pending_mail: None,
        });
        s
    }

    /// The logged-in user of a submission session.
    pub fn user(&self) -> Option<&str> {
        self.submission.as_ref().and_then(|s| s.user.as_deref())
    }

    /// Whether the next line is a SASL response (hand it to [`Session::sasl_response`]) rather
    /// than a command.
    pub fn awaiting_sasl(&self) -> bool {
        self.submission.as_ref().is_some_and(|s| s.sasl.is_some())
    }

    /// Whether AUTH may be offered now.
    fn auth_offered(&self) -> bool {
        self.submission
            .as_ref()
            .is_some_and(|s| s.user.is_none() && (self.tls || !s.require_tls))
    }

    /// The greeting sent on connect.
    pub fn greeting(&self) -> Reply {
        Reply::new(220, None, format!("{} ESMTP Mailroom", self.hostname))
    }

    /// The envelope so far.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// Whether the TLS layer is up.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    fn reset(&mut self) {
        let helo = std::mem::take(&mut self.envelope.helo);
        self.bdat_len = 0;
        self.bdat_overflow = false;
        self.pending_rcpt = None;
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

    /// Handles one command line (or the parse error it produced): hands it to its handler.
    pub fn command(&mut self, cmd: Result<Command, ParseError>, now: Conditions) -> Step {
        let cmd = match cmd {
            Ok(c) => c,
            Err(e) => return self.error(e.reply()),
        };
        match cmd {
            Command::Ehlo(name) => self.ehlo(name),
            Command::Helo(name) => self.helo(name),
            Command::Starttls => self.starttls(),
            Command::Mail { from, params } => self.mail(from, params, now),
            Command::Rcpt { to, params } => self.rcpt(to, params),
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
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
            Command::Auth(args) => self.auth(args),
        }
    }

    /// `EHLO`: a new session state and the extensions offered.
    fn ehlo(&mut self, name: String) -> Step {
        self.reset();
        self.phase = Phase::Ready;
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
        if self.auth_offered() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        Step::Reply(Reply {
            code: 250,
            enhanced: None,
            lines,
        })
    }

    /// `HELO`: plain SMTP.
    fn helo(&mut self, name: String) -> Step {
        self.reset();
        self.phase = Phase::Ready;
        self.envelope.helo = name;
        Step::Reply(Reply::new(250, None, self.hostname.clone()))
    }

    /// `STARTTLS` (RFC 3207): outside a transaction, once.
    fn starttls(&mut self) -> Step {
        if self.tls || !self.tls_available {
            return self.error(bad_sequence("TLS not available"));
        }
        if matches!(self.phase, Phase::Mail | Phase::Rcpt) {
            return self.error(bad_sequence(
                "STARTTLS is not allowed inside a mail transaction",
            ));
        }
        Step::StartTls(Reply::new(220, Some("2.0.0"), "ready to start TLS"))
    }

    /// `MAIL FROM`: opens a transaction; SIZE is checked against the limit up front.
    fn mail(&mut self, from: String, params: Vec<Param>, now: Conditions) -> Step {
        if self.phase == Phase::Connected {
            return self.error(bad_sequence("send HELO or EHLO first"));
        }
        if self.phase != Phase::Ready {
            return self.error(bad_sequence("a transaction is already open; RSET first"));
        }
        if self.submission.as_ref().is_some_and(|s| s.user.is_none()) {
            return self.error(Reply::new(
                530,
                Some("5.7.0"),
                "authentication required: log in with AUTH first",
            ));
        }
        if now.storage_low {
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
                    return self.error(Reply::new(501, Some("5.5.4"), "SIZE needs a number"));
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
        if let Some(sub) = self.submission.as_mut() {
            sub.pending_mail = Some((from.clone(), params));
            return Step::CheckSender(from);
        }
        self.envelope.from = from;
        self.envelope.params = params;
        self.phase = Phase::Mail;
        ok("sender ok")
    }

    /// The verdict on the reverse path of [`Step::CheckSender`].
    pub fn sender_checked(&mut self, verdict: SenderVerdict) -> Step {
        let Some((from, params)) = self.submission.as_mut().and_then(|s| s.pending_mail.take())
        else {
            return self.error(bad_sequence("send MAIL first"));
        };
        match verdict {
            SenderVerdict::Accept => {
                self.envelope.from = from;
                self.envelope.params = params;
                self.phase = Phase::Mail;
                ok("sender ok")
            }
            SenderVerdict::NotYours(why) => self.error(Reply::new(553, Some("5.7.1"), why)),
            SenderVerdict::TryLater => Step::Reply(Reply::new(
                451,
                Some("4.3.0"),
                "temporary failure checking the sender; try later",
            )),
        }
    }

    /// `RCPT TO`: within the recipient limit, the address goes to the directory.
    fn rcpt(&mut self, to: String, params: Vec<Param>) -> Step {
        if !matches!(self.phase, Phase::Mail | Phase::Rcpt) {
            return self.error(bad_sequence("send MAIL first"));
        }
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
        self.pending_rcpt = Some(to.clone());
        Step::CheckRecipient(to)
    }

    /// The directory's verdict on the address of [`Step::CheckRecipient`].
    pub fn recipient_checked(&mut self, verdict: Verdict) -> Step {
        let Some(to) = self.pending_rcpt.take() else {
            return self.error(bad_sequence("send RCPT first"));
        };
        let reply = match verdict {
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
            Verdict::BadAddress => Reply::new(
                501,
                Some("5.1.3"),
                "bad recipient address: local-part@domain expected",
            ),
            Verdict::Suppressed => Reply::new(
                550,
                Some("5.1.1"),
                "recipient is on the suppression list after an earlier hard bounce",
            ),
            // Transient: not counted as client errors.
            Verdict::OverQuota => {
                return Step::Reply(Reply::new(452, Some("4.2.2"), "mailbox full; try later"));
            }
            Verdict::TryLater => {
                return Step::Reply(Reply::new(
                    451,
                    Some("4.3.0"),
                    "temporary failure; try later",
                ));
            }
            Verdict::Greylisted(secs) => {
                return Step::Reply(Reply::new(
                    451,
                    Some("4.7.1"),
                    format!("greylisted: please try again in {secs} seconds"),
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

    /// `DATA`: after at least one accepted recipient.
    fn data(&mut self) -> Step {
        match self.phase {
            Phase::Mail => self.error(bad_sequence("no valid recipients")),
            Phase::Rcpt => {
                self.phase = Phase::Data;
                Step::ReadData(Reply::new(354, None, "end data with <CR><LF>.<CR><LF>"))
            }
            _ => self.error(bad_sequence("send MAIL and RCPT first")),
        }
    }

    /// `BDAT size [LAST]` (RFC 3030): after an accepted RCPT, or between chunks. The chunk is
    /// read in any case; a refused one is dropped and answered once read.
    fn bdat(&mut self, size: u64, last: bool) -> Step {
        let refused = match self.phase {
            Phase::Rcpt | Phase::Data => {
                self.phase = Phase::Data;
                None
            }
            Phase::Mail => Some(self.error(bad_sequence("no valid recipients"))),
            _ => Some(self.error(bad_sequence("send MAIL and RCPT first"))),
        };
        self.chunk = Some(Chunk {
            size,
            last,
            refused,
        });
        Step::ReadChunk { size }
    }

    /// Counts `n` more bytes of the chunk being read: whether to keep them. False for a
    /// refused chunk, and once the message is over the size limit (it is then remembered as
    /// too large, and answered `552` at its end).
    pub fn chunk_bytes(&mut self, n: usize) -> bool {
        match &self.chunk {
            Some(c) if c.refused.is_none() => {}
            _ => return false,
        }
        if !self.bdat_overflow && self.bdat_len + n > self.limits.max_message {
            self.bdat_overflow = true;
        }
        self.bdat_len += n;
        !self.bdat_overflow
    }

    /// The chunk is read: its refusal, `250` for a chunk that is not the last, or
    /// [`Step::Deliver`] for the last. A refused chunk ends the message: the caller drops the
    /// chunks kept so far.
    pub fn chunk_done(&mut self) -> Step {
        let Some(chunk) = self.chunk.take() else {
            return self.error(bad_sequence("no BDAT chunk is being read"));
        };
        if let Some(step) = chunk.refused {
            return step;
        }
        if chunk.last {
            Step::Deliver
        } else {
            Step::Reply(Reply::new(
                250,
                Some("2.0.0"),
                format!("{} octets received", chunk.size),
            ))
        }
    }

    /// `AUTH mechanism [initial-response]` (RFC 4954). The MX takes mail for our domains and
    /// relays nothing, so it has no use for it (not advertised, so not implemented); a
    /// submission server offers PLAIN and LOGIN.
    fn auth(&mut self, args: String) -> Step {
        let Some(sub) = self.submission.as_ref() else {
            return self.error(Reply::new(
                502,
                Some("5.5.1"),
                "authentication is not offered here: this server only receives mail for its domains",
            ));
        };
        if sub.user.is_some() {
            return self.error(bad_sequence("already authenticated"));
        }
        if self.phase == Phase::Connected {
            return self.error(bad_sequence("send EHLO first"));
        }
        if self.phase != Phase::Ready {
            return self.error(bad_sequence(
                "AUTH is not allowed inside a mail transaction",
            ));
        }
        if sub.require_tls && !self.tls {
            return self.error(Reply::new(
                538,
                Some("5.7.11"),
                "encryption required: start TLS (STARTTLS) before AUTH",
            ));
        }
        let mut words = args.split_ascii_whitespace();
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next().map(|w| w.as_bytes().to_vec());
        let (sasl, challenge) = match mechanism.as_str() {
            "PLAIN" => (Sasl::Plain, ""),
            // base64 of "Username:".
            "LOGIN" => (Sasl::LoginUser, "VXNlcm5hbWU6"),
            _ => {
                return self.error(Reply::new(
                    504,
                    Some("5.5.4"),
                    "unrecognized authentication mechanism: PLAIN and LOGIN are offered",
                ));
            }
        };
        if let Some(sub) = self.submission.as_mut() {
            sub.sasl = Some(sasl);
        }
        match initial {
            Some(r) => self.sasl_response(Ok(r)),
            None => Step::Reply(Reply::new(334, None, challenge)),
        }
    }

    /// The client's line during a SASL exchange ([`Session::awaiting_sasl`]).
    pub fn sasl_response(&mut self, line: Result<Vec<u8>, ParseError>) -> Step {
        let Some(sasl) = self.submission.as_mut().and_then(|s| s.sasl.take()) else {
            return self.error(bad_sequence("no authentication is under way"));
        };
        let Ok(line) = line else {
            return self.error(Reply::new(
                500,
                Some("5.5.6"),
                "authentication exchange line too long",
            ));
        };
        let cancelled = || Reply::new(501, Some("5.7.0"), "authentication cancelled");
        let malformed = || {
            Reply::new(
                501,
                Some("5.5.2"),
                "cannot decode the response (base64 expected)",
            )
        };
        match sasl {
            Sasl::Plain => match crate::sasl::plain(&line) {
                Ok((user, password)) => Step::Authenticate { user, password },
                Err(crate::sasl::PlainError::Cancelled) => self.error(cancelled()),
                Err(crate::sasl::PlainError::ActingForAnother) => self.error(Reply::new(
                    535,
                    Some("5.7.8"),
                    "authentication credentials invalid (no acting for another user)",
                )),
                Err(_) => self.error(malformed()),
            },
            Sasl::LoginUser | Sasl::LoginPassword(_) if line == b"*" => self.error(cancelled()),
            Sasl::LoginUser => match crate::sasl::decode(&line) {
                Some(user) => {
                    if let Some(sub) = self.submission.as_mut() {
                        sub.sasl = Some(Sasl::LoginPassword(user));
                    }
                    // base64 of "Password:".
                    Step::Reply(Reply::new(334, None, "UGFzc3dvcmQ6"))
                }
                None => self.error(malformed()),
            },
            Sasl::LoginPassword(user) => match crate::sasl::decode(&line) {
                Some(password) => Step::Authenticate { user, password },
                None => self.error(malformed()),
            },
        }
    }

    /// The verdict on the credentials of [`Step::Authenticate`].
    pub fn authenticated(&mut self, user: &str, verdict: AuthVerdict) -> Step {
        match verdict {
            AuthVerdict::Accept => {
                if let Some(sub) = self.submission.as_mut() {
                    sub.user = Some(user.to_string());
                }
                Step::Reply(Reply::new(235, Some("2.7.0"), "authentication successful"))
            }
            AuthVerdict::Invalid => self.error(Reply::new(
                535,
                Some("5.7.8"),
                "authentication credentials invalid",
            )),
            AuthVerdict::Refused(why) => self.error(Reply::new(535, Some("5.7.8"), why)),
            AuthVerdict::TryLater(why) => Step::Reply(Reply::new(454, Some("4.7.0"), why)),
        }
    }

    /// The message's data could not be kept (the spool failed): the transaction ends, and the
    /// network loop answers `452 4.3.1`.
    pub fn abandon(&mut self) {
        self.reset();
    }

    /// The message's data arrived (after DATA, or the chunks after the last BDAT). Returns the
    /// envelope to deliver (the network loop answers `250` only once every copy is committed)
    /// or the refusal to send; the transaction ends either way. `overflowed`: the DATA reader
    /// passed the size limit (BDAT's count is the session's own).
    pub fn message_received(
        &mut self,
        message: &[u8],
        overflowed: bool,
    ) -> Result<Envelope, Reply> {
        let overflowed = overflowed || self.bdat_overflow;
        let envelope = std::mem::take(&mut self.envelope);
        self.reset();
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

    /// TLS is up: the session starts over (RFC 3207 §4.2).
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.phase = Phase::Connected;
        self.envelope = Envelope::default();
        if let Some(sub) = self.submission.as_mut() {
            sub.user = None;
            sub.sasl = None;
            sub.pending_mail = None;
        }
    }
}

#[cfg(test)]
mod tests;
