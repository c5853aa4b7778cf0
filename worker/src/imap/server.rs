//! The IMAP protocol on the network layer: the command loop (framing by the protocol crate's
//! reader, the state machine's steps), STARTTLS, LOGIN and AUTHENTICATE PLAIN (with and
//! without an initial response), IDLE, time-outs and the per-user connection cap. What a
//! command does to the mailbox is in `commands.rs`.
//!
//! Time-outs: a client that has not logged in gets `login_timeout_secs` per command; a logged-in
//! one `idle_timeout_secs` (at least 30 minutes, RFC 9051 §5.4), IDLE included.

use super::commands::Client;
use super::index_cache::IndexCache;
use crate::net::{self, NetConfig, Protocol, Refusal};
use mailroom_core::auth::{Auth, ClientInfo, LoginFailure};
use mailroom_core::config::ImapConfig;
use mailroom_core::mail::ingest::Pipeline;
use mailroom_core::store::Store;
use mailroom_proto::imap::command::{Command, Tagged, parse};
use mailroom_proto::imap::session::{Options, Session, Step};
use mailroom_proto::imap::{CommandReader, Event, Limits};
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use uuid::Uuid;

/// Read buffer size: small, as most connections idle (an APPEND's literal just takes more reads).
const READ_CHUNK: usize = 16 * 1024;

/// The IMAP server.
#[derive(Clone)]
pub struct ImapServer {
    pub(super) cfg: Arc<ImapConfig>,
    hostname: String,
    pub(super) store: Store,
    auth: Auth,
    pub(super) pipeline: Pipeline,
    tls: Option<TlsAcceptor>,
    /// Connections start with TLS (IMAPS) rather than offer STARTTLS.
    implicit_tls: bool,
    /// Open logged-in connections per mailbox, in this process.
    users: Arc<Mutex<HashMap<Uuid, usize>>>,
    /// Folder indexes SELECT loaded, shared by this process's sessions.
    pub(super) index: IndexCache,
}

/// One logged-in connection of a mailbox; gives its place back when dropped.
pub(super) struct UserSlot {
    users: Arc<Mutex<HashMap<Uuid, usize>>>,
    mailbox: Uuid,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = users.get_mut(&self.mailbox) {
            *n -= 1;
            if *n == 0 {
                users.remove(&self.mailbox);
            }
        }
    }
}

impl Protocol for ImapServer {
    const NAME: &'static str = "imap";

