//! The SMTP protocol on the network layer: the command loop, the DATA and BDAT readers, and
//! handing finished messages on. The same loop serves two servers: the MX, which hands them to
//! the ingest pipeline and answers `250` only after the pipeline says every copy is committed;
//! and submission (RFC 6409), where a logged-in user sends as one of its identities and `250`
//! goes out only once the message is committed to the outbound queue
//! ([`mailroom_core::mail::outbound`]). Connection caps, PROXY, session ids, the session limit
//! and shutdown are the network layer's ([`crate::net`]).
//!
//! Time limits a slow client cannot stretch: a whole command line must arrive within the
//! command time-out (5 minutes, or `busy_command_timeout_secs` while the server is busy) from
//! when the server starts waiting for it, however the bytes trickle in; a message's data must
//! keep to `min_data_rate_bytes_per_sec` on average after `min_data_rate_grace_secs`, besides
//! the per-block time-out.

use super::recipients::{Recipients, StoreRecipients};
use crate::net::{self, Conn, NetConfig, Pace, Protocol, Refusal, Spool};
use mailroom_core::Error;
use mailroom_core::auth::{Auth, ClientInfo, LoginFailure, Scope};
use mailroom_core::config::SmtpConfig;
use mailroom_core::mail::ingest::{Pipeline, Refusal as Undelivered, SmtpEnvelope};
use mailroom_core::mail::outbound::{Outbound, Refused};
use mailroom_core::spam::greylist::{Grey, Greylist};
use mailroom_core::store::{Store, SystemStore, TenantStore};
use mailroom_proto::smtp::session::Conditions;
use mailroom_proto::smtp::{
    AuthVerdict, CommandReader, DataReader, DataStatus, Limits, Reply, SenderVerdict, Session,
    Step, Verdict,
};
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use uuid::Uuid;

/// Read buffer size.
const READ_CHUNK: usize = 64 * 1024;
/// How often a waiting session looks whether the server became busy.
const LOAD_CHECK: Duration = Duration::from_secs(1);

/// What a submission server needs besides the MX's parts.
#[derive(Clone)]
pub struct SubmissionParts {
    /// The store logged-in users are scoped to.
    pub store: Store,
    /// Checks mailbox credentials and app passwords.
    pub auth: Auth,
    /// Checks, signs and queues what users send.
    pub outbound: Outbound,
    /// AUTH only once TLS is up.
    pub require_tls: bool,
}

/// The SMTP server.
#[derive(Clone)]
pub struct SmtpServer {
    cfg: Arc<SmtpConfig>,
    hostname: String,
    sys: SystemStore,
    pipeline: Pipeline,
    tls: Option<TlsAcceptor>,
    /// Where messages being received wait once over 256 KiB.
    spool_dir: PathBuf,
    /// Set for a submission server.
    submission: Option<Arc<SubmissionParts>>,
    /// TLS from the first byte (submissions on port 465, RFC 8314).
    implicit_tls: bool,
    /// Greylisting of new senders (the MX port only; each tenant turns it on or off).
    greylist: Option<Arc<Greylist>>,
}

/// The mailbox a submission session logged in to.
struct Login {
    ts: TenantStore,
    mailbox: Uuid,
}

impl Protocol for SmtpServer {
    const NAME: &'static str = "smtp";

