//! The POP3 server (RFC 1939, RFC 2449 CAPA and response codes, RFC 5034 SASL PLAIN, RFC 2595
//! STLS, RFC 6856 UTF8) on the network layer. The protocol crate reads lines, parses commands
//! and encodes messages; this module keeps the session state and carries commands out against
//! the tenant-scoped store of the logged-in mailbox.
//!
//! - The maildrop is INBOX as it was at login (RFC 1939 §8: numbers and sizes do not change
//!   during a session). One session per mailbox at a time, across processes: a lease in the
//!   database, renewed while the session lives (`[IN-USE]` for a second one).
//! - DELE only marks; QUIT in the TRANSACTION state applies the marks and sets `\Seen` on what
//!   was retrieved (the UPDATE state). A connection that ends any other way changes nothing.
//!   What a deletion does is the mailbox's `pop3_after_download` (`keep`, `move_to_trash`,
//!   `delete`); IMAP sessions hear of the changes on the bus.
//! - UIDL is `UIDVALIDITY.UID` of INBOX: stable for as long as the message stays there.
//! - Time-outs: `login_timeout_secs` before login, `idle_timeout_secs` (at least ten minutes,
//!   RFC 1939 §3) after; a line is at most [`mailroom_proto::pop3::MAX_LINE`] octets; `max_bad_commands` refused
//!   commands end the connection.

use crate::net::{self, NetConfig, Protocol, Refusal};
use mailroom_core::auth::{Auth, ClientInfo, LoginFailure, Scope};
use mailroom_core::bus::Bus;
use mailroom_core::config::Pop3Config;
use mailroom_core::error::Error;
use mailroom_core::store::{Maildrop, Store, TenantStore};
use mailroom_proto::pop3::{Command, Line, LineReader, parse, write_message};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use uuid::Uuid;

/// Read buffer size.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes of responses gathered before they are sent on (pipelined RETRs go out in pieces).
const FLUSH_AT: usize = 256 * 1024;
/// Read-ahead: a RETR or TOP of a message not yet read fetches it with up to this many of the
/// messages after it, in one query (clients download in order) ...
const READ_AHEAD: usize = 32;
/// ... while their sizes add up to at most this (a larger message is read alone).
const READ_AHEAD_BYTES: u64 = 1024 * 1024;

/// The POP3 server.
#[derive(Clone)]
pub struct Pop3Server {
    cfg: Arc<Pop3Config>,
    hostname: String,
    store: Store,
    auth: Auth,
    bus: Bus,
    tls: Option<TlsAcceptor>,
    /// Connections start with TLS (POP3S) rather than offer STLS.
    implicit_tls: bool,
}

impl Protocol for Pop3Server {
    const NAME: &'static str = "pop3";

    fn refusal(&self, why: Refusal) -> Vec<u8> {
        match why {
            Refusal::TooManyConnections => {
                b"-ERR [SYS/TEMP] too many connections; try again later\r\n".to_vec()
            }
            Refusal::TooManyFromAddress => {
                b"-ERR [SYS/TEMP] too many connections from your address\r\n".to_vec()
            }
            Refusal::SessionTooLong => b"-ERR session time limit reached\r\n".to_vec(),
        }
    }

    async fn session(&self, s: &mut net::Session) -> io::Result<()> {
        if self.implicit_tls && !s.start_implicit_tls(self.tls.clone()).await? {
            return Ok(());
        }
        let pending = std::mem::take(&mut s.pending);
        self.run_session(s, pending).await
    }
}

/// The logged-in mailbox and its maildrop.
struct Transaction {
    ts: TenantStore,
    mailbox: Uuid,
    /// This session's lease id.
    holder: Uuid,
    drop: Maildrop,
    deleted: Vec<bool>,
    retrieved: Vec<bool>,
    /// Messages read ahead, by index (the last batch only).
    ahead: std::collections::HashMap<usize, Vec<u8>>,
}

