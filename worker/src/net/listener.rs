//! Accepting connections: the backlog, the caps (in all and per client address, counted after
//! the PROXY header so they apply to the real client), session ids, the session time limit,
//! load-dependent idle time-outs and graceful shutdown.

use super::conn::Conn;
use super::proxy::{self, ProxyHeader};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

/// How long a PROXY header may take to arrive.
const PROXY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long shutdown waits for sessions in the middle of something.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the last bytes of a session may take to go out before the connection is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the network layer enforces for one protocol.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Connections at once, in all.
    pub max_connections: usize,
    /// Connections at once from one client address.
    pub max_connections_per_ip: usize,
    /// Expect a PROXY v1/v2 header on every connection.
    pub proxy_protocol: bool,
    /// The longest session.
    pub max_session: Duration,
    /// Above this many open connections the server is busy: idle clients get the short
    /// time-out ([`Load::idle`]), so idle sessions cannot starve senders.
    pub busy_at: usize,
}

impl NetConfig {
    /// A listener's limits as every protocol's configuration gives them; the server counts as
    /// busy from three quarters of `max_connections` on.
    pub fn new(
        max_connections: usize,
        max_connections_per_ip: usize,
        proxy_protocol: bool,
        max_session_secs: u64,
    ) -> Self {
        Self {
            max_connections,
            max_connections_per_ip,
            proxy_protocol,
            max_session: Duration::from_secs(max_session_secs),
            busy_at: max_connections * 3 / 4,
        }
    }
}

/// Why a connection is refused or ended by the network layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds `max_connections`.
    TooManyConnections,
    /// The client's address holds `max_connections_per_ip`.
    TooManyFromAddress,
    /// The session reached `max_session`.
    SessionTooLong,
}

/// A protocol served over the network layer.
pub trait Protocol: Clone + Send + Sync + 'static {
    /// Its name, in spans and logs (`smtp`).
    const NAME: &'static str;

    /// The bytes to send before closing a refused or ended connection.
    fn refusal(&self, why: Refusal) -> Vec<u8>;

    /// Runs one session: the greeting, then commands until the client leaves, the protocol
    /// ends it, or `session.shutdown` turns true.
    fn session(&self, session: &mut Session) -> impl Future<Output = io::Result<()>> + Send;
}

/// How loaded the server is, for protocols to pick their idle time-out. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Load {
    open: Arc<AtomicUsize>,
    busy_at: usize,
}

impl Load {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Whether the server is busy (more than `busy_at` connections open).
    pub fn busy(&self) -> bool {
        self.open() > self.busy_at
    }

    /// The time-out for a client that sends nothing: `normal`, or `busy` while the server
    /// is busy (the shorter of the two).
    pub fn idle(&self, normal: Duration, busy: Duration) -> Duration {
        if self.busy() {
            normal.min(busy)
        } else {
            normal
        }
    }
}

/// An accepted connection, handed to [`Protocol::session`].
pub struct Session {
    /// The connection (plain until STARTTLS).
    pub conn: Conn,
    /// The client's address (from the PROXY header when enabled).
    pub client: IpAddr,
    /// A unique id (a UUIDv7): in replies, `Received:` fields and logs.
    pub id: String,
    /// Bytes that arrived after the PROXY header: the protocol reads them first.
    pub pending: Vec<u8>,
    /// The server's load.
    pub load: Load,
    /// Turns true when the server shuts down.
    pub shutdown: watch::Receiver<bool>,
}

impl Session {
    /// Starts an implicit-TLS connection (IMAPS, POP3S): the handshake comes before the
    /// greeting. `false` when the session must end: no certificate, a failed handshake, or
    /// bytes after a PROXY header (the handshake must start whole, so there can be none).
    pub async fn start_implicit_tls(
        &mut self,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) -> io::Result<bool> {
        let Some(acceptor) = acceptor else {
            return Ok(false);
        };
        if !self.pending.is_empty() {
            return Ok(false);
        }
        self.conn.start_tls(acceptor).await
    }
}