    fn refusal(&self, why: Refusal) -> Vec<u8> {
        match why {
            Refusal::TooManyConnections => {
                b"421 4.3.2 too many connections; try again later\r\n".to_vec()
            }
            Refusal::TooManyFromAddress => {
                b"421 4.7.0 too many connections from your address\r\n".to_vec()
            }
            Refusal::SessionTooLong => {
                b"421 4.4.2 session time limit reached; closing\r\n".to_vec()
            }
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

impl SmtpServer {
    /// A server; `tls` enables STARTTLS.
    pub fn new(
        cfg: SmtpConfig,
        hostname: &str,
        sys: SystemStore,
        pipeline: Pipeline,
        tls: Option<Arc<rustls::ServerConfig>>,
        spool_dir: PathBuf,
    ) -> Self {
        Self {
            cfg: Arc::new(cfg),
            hostname: hostname.to_string(),
            sys,
            pipeline,
            tls: tls.map(TlsAcceptor::from),
            spool_dir,
            submission: None,
            implicit_tls: false,
            greylist: None,
        }
    }

    /// The same server, greylisting new senders for the tenants that turned it on.
    pub fn with_greylist(self, greylist: Greylist) -> Self {
        Self {
            greylist: Some(Arc::new(greylist)),
            ..self
        }
    }

    /// The same server as a submission server.
    pub fn for_submission(self, parts: SubmissionParts) -> Self {
        Self {
            submission: Some(Arc::new(parts)),
            ..self
        }
    }

    /// The same server for an implicit-TLS listener.
    pub fn implicit_tls(&self) -> Self {
        Self {
            implicit_tls: true,
            ..self.clone()
        }
    }

    /// What the network layer enforces for SMTP.
    pub fn net_config(&self) -> NetConfig {
        NetConfig::new(
            self.cfg.max_connections,
            self.cfg.max_connections_per_ip,
            self.cfg.proxy_protocol,
            self.cfg.max_session_secs,
        )
    }

    /// Accepts connections until `shutdown` turns true, then lets sessions finish the message
    /// they are receiving (bounded) and returns.
    pub async fn run(self, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        let cfg = self.net_config();
        net::serve(self, cfg, listener, shutdown).await;
    }

    /// When the wait for a command that began at `since` ends: the command time-out, or the
    /// busy one while the server is busy (so a crowd of idle clients gives way once it fills
    /// the server, not minutes later).
    fn command_deadline(&self, s: &net::Session, since: Instant) -> Instant {
        since
            + s.load.idle(
                Duration::from_secs(self.cfg.command_timeout_secs),
                Duration::from_secs(self.cfg.busy_command_timeout_secs),
            )
    }

    async fn run_session(&self, s: &mut net::Session, pending: Vec<u8>) -> io::Result<()> {
        let limits = Limits {
            max_message: self.cfg.max_message_bytes,
            max_recipients: self.cfg.max_recipients,
            max_errors: self.cfg.max_errors,
        };
        let mut session = match &self.submission {
            Some(p) => Session::submission(
                &self.hostname,
                limits,
                self.tls.is_some() && !self.implicit_tls,
                p.require_tls,
            ),
            None => Session::new(&self.hostname, limits, self.tls.is_some()),
        };
        if self.implicit_tls {
            session.tls_started();
        }
        let mut login: Option<Login> = None;
        let mut rcpts = StoreRecipients::new(self.sys.clone());
        let mut reader = CommandReader::new();
        reader.push(&pending);
        // The BDAT chunks of the message being received.
        let mut bdat_spool: Option<Spool> = None;
        let mut out: Vec<u8> = session.greeting().to_wire();
        let mut buf = vec![0u8; READ_CHUNK];
        let mut waiting_since = Instant::now();
        loop {
            // Answer every command already buffered (PIPELINING), then flush once.
            loop {
                let step = if session.awaiting_sasl() {
                    match reader.next_line() {
                        Some(line) => session.sasl_response(line),
                        None => break,
                    }
                } else {
                    let now = Conditions {
                        storage_low: rcpts.storage_low(),
                    };
                    match reader.next_command() {
                        Some(cmd) => session.command(cmd, now),
                        None => break,
                    }
                };
                let step = self
                    .look_up(s, &mut session, step, &mut rcpts, &mut login)
                    .await;
                match step {
                    Step::Reply(r) => out.extend_from_slice(&r.to_wire()),
                    Step::Close(r) => {
                        out.extend_from_slice(&r.to_wire());
                        s.conn.write_all(&out).await?;
                        return Ok(());
                    }
                    Step::ReadData(r) => {
                        out.extend_from_slice(&r.to_wire());
                        s.conn.write_all(&out).await?;
                        out.clear();
                        let rest = reader.take_rest();
                        let (reply, leftover) = self
                            .data(s, &mut session, &mut rcpts, login.as_ref(), rest)
                            .await?;
                        reader.push(&leftover);
                        out.extend_from_slice(&reply.to_wire());
                    }
                    Step::ReadChunk { size } => {
                        s.conn.write_all(&out).await?;
                        out.clear();
                        let rest = reader.take_rest();
                        let (reply, close, leftover) = self
                            .chunk(
                                s,
                                &mut session,
                                &mut rcpts,
                                login.as_ref(),
                                &mut bdat_spool,
                                size,
                                rest,
                            )
                            .await?;
                        reader.push(&leftover);
                        out.extend_from_slice(&reply.to_wire());
                        if close {
                            s.conn.write_all(&out).await?;
                            return Ok(());
                        }
                    }
                    Step::StartTls(r) => {
                        out.extend_from_slice(&r.to_wire());
                        s.conn.write_all(&out).await?;
                        out.clear();
                        // Bytes pipelined after STARTTLS are an injection attempt: dropped.
                        let _ = reader.take_rest();
                        let Some(acceptor) = self.tls.clone() else {
                            return Ok(());
                        };
                        if !s.conn.start_tls(acceptor).await? {
                            return Ok(());
                        }
                        session.tls_started();
                        login = None;
                    }
                    // Only answers to other calls: never the answer to a command.
                    Step::CheckRecipient(_)
                    | Step::Deliver
                    | Step::Authenticate { .. }
                    | Step::CheckSender(_) => {
                        tracing::error!(?step, "unexpected SMTP step");
                        out.extend_from_slice(&temporary_failure().to_wire());
                    }
                }
                // A command was answered: the wait for the next one starts now.
                waiting_since = Instant::now();
            }
            if !out.is_empty() {
                s.conn.write_all(&out).await?;
                out.clear();
            }
            // Look at the load again at least once a second while waiting.
            let deadline = self.command_deadline(s, waiting_since);
            if Instant::now() >= deadline {
                s.conn
                    .write_all(b"421 4.4.2 no complete command in time; closing\r\n")
                    .await?;
                return Ok(());
            }
            let wake = deadline.min(Instant::now() + LOAD_CHECK);
            let n = tokio::select! {
                r = tokio::time::timeout_at(wake, s.conn.read(&mut buf)) => match r {
                    Ok(r) => r?,
                    Err(_) => continue,
                },
                _ = s.shutdown.changed() => {
                    s.conn.write_all(b"421 4.3.2 server shutting down; try again later\r\n").await?;
                    return Ok(());
                }
            };
            if n == 0 {
                return Ok(());
            }
            reader.push(&buf[..n]);
        }
    }

    /// Reads message data into `buf` within the per-block time-out and the minimum rate;
    /// answers and ends the session (an error) when the client is too slow or gone.
    async fn read_data(
        &self,
        conn: &mut Conn,
        buf: &mut [u8],
        pace: &mut Pace,
    ) -> io::Result<usize> {
        let block = Duration::from_secs(self.cfg.data_timeout_secs);
        let wait = pace.next_read_limit().map_or(block, |l| l.min(block));
        let n = match tokio::time::timeout(wait, conn.read(buf)).await {
            Ok(r) => r?,
            Err(_) => {
                // Nothing was stored: the half-received message is dropped.
                let why: &[u8] = if wait < block {
                    b"421 4.4.2 data arriving too slowly; closing\r\n"
                } else {
                    b"421 4.4.2 timeout waiting for data; closing\r\n"
                };
                conn.write_all(why).await?;
                return Err(io::ErrorKind::TimedOut.into());
            }
        };
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if !pace.add(n) {
            conn.write_all(b"421 4.4.2 data arriving too slowly; closing\r\n")
                .await?;
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(n)
    }

    fn pace(&self) -> Pace {
        Pace::new(
            self.cfg.min_data_rate_bytes_per_sec,
            Duration::from_secs(self.cfg.min_data_rate_grace_secs),
        )
    }

    /// Reads a DATA message; returns the reply and the bytes that followed its end.
    async fn data(
        &self,
        s: &mut net::Session,
        session: &mut Session,
        rcpts: &mut StoreRecipients,
        login: Option<&Login>,
        rest: Vec<u8>,
    ) -> io::Result<(Reply, Vec<u8>)> {
        let mut dr = DataReader::new(self.cfg.max_message_bytes);
        let mut spool = Spool::new(self.spool_dir.clone());
        let mut pace = self.pace();
        let mut buf = vec![0u8; READ_CHUNK];
        let mut chunk = rest;
        let leftover = loop {
            let status = dr.push(&chunk);
            spool.write(&dr.take_output()).await;
            if let DataStatus::Done { consumed } = status {
                break chunk[consumed..].to_vec();
            }
            let n = self.read_data(&mut s.conn, &mut buf, &mut pace).await?;
            chunk.clear();
            chunk.extend_from_slice(&buf[..n]);
        };
        let overflowed = dr.overflowed();
        let reply = self
            .finish(session, rcpts, login, s.client, &s.id, spool, overflowed)
            .await;
        Ok((reply, leftover))
    }

    /// Reads one BDAT chunk into the message's spool (all of it, whatever becomes of it, so
    /// the command stream stays in step); returns the reply, whether to close, and the bytes
    /// after it.
    #[allow(clippy::too_many_arguments)]
    async fn chunk(
        &self,
        s: &mut net::Session,
        session: &mut Session,
        rcpts: &mut StoreRecipients,
        login: Option<&Login>,
        bdat_spool: &mut Option<Spool>,
        size: u64,
        mut rest: Vec<u8>,
    ) -> io::Result<(Reply, bool, Vec<u8>)> {
        let spool = bdat_spool.get_or_insert_with(|| Spool::new(self.spool_dir.clone()));
        let mut want = size;
        let take = want.min(rest.len() as u64) as usize;
        if session.chunk_bytes(take) {
            spool.write(&rest[..take]).await;
        }
        rest.drain(..take);
        want -= take as u64;
        let mut pace = self.pace();
        let mut buf = vec![0u8; READ_CHUNK];
        while want > 0 {
            let n = self.read_data(&mut s.conn, &mut buf, &mut pace).await?;
            let take = (want as usize).min(n);
            if session.chunk_bytes(take) {
                spool.write(&buf[..take]).await;
            }
            want -= take as u64;
            rest = buf[take..n].to_vec();
        }
        Ok(match session.chunk_done() {
            Step::Deliver => {
                let spool = bdat_spool
                    .take()
                    .unwrap_or_else(|| Spool::new(self.spool_dir.clone()));
                let reply = self
                    .finish(session, rcpts, login, s.client, &s.id, spool, false)
                    .await;
                (reply, false, rest)
            }
            Step::Reply(r) => {
                if r.is_error() {
                    *bdat_spool = None;
                }
                (r, false, rest)
            }
            Step::Close(r) => (r, true, rest),
            step => {
                tracing::error!(?step, "unexpected SMTP step after a BDAT chunk");
                *bdat_spool = None;
                (temporary_failure(), false, rest)
            }
        })
    }

    /// Ends a transaction: checks, delivery, and the reply. The message is read back from
    /// its spool only once the delivery memory budget has room for it.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        session: &mut Session,
        rcpts: &mut StoreRecipients,
        login: Option<&Login>,
        client: IpAddr,
        id: &str,
        spool: Spool,
        overflowed: bool,
    ) -> Reply {
        let tls = session.is_tls();
        let _budget = match self.pipeline.reserve(spool.len()).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "no delivery memory budget");
                session.abandon();
                return temporary_failure();
            }
        };
        let message = match spool.into_bytes().await {
            Ok(m) => m,
            Err(_) => {
                // Logged by the spool; nothing was stored.
                session.abandon();
                return Reply::new(
                    452,
                    Some("4.3.1"),
                    "insufficient system storage; try again later",
                );
            }
        };
        let env = match session.message_received(&message, overflowed) {
            Ok(env) => env,
            Err(r) => return r,
        };
        if let Some(parts) = &self.submission {
            let Some(login) = login else {
                return Reply::new(530, Some("5.7.0"), "authentication required");
            };
            return match parts
                .outbound
                .submit(
                    &login.ts,
                    login.mailbox,
                    &env.from,
                    &env.recipients,
                    &message,
                    None,
                )
                .await
            {
                Ok(queued) => {
                    let queued = queued.id;
                    tracing::info!(
                        from = %env.from,
                        recipients = env.recipients.len(),
                        size = message.len(),
                        %queued,
                        "message queued for delivery"
                    );
                    Reply::new(250, Some("2.0.0"), format!("queued as {queued}"))
                }
                Err(Refused::NotYours(why)) => Reply::new(553, Some("5.7.1"), why),
                Err(Refused::Unverified(why)) => Reply::new(550, Some("5.7.1"), why),
                Err(Refused::Invalid(why)) => Reply::new(554, Some("5.6.0"), why),
                Err(Refused::TryLater(why)) => Reply::new(451, Some("4.3.0"), why),
                Err(Refused::RateLimited(why, _)) => Reply::new(451, Some("4.7.0"), why),
                Err(Refused::DailyLimit(why)) => Reply::new(550, Some("5.4.5"), why),
                Err(Refused::OverQuota(why)) => Reply::new(552, Some("5.2.2"), why),
            };
        }
        let (mailboxes, guards) = rcpts.take_mailboxes(&env.recipients);
        let envelope = SmtpEnvelope {
            peer: client,
            helo: env.helo.clone(),
            mail_from: env.from.clone(),
            mailboxes,
            guards,
            rcpts: env.recipients.clone(),
            tls,
            session_id: id.to_string(),
            submitted_by: None,
        };
        let size = message.len();
        match self.pipeline.deliver_smtp(&envelope, message).await {
            Ok(d) => {
                tracing::info!(
                    from = %env.from,
                    recipients = env.recipients.len(),
                    copies = d.copies.len(),
                    size,
                    "message accepted"
                );
                Reply::new(250, Some("2.0.0"), format!("message accepted, id {id}"))
            }
            Err(Undelivered::TryLater(why)) => Reply::new(451, Some("4.3.0"), why),
            Err(Undelivered::StorageFull(why)) => Reply::new(452, Some("4.3.1"), why),
            Err(Undelivered::Reject(why)) => Reply::new(550, Some("5.7.1"), why),
        }
    }
}

