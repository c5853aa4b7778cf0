//! The SMTP network loop: accepts connections, enforces connection caps and time-outs, runs
//! the PROXY header, STARTTLS, the DATA and BDAT readers, and hands finished messages to the
//! ingest pipeline. `250` goes out only after the pipeline says every copy is committed.

use super::command::{Command, CommandReader};
use super::data::{DataReader, DataStatus};
use super::proxy::{self, ProxyHeader};
use super::recipients::StoreRecipients;
use super::reply::Reply;
use super::session::{Limits, Session, Step};
use mailroom_core::config::SmtpConfig;
use mailroom_core::mail::ingest::{Pipeline, Refusal, SmtpEnvelope};
use mailroom_core::store::SystemStore;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a PROXY header may take to arrive.
const PROXY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the TLS handshake may take.
const TLS_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutdown waits for sessions in the middle of a message.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Read buffer size.
const READ_CHUNK: usize = 64 * 1024;

/// A plain or TLS connection.
enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while STARTTLS swaps one for the other.
    Gone,
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, b),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, b),
            Conn::Gone => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// Connections per client address.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

/// Releases a per-address slot when the session ends.
struct IpSlot {
    map: Arc<PerIp>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.map.0.lock()
            && let Some(n) = m.get_mut(&self.ip)
        {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut m = self.0.lock().ok()?;
        let n = m.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            map: self.clone(),
            ip,
        })
    }
}

/// The SMTP server.
#[derive(Clone)]
pub struct SmtpServer {
    cfg: Arc<SmtpConfig>,
    hostname: String,
    sys: SystemStore,
    pipeline: Pipeline,
    tls: Option<TlsAcceptor>,
    total: Arc<Semaphore>,
    per_ip: Arc<PerIp>,
}

impl SmtpServer {
    /// A server; `tls` enables STARTTLS.
    pub fn new(
        cfg: SmtpConfig,
        hostname: &str,
        sys: SystemStore,
        pipeline: Pipeline,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let total = Arc::new(Semaphore::new(cfg.max_connections));
        Self {
            cfg: Arc::new(cfg),
            hostname: hostname.to_string(),
            sys,
            pipeline,
            tls: tls.map(TlsAcceptor::from),
            total,
            per_ip: Arc::default(),
        }
    }

    /// Accepts connections until `shutdown` turns true, then lets sessions finish the message
    /// they are receiving (bounded) and returns.
    pub async fn run(self, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
        let mut sessions = JoinSet::new();
        loop {
            tokio::select! {
                r = listener.accept() => match r {
                    Ok((sock, peer)) => {
                        let s = self.clone();
                        let rx = shutdown.clone();
                        sessions.spawn(async move { s.connection(sock, peer, rx).await });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "smtp accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = shutdown.changed() => break,
            }
            while sessions.try_join_next().is_some() {}
        }
        drop(listener);
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while sessions.join_next().await.is_some() {}
        })
        .await;
        sessions.abort_all();
    }

    async fn connection(
        self,
        mut sock: TcpStream,
        peer: SocketAddr,
        shutdown: watch::Receiver<bool>,
    ) {
        let _ = sock.set_nodelay(true);
        let Ok(_permit) = self.total.clone().try_acquire_owned() else {
            let _ = sock
                .write_all(b"421 4.3.2 too many connections; try again later\r\n")
                .await;
            return;
        };
        let mut pending = Vec::new();
        let mut client = peer.ip();
        if self.cfg.proxy_protocol {
            match read_proxy(&mut sock, &mut pending).await {
                Some(ProxyHeader::Proxied(a)) => client = a.source.ip(),
                Some(ProxyHeader::Local) => {}
                None => {
                    tracing::info!(%peer, "connection without a valid PROXY header closed");
                    return;
                }
            }
        }
        let Some(_slot) = self.per_ip.take(client, self.cfg.max_connections_per_ip) else {
            let _ = sock
                .write_all(b"421 4.7.0 too many connections from your address\r\n")
                .await;
            return;
        };
        // A whole UUIDv7: time-ordered, and its 74 random bits keep ids unique across
        // processes and restarts (a prefix of it repeated within a millisecond).
        let id = uuid::Uuid::now_v7().simple().to_string();
        let span = tracing::info_span!("smtp", session = %id, client = %client);
        let _enter = span.enter();
        let limit = Duration::from_secs(self.cfg.max_session_secs);
        let mut conn = Conn::Plain(sock);
        let r = tokio::time::timeout(
            limit,
            self.session(&mut conn, client, &id, pending, shutdown),
        )
        .await;
        if r.is_err() {
            let _ = conn
                .write_all(b"421 4.4.2 session time limit reached; closing\r\n")
                .await;
        }
        let _ = conn.shutdown().await;
    }