impl Transaction {
    /// The message numbered `n` (from 1) that is not marked deleted.
    fn live(&self, n: u32) -> Result<usize, String> {
        let i = (n as usize).wrapping_sub(1);
        match self.deleted.get(i) {
            None => Err(format!("-ERR no message {n}\r\n")),
            Some(true) => Err(format!("-ERR message {n} already deleted\r\n")),
            Some(false) => Ok(i),
        }
    }

    /// Messages not marked deleted, and their octets.
    fn totals(&self) -> (usize, u64) {
        self.drop
            .messages
            .iter()
            .zip(&self.deleted)
            .filter(|(_, d)| !**d)
            .fold((0, 0), |(n, o), (m, _)| (n + 1, o + m.size))
    }

    fn uidl(&self, i: usize) -> String {
        format!("{}.{}", self.drop.uidvalidity, self.drop.messages[i].uid)
    }
}

enum State {
    Authorization { user: Option<String>, sasl: bool },
    Transaction(Box<Transaction>),
}

/// What the loop does after a command.
enum Flow {
    Continue,
    Close,
    StartTls,
}

impl Pop3Server {
    /// A server; `tls` enables STLS (and POP3S through [`Pop3Server::implicit_tls`]).
    pub fn new(
        cfg: Pop3Config,
        hostname: &str,
        store: Store,
        auth: Auth,
        bus: Bus,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        Self {
            cfg: Arc::new(cfg),
            hostname: hostname.to_string(),
            store,
            auth,
            bus,
            tls: tls.map(TlsAcceptor::from),
            implicit_tls: false,
        }
    }

    /// The same server for an implicit-TLS listener (POP3S).
    pub fn implicit_tls(&self) -> Self {
        Self {
            implicit_tls: true,
            ..self.clone()
        }
    }

    /// What the network layer enforces for POP3.
    pub fn net_config(&self) -> NetConfig {
        NetConfig::new(
            self.cfg.max_connections,
            self.cfg.max_connections_per_ip,
            self.cfg.proxy_protocol,
            self.cfg.max_session_secs,
        )
    }

    /// Accepts connections until `shutdown` turns true.
    pub async fn run(self, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        let cfg = self.net_config();
        net::serve(self, cfg, listener, shutdown).await;
    }