impl SmtpServer {
    /// Carries out the look-ups a step asks for (credentials, sender, recipient) until the
    /// session answers with a step for the network loop.
    async fn look_up(
        &self,
        s: &net::Session,
        session: &mut Session,
        mut step: Step,
        rcpts: &mut StoreRecipients,
        login: &mut Option<Login>,
    ) -> Step {
        loop {
            step = match step {
                Step::Authenticate { user, password } => {
                    let verdict = self.authenticate(s, &user, &password, login).await;
                    session.authenticated(&user, verdict)
                }
                Step::CheckSender(from) => {
                    let verdict = match login.as_ref() {
                        None => SenderVerdict::NotYours("log in first".into()),
                        Some(l) => match l.ts.may_send_from(l.mailbox, &from).await {
                            Ok(true) => SenderVerdict::Accept,
                            Ok(false) => SenderVerdict::NotYours(format!(
                                "{} is not an address this mailbox may send as",
                                if from.is_empty() { "<>" } else { &from }
                            )),
                            Err(e) => {
                                tracing::warn!(error = %e, "sender check failed");
                                SenderVerdict::TryLater
                            }
                        },
                    };
                    session.sender_checked(verdict)
                }
                Step::CheckRecipient(to) => {
                    let verdict = if self.submission.is_some() {
                        // A logged-in user may write to anyone but the suppressed; bounces
                        // tell of bad addresses.
                        match to.rsplit_once('@') {
                            Some((local, domain)) if !local.is_empty() && domain.contains('.') => {
                                match login.as_ref() {
                                    Some(l) => {
                                        match l.ts.suppressed(std::slice::from_ref(&to)).await {
                                            Ok(s) if s.is_empty() => Verdict::Accept,
                                            Ok(_) => Verdict::Suppressed,
                                            Err(e) => {
                                                tracing::warn!(error = %e, "suppression check failed");
                                                Verdict::TryLater
                                            }
                                        }
                                    }
                                    None => Verdict::TryLater,
                                }
                            }
                            _ => Verdict::BadAddress,
                        }
                    } else {
                        let mut verdict = rcpts.check(&to).await;
                        if verdict == Verdict::Accept
                            && let Some(g) = &self.greylist
                            && let Some(mailbox) = rcpts.first_mailbox(&to)
                            && let Grey::Wait(wait) = g
                                .check(mailbox, s.client, &session.envelope().from, &to)
                                .await
                        {
                            tracing::info!(
                                session = %s.id,
                                client = %s.client,
                                recipient = %to,
                                "greylisted"
                            );
                            verdict = Verdict::Greylisted(wait.num_seconds().max(1) as u64);
                        }
                        verdict
                    };
                    session.recipient_checked(verdict)
                }
                other => return other,
            };
        }
    }