    async fn session(
        &self,
        conn: &mut Conn,
        client: IpAddr,
        id: &str,
        pending: Vec<u8>,
        mut shutdown: watch::Receiver<bool>,
    ) -> io::Result<()> {
        let limits = Limits {
            max_message: self.cfg.max_message_bytes,
            max_recipients: self.cfg.max_recipients,
            max_errors: self.cfg.max_errors,
        };
        let mut session = Session::new(&self.hostname, limits, self.tls.is_some());
        let mut rcpts = StoreRecipients::new(self.sys.clone());
        let mut reader = CommandReader::new();
        reader.push(&pending);
        let mut out: Vec<u8> = session.greeting().to_wire();
        let mut buf = vec![0u8; READ_CHUNK];
        let cmd_timeout = Duration::from_secs(self.cfg.command_timeout_secs);
        loop {
            // Answer every command already buffered (PIPELINING), then flush once.
            while let Some(cmd) = reader.next_command() {
                if let Ok(Command::Bdat { size, last }) = &cmd {
                    let (size, last) = (*size, *last);
                    conn.write_all(&out).await?;
                    out.clear();
                    let rest = reader.take_rest();
                    let (reply, close, leftover) = self
                        .bdat(conn, &mut session, &mut rcpts, client, id, size, last, rest)
                        .await?;
                    reader.push(&leftover);
                    out.extend_from_slice(&reply.to_wire());
                    if close {
                        conn.write_all(&out).await?;
                        return Ok(());
                    }
                    continue;
                }
                match session.command(cmd, &mut rcpts).await {
                    Step::Reply(r) => out.extend_from_slice(&r.to_wire()),
                    Step::Close(r) => {
                        out.extend_from_slice(&r.to_wire());
                        conn.write_all(&out).await?;
                        return Ok(());
                    }
                    Step::ReadData(r) => {
                        out.extend_from_slice(&r.to_wire());
                        conn.write_all(&out).await?;
                        out.clear();
                        let rest = reader.take_rest();
                        let (reply, leftover) = self
                            .data(conn, &mut session, &mut rcpts, client, id, rest)
                            .await?;
                        reader.push(&leftover);
                        out.extend_from_slice(&reply.to_wire());
                    }
                    Step::StartTls(r) => {
                        out.extend_from_slice(&r.to_wire());
                        conn.write_all(&out).await?;
                        out.clear();
                        // Bytes pipelined after STARTTLS are an injection attempt: dropped.
                        let _ = reader.take_rest();
                        let Some(acceptor) = self.tls.clone() else {
                            return Ok(());
                        };
                        let Conn::Plain(tcp) = std::mem::replace(conn, Conn::Gone) else {
                            return Ok(());
                        };
                        match tokio::time::timeout(TLS_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(tls)) => {
                                *conn = Conn::Tls(Box::new(tls));
                                session.tls_started();
                            }
                            Ok(Err(e)) => {
                                tracing::info!(error = %e, "TLS handshake failed");
                                return Ok(());
                            }
                            Err(_) => return Ok(()),
                        }
                    }
                }
            }
            if !out.is_empty() {
                conn.write_all(&out).await?;
                out.clear();
            }
            let n = tokio::select! {
                r = tokio::time::timeout(cmd_timeout, conn.read(&mut buf)) => match r {
                    Ok(r) => r?,
                    Err(_) => {
                        conn.write_all(b"421 4.4.2 idle too long; closing\r\n").await?;
                        return Ok(());
                    }
                },
                _ = shutdown.changed() => {
                    conn.write_all(b"421 4.3.2 server shutting down; try again later\r\n").await?;
                    return Ok(());
                }
            };
            if n == 0 {
                return Ok(());
            }
            reader.push(&buf[..n]);
        }
    }

    /// Reads a DATA message; returns the reply and the bytes that followed its end.
    async fn data(
        &self,
        conn: &mut Conn,
        session: &mut Session,
        rcpts: &mut StoreRecipients,
        client: IpAddr,
        id: &str,
        rest: Vec<u8>,
    ) -> io::Result<(Reply, Vec<u8>)> {
        let mut dr = DataReader::new(self.cfg.max_message_bytes);
        let timeout = Duration::from_secs(self.cfg.data_timeout_secs);
        let mut buf = vec![0u8; READ_CHUNK];
        let mut chunk = rest;
        let leftover = loop {
            if let DataStatus::Done { consumed } = dr.push(&chunk) {
                break chunk[consumed..].to_vec();
            }
            let n = match tokio::time::timeout(timeout, conn.read(&mut buf)).await {
                Ok(r) => r?,
                Err(_) => {
                    // Nothing was stored: the half-received message is dropped.
                    conn.write_all(b"421 4.4.2 timeout waiting for data; closing\r\n")
                        .await?;
                    return Err(io::ErrorKind::TimedOut.into());
                }
            };
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            chunk = buf[..n].to_vec();
        };
        let overflowed = dr.overflowed();
        let message = dr.into_message();
        let reply = self
            .finish(session, rcpts, client, id, &message, overflowed)
            .await;
        Ok((reply, leftover))
    }

    /// Reads one BDAT chunk; returns the reply, whether to close, and the bytes after it.
    #[allow(clippy::too_many_arguments)]
    async fn bdat(
        &self,
        conn: &mut Conn,
        session: &mut Session,
        rcpts: &mut StoreRecipients,
        client: IpAddr,
        id: &str,
        size: u64,
        last: bool,
        mut rest: Vec<u8>,
    ) -> io::Result<(Reply, bool, Vec<u8>)> {
        let allowed = session.bdat();
        let timeout = Duration::from_secs(self.cfg.data_timeout_secs);
        // The chunk is read in full whatever becomes of it, so the command stream stays in step.
        let mut want = size;
        let take = want.min(rest.len() as u64) as usize;
        if allowed.is_ok() {
            session.bdat_push(&rest[..take]);
        }
        rest.drain(..take);
        want -= take as u64;
        let mut buf = vec![0u8; READ_CHUNK];
        while want > 0 {
            let n = match tokio::time::timeout(timeout, conn.read(&mut buf)).await {
                Ok(r) => r?,
                Err(_) => {
                    conn.write_all(b"421 4.4.2 timeout waiting for data; closing\r\n")
                        .await?;
                    return Err(io::ErrorKind::TimedOut.into());
                }
            };
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let take = (want as usize).min(n);
            if allowed.is_ok() {
                session.bdat_push(&buf[..take]);
            }
            want -= take as u64;
            rest = buf[take..n].to_vec();
        }
        if let Err(step) = allowed {
            return Ok(match step {
                Step::Close(r) => (r, true, rest),
                Step::Reply(r) | Step::ReadData(r) | Step::StartTls(r) => (r, false, rest),
            });
        }
        if !last {
            return Ok((
                Reply::new(250, Some("2.0.0"), format!("{size} octets received")),
                false,
                rest,
            ));
        }
        let (message, overflowed) = session.take_bdat();
        let reply = self
            .finish(session, rcpts, client, id, &message, overflowed)
            .await;
        Ok((reply, false, rest))
    }

    /// Ends a transaction: checks, delivery, and the reply.
    async fn finish(
        &self,
        session: &mut Session,
        rcpts: &mut StoreRecipients,
        client: IpAddr,
        id: &str,
        message: &[u8],
        overflowed: bool,
    ) -> Reply {
        let tls = session.is_tls();
        let env = match session.data_received(message, overflowed) {
            Ok(env) => env,
            Err(r) => return r,
        };
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
        };
        match self.pipeline.deliver_smtp(&envelope, message).await {
            Ok(d) => {
                tracing::info!(
                    from = %env.from,
                    recipients = env.recipients.len(),
                    copies = d.copies.len(),
                    size = message.len(),
                    "message accepted"
                );
                Reply::new(250, Some("2.0.0"), format!("message accepted, id {id}"))
            }
            Err(Refusal::TryLater(why)) => Reply::new(451, Some("4.3.0"), why),
            Err(Refusal::StorageFull(why)) => Reply::new(452, Some("4.3.1"), why),
            Err(Refusal::Reject(why)) => Reply::new(550, Some("5.7.1"), why),
        }
    }
}

/// Reads the PROXY header; `None` when it is missing, malformed or late.
async fn read_proxy(sock: &mut TcpStream, pending: &mut Vec<u8>) -> Option<ProxyHeader> {
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + PROXY_TIMEOUT;
    loop {
        match proxy::parse(pending) {
            Ok(Some((h, used))) => {
                pending.drain(..used);
                return Some(h);
            }
            Ok(None) => {}
            Err(_) => return None,
        }
        let n = tokio::time::timeout_at(deadline, sock.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 || pending.len() + n > proxy::MAX_HEADER {
            return None;
        }
        pending.extend_from_slice(&buf[..n]);
    }
}