    fn refusal(&self, why: Refusal) -> Vec<u8> {
        match why {
            Refusal::TooManyConnections => {
                b"* BYE [UNAVAILABLE] too many connections; try again later\r\n".to_vec()
            }
            Refusal::TooManyFromAddress => {
                b"* BYE [UNAVAILABLE] too many connections from your address\r\n".to_vec()
            }
            Refusal::SessionTooLong => b"* BYE session time limit reached\r\n".to_vec(),
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

/// What the loop does after a command.
pub(super) enum Flow {
    /// Read on.
    Continue,
    /// Send what is written and close.
    Close,
    /// Send what is written, then start TLS.
    StartTls,
    /// Send what is written, then compress both ways (COMPRESS DEFLATE).
    Compress,
    /// The client is to send a SASL response line for this tag.
    Sasl(String),
    /// IDLE began for this tag.
    Idle(String),
}

impl ImapServer {
    /// A server; `tls` enables STARTTLS.
    pub fn new(
        cfg: ImapConfig,
        hostname: &str,
        store: Store,
        auth: Auth,
        pipeline: Pipeline,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        Self {
            cfg: Arc::new(cfg),
            hostname: hostname.to_string(),
            store,
            auth,
            pipeline,
            tls: tls.map(TlsAcceptor::from),
            implicit_tls: false,
            users: Arc::default(),
            index: IndexCache::default(),
        }
    }

    /// The same server for an implicit-TLS listener (IMAPS): the handshake comes first, then
    /// the greeting. It shares the per-mailbox connection count with the plain one.
    pub fn implicit_tls(&self) -> Self {
        Self {
            implicit_tls: true,
            ..self.clone()
        }
    }

    /// What the network layer enforces for IMAP.
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

    /// Takes a connection place for `mailbox`, or `None` when it has all it may hold.
    fn user_slot(&self, mailbox: Uuid) -> Option<UserSlot> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let n = users.entry(mailbox).or_default();
        if *n >= self.cfg.max_connections_per_user {
            return None;
        }
        *n += 1;
        Some(UserSlot {
            users: self.users.clone(),
            mailbox,
        })
    }

    async fn run_session(&self, s: &mut net::Session, pending: Vec<u8>) -> io::Result<()> {
        let options = Options {
            tls_available: self.tls.is_some() && self.cfg.starttls && !s.conn.is_tls(),
            require_tls_for_login: self.cfg.require_tls,
            append_limit: self.cfg.max_append_bytes as u64,
        };
        let limits = Limits {
            max_line: self.cfg.max_line_bytes,
            max_literal: self.cfg.max_append_bytes,
            max_command: self.cfg.max_append_bytes + self.cfg.max_line_bytes,
            max_literals: 1000,
        };
        let mut client = Client::new(self, Session::new(options, s.conn.is_tls()), s.client);
        let mut reader = CommandReader::new(limits);
        reader.push(&pending);
        s.conn
            .write_all(&client.session.greeting(&self.hostname))
            .await?;
        let mut buf = vec![0u8; READ_CHUNK];
        let mut sasl: Option<String> = None;
        let mut idle: Option<String> = None;
        let mut bad = 0usize;
        loop {
            let mut out = Vec::new();
            while let Some(ev) = reader.next_event() {
                let flow = match ev {
                    Event::Continue => {
                        out.extend_from_slice(b"+ go ahead\r\n");
                        s.conn.write_all(&out).await?;
                        out.clear();
                        continue;
                    }
                    Event::Refused { tag, why } => {
                        bad += 1;
                        let tag = tag.unwrap_or_else(|| "*".into());
                        let reply = match why {
                            mailroom_proto::imap::Refusal::LiteralTooLarge => {
                                format!("{tag} NO [TOOBIG] {}\r\n", why.text())
                            }
                            _ => format!("{tag} BAD {}\r\n", why.text()),
                        };
                        out.extend_from_slice(reply.as_bytes());
                        Flow::Continue
                    }
                    Event::Fatal(why) => {
                        out.extend_from_slice(format!("* BYE {}\r\n", why.text()).as_bytes());
                        s.conn.write_all(&out).await?;
                        return Ok(());
                    }
                    Event::Command(line) => {
                        let start = out.len();
                        let flow = if let Some(tag) = sasl.take() {
                            self.sasl_response(&mut client, &tag, &line, &mut out).await
                        } else if let Some(tag) = idle.take() {
                            if line.eq_ignore_ascii_case(b"DONE") {
                                client.after_idle(&tag, &mut out).await
                            } else {
                                out.extend_from_slice(
                                    format!("{tag} BAD expected DONE\r\n").as_bytes(),
                                );
                                Flow::Continue
                            }
                        } else {
                            match parse(&line, client.session.enabled().utf8) {
                                Err(e) => {
                                    let tag = e.tag.unwrap_or_else(|| "*".into());
                                    out.extend_from_slice(
                                        format!("{tag} BAD {}\r\n", e.text).as_bytes(),
                                    );
                                    Flow::Continue
                                }
                                Ok(t) => self.command(&mut client, t, &mut out, &mut s.conn).await,
                            }
                        };
                        // Every BAD answer counts, whoever gave it.
                        if ends_in_bad(&out[start.min(out.len())..]) {
                            bad += 1;
                        }
                        flow
                    }
                };
                if bad >= self.cfg.max_bad_commands {
                    out.extend_from_slice(b"* BYE too many bad commands\r\n");
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
                        // Bytes pipelined after STARTTLS are an injection attempt: dropped.
                        reader = CommandReader::new(limits);
                        if !s.conn.start_tls(acceptor).await? {
                            return Ok(());
                        }
                        client.session.tls_started();
                    }
                    Flow::Compress => {
                        // The OK goes out as it is; all after it, either way, is DEFLATE,
                        // including what the client sent after the command.
                        s.conn.write_all(&out).await?;
                        s.conn.flush().await?;
                        out.clear();
                        let received = reader.take_input();
                        s.conn.start_deflate(received);
                    }
                    Flow::Sasl(tag) => {
                        out.extend_from_slice(b"+ \r\n");
                        sasl = Some(tag);
                    }
                    Flow::Idle(tag) => {
                        out.extend_from_slice(b"+ idling\r\n");
                        idle = Some(tag);
                    }
                }
            }
            if !out.is_empty() {
                s.conn.write_all(&out).await?;
                out.clear();
            }
            // Everything written so far reaches the client before waiting for it (a
            // compressed connection holds what it wrote until flushed).
            s.conn.flush().await?;
            let timeout = if client.logged_in() {
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
                            s.conn.write_all(b"* BYE autologout; idle for too long\r\n").await?;
                            return Ok(());
                        }
                    },
                    _ = client.idle_event(), if idle.is_some() => {
                        let mut out = Vec::new();
                        client.idle_report(&mut out).await;
                        if !out.is_empty() {
                            s.conn.write_all(&out).await?;
                            s.conn.flush().await?;
                        }
                    }
                    _ = s.shutdown.changed() => {
                        s.conn.write_all(b"* BYE [UNAVAILABLE] server shutting down\r\n").await?;
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

    /// One parsed command through the state machine.
    async fn command(
        &self,
        client: &mut Client<'_>,
        t: Tagged,
        out: &mut Vec<u8>,
        conn: &mut crate::net::Conn,
    ) -> Flow {
        match client.session.command(t) {
            Step::Reply(b) => {
                out.extend_from_slice(&b);
                Flow::Continue
            }
            Step::Close(b) => {
                out.extend_from_slice(&b);
                Flow::Close
            }
            Step::StartTls(b) => {
                out.extend_from_slice(&b);
                Flow::StartTls
            }
            Step::Compress(b) => {
                out.extend_from_slice(&b);
                Flow::Compress
            }
            Step::Authenticate(t) => match t.command {
                Command::Login { user, password } => {
                    let user = String::from_utf8_lossy(&user).into_owned();
                    let password = String::from_utf8_lossy(&password).into_owned();
                    self.login(client, &t.tag, &user, &password, out).await;
                    Flow::Continue
                }
                Command::Authenticate {
                    initial: Some(ir), ..
                } => self.sasl_response(client, &t.tag, &ir, out).await,
                Command::Authenticate { initial: None, .. } => Flow::Sasl(t.tag),
                _ => {
                    out.extend_from_slice(format!("{} BAD unexpected\r\n", t.tag).as_bytes());
                    Flow::Continue
                }
            },
            Step::Store(t) => client.run(t, out, conn).await,
        }
    }

    /// A SASL PLAIN response (`authzid NUL authcid NUL password`, base64; `*` cancels).
    async fn sasl_response(
        &self,
        client: &mut Client<'_>,
        tag: &str,
        line: &[u8],
        out: &mut Vec<u8>,
    ) -> Flow {
        use mailroom_proto::sasl::{PlainError, plain};
        let (user, password) = match plain(line) {
            Ok(p) => p,
            Err(e) => {
                let reply = match e {
                    PlainError::Cancelled => "BAD authentication cancelled",
                    PlainError::NotBase64 => "BAD not base64",
                    PlainError::NotPlain => "BAD not a PLAIN response",
                    PlainError::ActingForAnother => {
                        "NO [AUTHORIZATIONFAILED] acting for another user is not allowed"
                    }
                };
                out.extend_from_slice(format!("{tag} {reply}\r\n").as_bytes());
                return Flow::Continue;
            }
        };
        self.login(client, tag, &user, &password, out).await;
        Flow::Continue
    }

    /// Checks credentials and logs the client in.
    async fn login(
        &self,
        client: &mut Client<'_>,
        tag: &str,
        user: &str,
        password: &str,
        out: &mut Vec<u8>,
    ) {
        let info = ClientInfo {
            ip: Some(client.ip.to_string()),
            user_agent: Some("imap".into()),
            request_id: None,
        };
        let reply = match self.auth.mail_login(user, password, &info).await {
            Ok(principal) => match principal.mailbox() {
                Some(mailbox) => match self.user_slot(mailbox) {
                    None => format!(
                        "{tag} NO [LIMIT] too many connections for this mailbox; close some\r\n"
                    ),
                    Some(slot) => match client.logged_in_as(&principal, slot, &info) {
                        Ok(()) => {
                            let caps = client.session.capabilities().join(" ");
                            format!("{tag} OK [CAPABILITY {caps}] logged in\r\n")
                        }
                        Err(e) => format!("{tag} NO [UNAVAILABLE] {e}\r\n"),
                    },
                },
                None => format!("{tag} NO [AUTHENTICATIONFAILED] invalid credentials\r\n"),
            },
            Err(e) => match LoginFailure::of(&e, "imap") {
                LoginFailure::Invalid => {
                    format!("{tag} NO [AUTHENTICATIONFAILED] invalid credentials\r\n")
                }
                LoginFailure::TooMany => {
                    format!("{tag} NO [UNAVAILABLE] too many attempts; try again later\r\n")
                }
                LoginFailure::Refused(detail) => {
                    format!("{tag} NO [AUTHORIZATIONFAILED] {detail}\r\n")
                }
                LoginFailure::OurSide => format!("{tag} NO [UNAVAILABLE] try again later\r\n"),
            },
        };
        out.extend_from_slice(reply.as_bytes());
    }
}

/// Whether the last line of `bytes` is a BAD response.
fn ends_in_bad(bytes: &[u8]) -> bool {
    let body = bytes.strip_suffix(b"\r\n").unwrap_or(bytes);
    let last = body
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(body, |i| &body[i + 1..]);
    let mut words = last.splitn(3, |b| *b == b' ');
    words.next();
    words.next() == Some(b"BAD")
}