    /// Checks a submission login (mailbox credentials or an app password).
    async fn authenticate(
        &self,
        s: &net::Session,
        user: &str,
        password: &str,
        login: &mut Option<Login>,
    ) -> AuthVerdict {
        let Some(parts) = &self.submission else {
            return AuthVerdict::Invalid;
        };
        let info = ClientInfo {
            ip: Some(s.client.to_string()),
            user_agent: Some("smtp-submission".into()),
            request_id: None,
        };
        let opened = async {
            let principal = parts.auth.mail_login(user, password, &info).await?;
            let mailbox = principal.mailbox().ok_or(Error::NotFound)?;
            let ts = principal.tenant_store(&parts.store, Scope::MessagesWrite, &info)?;
            Ok::<_, Error>(Login { ts, mailbox })
        };
        match opened.await {
            Ok(l) => {
                *login = Some(l);
                AuthVerdict::Accept
            }
            Err(e) => match LoginFailure::of(&e, "submission") {
                LoginFailure::Invalid => AuthVerdict::Invalid,
                LoginFailure::TooMany => {
                    AuthVerdict::TryLater("too many attempts; try again later".into())
                }
                LoginFailure::Refused(detail) => AuthVerdict::Refused(detail),
                LoginFailure::OurSide => AuthVerdict::TryLater(
                    "temporary authentication failure; try again later".into(),
                ),
            },
        }
    }
}

/// `451 4.3.0`: something on our side failed; the client retries.
fn temporary_failure() -> Reply {
    Reply::new(451, Some("4.3.0"), "temporary failure; try again")
}