/// Binds a listening socket with the given backlog (the kernel caps it at `somaxconn`).
/// `addr` is `host:port`; a name is resolved and its first address taken.
pub fn bind(addr: &str, backlog: u32) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol as IpProto, Socket, Type};
    use std::net::ToSocketAddrs;
    let addr: SocketAddr = addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: no address"))
    })?;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(IpProto::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
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

/// Counts an open connection while alive.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts connections until `shutdown` turns true, then lets sessions finish what they are
/// doing (bounded) and returns.
pub async fn serve<P: Protocol>(
    proto: P,
    cfg: NetConfig,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let total = Arc::new(Semaphore::new(cfg.max_connections));
    let per_ip: Arc<PerIp> = Arc::default();
    let load = Load {
        open: Arc::default(),
        busy_at: cfg.busy_at,
    };
    let cfg = Arc::new(cfg);
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, peer)) => {
                    let (proto, cfg, total, per_ip, load, rx) = (
                        proto.clone(), cfg.clone(), total.clone(), per_ip.clone(), load.clone(), shutdown.clone(),
                    );
                    sessions.spawn(async move {
                        connection(proto, &cfg, sock, peer, total, per_ip, load, rx).await
                    });
                }
                Err(e) => {
                    tracing::warn!(protocol = P::NAME, error = %e, "accept failed");
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

#[allow(clippy::too_many_arguments)]
async fn connection<P: Protocol>(
    proto: P,
    cfg: &NetConfig,
    mut sock: TcpStream,
    peer: SocketAddr,
    total: Arc<Semaphore>,
    per_ip: Arc<PerIp>,
    load: Load,
    shutdown: watch::Receiver<bool>,
) {
    let _ = sock.set_nodelay(true);
    let Ok(_permit) = total.try_acquire_owned() else {
        let _ = sock
            .write_all(&proto.refusal(Refusal::TooManyConnections))
            .await;
        return;
    };
    load.open.fetch_add(1, Ordering::Relaxed);
    let _open = Open(load.open.clone());
    let mut pending = Vec::new();
    let mut client = peer.ip();
    if cfg.proxy_protocol {
        match read_proxy(&mut sock, &mut pending).await {
            Some(ProxyHeader::Proxied(a)) => client = a.source.ip(),
            Some(ProxyHeader::Local) => {}
            None => {
                tracing::info!(protocol = P::NAME, %peer, "connection without a valid PROXY header closed");
                return;
            }
        }
    }
    let Some(_slot) = per_ip.take(client, cfg.max_connections_per_ip) else {
        let _ = sock
            .write_all(&proto.refusal(Refusal::TooManyFromAddress))
            .await;
        return;
    };
    // A whole UUIDv7: time-ordered, and its 74 random bits keep ids unique across processes
    // and restarts.
    let id = uuid::Uuid::now_v7().simple().to_string();
    let span = tracing::info_span!("session", protocol = P::NAME, session = %id, client = %client);
    let mut session = Session {
        conn: Conn::Plain(sock),
        client,
        id,
        pending,
        load,
        shutdown,
    };
    async {
        let r = tokio::time::timeout(cfg.max_session, proto.session(&mut session)).await;
        if r.is_err() {
            let _ = session
                .conn
                .write_all(&proto.refusal(Refusal::SessionTooLong))
                .await;
        }
        // What is still held (a compressed connection's last bytes, TLS's close_notify) goes
        // out, but a client that reads nothing more cannot hold the session open.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.conn.shutdown()).await;
    }
    .instrument(span)
    .await;
}

/// Reads the PROXY header; `None` when it is missing, malformed or late. Only the header's
/// own bytes are read (a v1 line and a v2 header's first 16 bytes one at a time, the rest of a
/// v2 header as its length says), so what follows stays in the socket: a TLS handshake on an
/// implicit-TLS listener starts from its first byte. `pending` is left empty.
async fn read_proxy(sock: &mut TcpStream, pending: &mut Vec<u8>) -> Option<ProxyHeader> {
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
        let want = if pending.len() >= 16 && pending.starts_with(proxy::V2_SIG) {
            16 + usize::from(u16::from_be_bytes([pending[14], pending[15]])) - pending.len()
        } else {
            1
        };
        if pending.len() + want > proxy::MAX_HEADER {
            return None;
        }
        let at = pending.len();
        pending.resize(at + want, 0);
        tokio::time::timeout_at(deadline, sock.read_exact(&mut pending[at..]))
            .await
            .ok()?
            .ok()?;
    }
}