    fn lease(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.cfg.lease_secs.min(i64::MAX as u64) as i64)
    }

    async fn run_session(&self, s: &mut net::Session, pending: Vec<u8>) -> io::Result<()> {
        let mut state = State::Authorization {
            user: None,
            sasl: false,
        };
        let result = self.commands(s, pending, &mut state).await;
        // However the session ended, a lease it holds goes back; nothing else changes.
        if let State::Transaction(t) = &state
            && let Err(e) = t.ts.drop_pop3_lease(t.mailbox, t.holder).await
        {
            tracing::warn!(error = %e, "POP3 lease not given back; it expires by itself");
        }
        result
    }

    async fn commands(
        &self,
        s: &mut net::Session,
        pending: Vec<u8>,
        state: &mut State,
    ) -> io::Result<()> {
        let mut reader = LineReader::new();
        reader.push(&pending);
        let greeting = format!("+OK {} Mailroom POP3 ready\r\n", self.hostname);
        s.conn.write_all(greeting.as_bytes()).await?;
        let mut buf = vec![0u8; READ_CHUNK];
        let mut bad = 0usize;
        let mut out = Vec::new();
        let renew_every = Duration::from_secs((self.cfg.lease_secs / 3).max(1));
        let mut renew_at = Instant::now() + renew_every;
        loop {
            while let Some(line) = reader.next_line() {
                let start = out.len();
                let flow = match line {
                    Line::TooLong => {
                        out.extend_from_slice(b"-ERR line too long\r\n");
                        Flow::Continue
                    }
                    Line::Line(l) => self.line(s, state, &l, &mut out).await,
                };
                if out[start..].starts_with(b"-ERR") {
                    bad += 1;
                }
                if bad >= self.cfg.max_bad_commands {
                    out.extend_from_slice(b"-ERR too many bad commands; closing\r\n");
                    s.conn.write_all(&out).await?;
                    return Ok(());
                }
                match flow {
                    Flow::Continue => {}
                    Flow::Close => {
                        s.conn.write_all(&out).await?;
                        return Ok(());
                    }
                    Flow::StartTls => {
                        s.conn.write_all(&out).await?;
                        out.clear();
                        let Some(acceptor) = self.tls.clone() else {
                            return Ok(());
                        };
                        // Bytes pipelined after STLS are an injection attempt: dropped.
                        reader.clear();
                        if !s.conn.start_tls(acceptor).await? {
                            return Ok(());
                        }
                    }
                }
                if out.len() >= FLUSH_AT {
                    s.conn.write_all(&out).await?;
                    out.clear();
                }
            }
            if !out.is_empty() {
                s.conn.write_all(&out).await?;
                out.clear();
            }
            let logged_in = matches!(state, State::Transaction(_));
            let timeout = if logged_in {
                self.cfg.idle_timeout_secs
            } else {
                self.cfg.login_timeout_secs
            };
            let deadline = Instant::now() + Duration::from_secs(timeout);
            let n = loop {
                tokio::select! {
                    r = tokio::time::timeout_at(deadline, s.conn.read(&mut buf)) => match r {
                        Ok(r) => break r?,
                        Err(_) => {
                            s.conn.write_all(b"-ERR idle for too long; closing\r\n").await?;
                            return Ok(());
                        }
                    },
                    _ = tokio::time::sleep_until(renew_at), if logged_in => {
                        renew_at = Instant::now() + renew_every;
                        if let State::Transaction(t) = state {
                            match t.ts.renew_pop3_lease(t.mailbox, t.holder, self.lease()).await {
                                Ok(true) => {}
                                Ok(false) => {
                                    s.conn.write_all(b"-ERR [IN-USE] lost the lock on the mailbox; closing\r\n").await?;
                                    return Ok(());
                                }
                                Err(e) => tracing::warn!(error = %e, "POP3 lease not renewed"),
                            }
                        }
                    }
                    _ = s.shutdown.changed() => {
                        s.conn.write_all(b"-ERR [SYS/TEMP] server shutting down\r\n").await?;
                        return Ok(());
                    }
                }
            };
            if n == 0 {
                return Ok(());
            }
            reader.push(&buf[..n]);
        }
    }

    fn capabilities(&self, s: &net::Session, state: &State) -> String {
        let mut caps = vec!["TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"];
        let tls_needed = self.cfg.require_tls && !s.conn.is_tls();
        let login = matches!(state, State::Authorization { .. });
        if login && !tls_needed {
            caps.extend(["USER", "SASL PLAIN"]);
        }
        if login && self.tls.is_some() && self.cfg.starttls && !s.conn.is_tls() {
            caps.push("STLS");
        }
        if login {
            caps.push("UTF8 USER");
        }
        caps.push("IMPLEMENTATION Mailroom");
        let mut text = String::from("+OK capability list follows\r\n");
        for c in caps {
            text.push_str(c);
            text.push_str("\r\n");
        }
        text.push_str(".\r\n");
        text
    }

    /// One line: a command, or the SASL response an `AUTH PLAIN` waits for.
    async fn line(
        &self,
        s: &net::Session,
        state: &mut State,
        line: &[u8],
        out: &mut Vec<u8>,
    ) -> Flow {
        if let State::Authorization { sasl, .. } = state
            && std::mem::take(sasl)
        {
            self.sasl_response(s, state, line, out).await;
            return Flow::Continue;
        }
        let cmd = match parse(line) {
            Ok(c) => c,
            Err(e) => {
                out.extend_from_slice(format!("-ERR {}\r\n", e.0).as_bytes());
                return Flow::Continue;
            }
        };
        match cmd {
            Command::Capa => out.extend_from_slice(self.capabilities(s, state).as_bytes()),
            Command::Noop => out.extend_from_slice(b"+OK\r\n"),
            Command::Quit => {
                let text = match state {
                    State::Authorization { .. } => "+OK bye\r\n".to_string(),
                    State::Transaction(t) => {
                        let text = self.update(t).await;
                        // Given back before the reply, so a client that reconnects at once
                        // (a poll right after QUIT) does not find its own mailbox in use.
                        if let Err(e) = t.ts.drop_pop3_lease(t.mailbox, t.holder).await {
                            tracing::warn!(error = %e, "POP3 lease not given back; it expires by itself");
                        }
                        text
                    }
                };
                out.extend_from_slice(text.as_bytes());
                return Flow::Close;
            }
            cmd => match state {
                State::Authorization { .. } => return self.authorization(s, state, cmd, out).await,
                State::Transaction(t) => self.transaction(t, cmd, out).await,
            },
        }
        Flow::Continue
    }

    async fn authorization(
        &self,
        s: &net::Session,
        state: &mut State,
        cmd: Command,
        out: &mut Vec<u8>,
    ) -> Flow {
        let State::Authorization { user, sasl } = state else {
            return Flow::Continue;
        };
        let tls_needed = self.cfg.require_tls && !s.conn.is_tls();
        let refuse_plain =
            b"-ERR [AUTH] plaintext authentication is disabled here; use STLS first\r\n";
        match cmd {
            Command::Stls => {
                if self.tls.is_none() || !self.cfg.starttls || s.conn.is_tls() {
                    out.extend_from_slice(b"-ERR STLS not available\r\n");
                } else {
                    out.extend_from_slice(b"+OK begin TLS negotiation\r\n");
                    *user = None;
                    return Flow::StartTls;
                }
            }
            Command::Utf8 => out.extend_from_slice(b"+OK UTF8 enabled\r\n"),
            Command::User(name) => {
                if tls_needed {
                    out.extend_from_slice(refuse_plain);
                } else {
                    *user = Some(name);
                    out.extend_from_slice(b"+OK send PASS\r\n");
                }
            }
            Command::Pass(password) => match user.take() {
                None => out.extend_from_slice(b"-ERR USER first\r\n"),
                Some(_) if tls_needed => out.extend_from_slice(refuse_plain),
                Some(name) => self.login(s, state, &name, &password, out).await,
            },
            Command::Auth {
                mechanism: None, ..
            } => out.extend_from_slice(b"+OK mechanisms follow\r\nPLAIN\r\n.\r\n"),
            Command::Auth {
                mechanism: Some(m),
                initial,
            } => {
                if m != "PLAIN" {
                    out.extend_from_slice(b"-ERR unsupported authentication mechanism\r\n");
                } else if tls_needed {
                    out.extend_from_slice(refuse_plain);
                } else if let Some(ir) = initial {
                    self.sasl_response(s, state, ir.as_bytes(), out).await;
                } else {
                    *sasl = true;
                    out.extend_from_slice(b"+ \r\n");
                }
            }
            _ => out.extend_from_slice(b"-ERR log in first\r\n"),
        }
        Flow::Continue
    }

    /// A SASL PLAIN response (`authzid NUL authcid NUL password`, base64; `*` cancels).
    async fn sasl_response(
        &self,
        s: &net::Session,
        state: &mut State,
        line: &[u8],
        out: &mut Vec<u8>,
    ) {
        use mailroom_proto::sasl::{PlainError, plain};
        let (user, password) = match plain(line) {
            Ok(p) => p,
            Err(e) => {
                out.extend_from_slice(match e {
                    PlainError::Cancelled => b"-ERR authentication cancelled\r\n",
                    PlainError::NotBase64 => b"-ERR not base64\r\n",
                    PlainError::NotPlain => b"-ERR not a PLAIN response\r\n",
                    PlainError::ActingForAnother => {
                        b"-ERR [AUTH] acting for another user is not allowed\r\n"
                    }
                });
                return;
            }
        };
        self.login(s, state, &user, &password, out).await;
    }

    /// Checks credentials, takes the mailbox's lease and opens the maildrop.
    async fn login(
        &self,
        s: &net::Session,
        state: &mut State,
        user: &str,
        password: &str,
        out: &mut Vec<u8>,
    ) {
        let info = ClientInfo {
            ip: Some(s.client.to_string()),
            user_agent: Some("pop3".into()),
            request_id: None,
        };
        let principal = match self.auth.mail_login(user, password, &info).await {
            Ok(p) => p,
            Err(e) => {
                let text = match LoginFailure::of(&e, "pop3") {
                    LoginFailure::Invalid => "[AUTH] invalid credentials".to_string(),
                    LoginFailure::TooMany => {
                        "[SYS/TEMP] too many attempts; try again later".to_string()
                    }
                    LoginFailure::Refused(detail) => format!("[AUTH] {detail}"),
                    LoginFailure::OurSide => "[SYS/TEMP] try again later".to_string(),
                };
                out.extend_from_slice(format!("-ERR {text}\r\n").as_bytes());
                return;
            }
        };
        let opened = async {
            let mailbox = principal.mailbox().ok_or(Error::NotFound)?;
            let ts = principal.tenant_store(&self.store, Scope::MessagesWrite, &info)?;
            let holder = mailroom_core::ids::new_id();
            if !ts.take_pop3_lease(mailbox, holder, self.lease()).await? {
                return Ok(None);
            }
            let drop = match ts.maildrop(mailbox).await {
                Ok(d) => d,
                Err(e) => {
                    let _ = ts.drop_pop3_lease(mailbox, holder).await;
                    return Err(e);
                }
            };
            let n = drop.messages.len();
            Ok::<_, Error>(Some(Transaction {
                ts,
                mailbox,
                holder,
                drop,
                deleted: vec![false; n],
                retrieved: vec![false; n],
                ahead: Default::default(),
            }))
        }
        .await;
        match opened {
            Ok(Some(t)) => {
                let (n, octets) = t.totals();
                out.extend_from_slice(
                    format!("+OK maildrop has {n} messages ({octets} octets)\r\n").as_bytes(),
                );
                *state = State::Transaction(Box::new(t));
            }
            Ok(None) => out
                .extend_from_slice(b"-ERR [IN-USE] another POP3 session has this mailbox open\r\n"),
            Err(e) => {
                tracing::warn!(error = %e, "POP3 maildrop could not be opened");
                out.extend_from_slice(
                    b"-ERR [SYS/TEMP] cannot open the maildrop; try again later\r\n",
                );
            }
        }
    }

    async fn transaction(&self, t: &mut Transaction, cmd: Command, out: &mut Vec<u8>) {
        let reply = |out: &mut Vec<u8>, r: Result<String, String>| match r {
            Ok(s) | Err(s) => out.extend_from_slice(s.as_bytes()),
        };
        match cmd {
            Command::Stat => {
                let (n, octets) = t.totals();
                reply(out, Ok(format!("+OK {n} {octets}\r\n")));
            }
            Command::List(Some(n)) => reply(
                out,
                t.live(n)
                    .map(|i| format!("+OK {n} {}\r\n", t.drop.messages[i].size)),
            ),
            Command::List(None) => {
                let (n, octets) = t.totals();
                let mut text = format!("+OK {n} messages ({octets} octets)\r\n");
                for (i, m) in t.drop.messages.iter().enumerate() {
                    if !t.deleted[i] {
                        text.push_str(&format!("{} {}\r\n", i + 1, m.size));
                    }
                }
                text.push_str(".\r\n");
                reply(out, Ok(text));
            }
            Command::Uidl(Some(n)) => {
                reply(out, t.live(n).map(|i| format!("+OK {n} {}\r\n", t.uidl(i))))
            }
            Command::Uidl(None) => {
                let mut text = String::from("+OK unique-id listing follows\r\n");
                for i in 0..t.drop.messages.len() {
                    if !t.deleted[i] {
                        text.push_str(&format!("{} {}\r\n", i + 1, t.uidl(i)));
                    }
                }
                text.push_str(".\r\n");
                reply(out, Ok(text));
            }
            Command::Dele(n) => match t.live(n) {
                Ok(i) => {
                    t.deleted[i] = true;
                    reply(out, Ok(format!("+OK message {n} deleted\r\n")));
                }
                Err(e) => reply(out, Err(e)),
            },
            Command::Rset => {
                t.deleted.iter_mut().for_each(|d| *d = false);
                let (n, octets) = t.totals();
                reply(
                    out,
                    Ok(format!(
                        "+OK maildrop has {n} messages ({octets} octets)\r\n"
                    )),
                );
            }
            Command::Retr(n) => self.send(t, n, None, out).await,
            Command::Top(n, lines) => self.send(t, n, Some(lines), out).await,
            Command::User(_) | Command::Pass(_) | Command::Auth { .. } | Command::Stls => {
                reply(out, Err("-ERR already logged in\r\n".into()))
            }
            Command::Utf8 => reply(out, Err("-ERR UTF8 is for before login\r\n".into())),
            Command::Capa | Command::Noop | Command::Quit => {}
        }
    }

    /// RETR (`lines` None) or TOP.
    async fn send(&self, t: &mut Transaction, n: u32, lines: Option<u32>, out: &mut Vec<u8>) {
        let i = match t.live(n) {
            Ok(i) => i,
            Err(e) => return out.extend_from_slice(e.as_bytes()),
        };
        let raw = match t.ahead.remove(&i) {
            Some(raw) => Ok(Some(raw)),
            None => read_ahead(t, i).await,
        };
        let m = &t.drop.messages[i];
        match raw {
            Ok(Some(raw)) => {
                match lines {
                    None => {
                        out.extend_from_slice(format!("+OK {} octets\r\n", m.size).as_bytes());
                        t.retrieved[i] = true;
                    }
                    Some(_) => out.extend_from_slice(b"+OK top of message follows\r\n"),
                }
                write_message(out, &raw, lines);
            }
            Ok(None) => out.extend_from_slice(
                format!("-ERR message {n} is no longer on the server\r\n").as_bytes(),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "POP3 could not read a message");
                out.extend_from_slice(b"-ERR [SYS/TEMP] cannot read the message; try again\r\n");
            }
        }
    }

    /// QUIT in the TRANSACTION state: the UPDATE state (RFC 1939 §6).
    async fn update(&self, t: &Transaction) -> String {
        let pick = |marks: &[bool]| -> Vec<Uuid> {
            t.drop
                .messages
                .iter()
                .zip(marks)
                .filter(|(_, m)| **m)
                .map(|(m, _)| m.id)
                .collect()
        };
        let (deleted, retrieved) = (pick(&t.deleted), pick(&t.retrieved));
        let left = t.drop.messages.len() - deleted.len();
        match t
            .ts
            .pop3_update(t.mailbox, &t.drop, &retrieved, &deleted)
            .await
        {
            Ok(events) => {
                self.bus.publish(&events).await;
                format!("+OK bye ({left} messages left)\r\n")
            }
            Err(e) => {
                tracing::warn!(error = %e, "POP3 update failed");
                "-ERR [SYS/TEMP] some deleted messages were not removed\r\n".into()
            }
        }
    }
}

/// Reads message `i` and, into `t.ahead`, the live messages after it (see [`READ_AHEAD`]);
/// `None` when message `i` is no longer stored.
async fn read_ahead(
    t: &mut Transaction,
    i: usize,
) -> mailroom_core::error::Result<Option<Vec<u8>>> {
    let mut picked = vec![i];
    let mut bytes = t.drop.messages[i].size;
    for j in i + 1..t.drop.messages.len() {
        if picked.len() >= READ_AHEAD {
            break;
        }
        let size = t.drop.messages[j].size;
        if t.deleted[j] {
            continue;
        }
        if bytes + size > READ_AHEAD_BYTES {
            break;
        }
        bytes += size;
        picked.push(j);
    }
    let ids: Vec<Uuid> = picked.iter().map(|j| t.drop.messages[*j].id).collect();
    let mut raws = t.ts.raws_by_id(t.mailbox, &ids).await?;
    t.ahead.clear();
    for j in &picked[1..] {
        if let Some(raw) = raws.remove(&t.drop.messages[*j].id) {
            t.ahead.insert(*j, raw);
        }
    }
    Ok(raws.remove(&t.drop.messages[i].id))
}
