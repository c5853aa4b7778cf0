//! Delivery to another server over SMTP, through lettre's connection: the route (the
//! configured smarthost, or the domain's MX hosts by preference, the domain itself when it
//! has none, nothing for a null MX), opportunistic STARTTLS (certificates are not checked:
//! a failed handshake falls back to plain text on a new connection, as RFC 3207 §4.1 lets
//! an MTA), then one transaction for the domain's recipients with a reply for each.
//!
//! Sessions are reused: after a delivery the session goes into [`Connections`] for
//! `outbound.connection_cache_secs`, and the next delivery to the same server starts with
//! `MAIL FROM` on it. A cached session the server has closed meanwhile is noticed at that
//! first command, and the delivery goes on over a new one.

use super::Outcome;
use crate::jobs::JobContext;
use lettre::address::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, CertificateStore, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use mailroom_core::dns::Answer;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Messages one cached session carries at most before it is ended.
const SESSION_MAX_MESSAGES: u32 = 100;
/// How long one cached session is used at most (Postfix: `smtp_connection_reuse_time_limit`).
const SESSION_MAX_AGE: Duration = Duration::from_secs(300);
/// How long the QUIT of a session leaving the cache may take.
const QUIT_WITHIN: Duration = Duration::from_secs(5);

/// A server: its host name (lower case) and address.
type Server = (String, SocketAddr);

/// A session waiting in the cache.
struct Cached {
    conn: AsyncSmtpConnection,
    opened: Instant,
    idle_since: Instant,
    messages: u32,
}

impl Cached {
    fn usable(&self, idle: Duration, now: Instant) -> bool {
        now.duration_since(self.idle_since) < idle
            && now.duration_since(self.opened) < SESSION_MAX_AGE
            && self.messages < SESSION_MAX_MESSAGES
            && !self.conn.has_broken()
    }
}

/// Open sessions with remote servers, kept for the next delivery to the same server
/// (keyed by host name and address: a smarthost's login and an MX's TLS come with them).
/// At most `max_connections_per_domain` wait per server; each is ended with QUIT once it has
/// been idle for `connection_cache_secs` (one sweeper looks every half of that).
#[derive(Clone)]
pub struct Connections {
    idle: Duration,
    per_server: usize,
    cache: Arc<Mutex<HashMap<Server, Vec<Cached>>>>,
    /// A sweeper runs (one per cache, while it holds sessions).
    sweeping: Arc<std::sync::atomic::AtomicBool>,
}

/// A session in use: where it goes back to, and its history.
struct Session {
    conn: AsyncSmtpConnection,
    opened: Instant,
    messages: u32,
    /// Taken from the cache (its first command may find it closed).
    reused: bool,
}

impl Connections {
    /// A cache keeping sessions `idle` long (zero: none are kept), `per_server` per server.
    pub fn new(idle: Duration, per_server: usize) -> Self {
        Self {
            idle,
            per_server: per_server.max(1),
            cache: Default::default(),
            sweeping: Default::default(),
        }
    }

    /// Sessions waiting in the cache now.
    pub fn cached(&self) -> usize {
        self.cache
            .lock()
            .map_or(0, |c| c.values().map(Vec::len).sum())
    }

    /// The most recently used session with `host` at `addr` that is still good; the stale
    /// ones met on the way are ended.
    fn take(&self, host: &str, addr: SocketAddr) -> Option<Session> {
        let now = Instant::now();
        let mut stale = Vec::new();
        let found = {
            let mut cache = self.cache.lock().ok()?;
            let key = (host.to_ascii_lowercase(), addr);
            let list = cache.get_mut(&key)?;
            let mut found = None;
            while let Some(c) = list.pop() {
                if c.usable(self.idle, now) {
                    found = Some(c);
                    break;
                }
                stale.push(c);
            }
            if list.is_empty() {
                cache.remove(&key);
            }
            found
        };
        end(stale);
        found.map(|c| Session {
            conn: c.conn,
            opened: c.opened,
            messages: c.messages,
            reused: true,
        })
    }

    /// Keeps `s` for the next delivery to `host` at `addr`, or ends it.
    fn put(&self, host: &str, addr: SocketAddr, s: Session) {
        let c = Cached {
            conn: s.conn,
            opened: s.opened,
            idle_since: Instant::now(),
            messages: s.messages,
        };
        if self.idle.is_zero() || !c.usable(self.idle, c.idle_since) {
            end(vec![c]);
            return;
        }
        let refused = match self.cache.lock() {
            Ok(mut cache) => {
                let list = cache.entry((host.to_ascii_lowercase(), addr)).or_default();
                if list.len() < self.per_server {
                    list.push(c);
                    None
                } else {
                    Some(c)
                }
            }
            Err(_) => Some(c),
        };
        if let Some(c) = refused {
            end(vec![c]);
            return;
        }
        // One sweeper ends idle sessions while the cache holds any (not a task per delivery).
        use std::sync::atomic::Ordering::SeqCst;
        if self.sweeping.swap(true, SeqCst) {
            return;
        }
        let me = self.clone();
        let every = (me.idle / 2).max(Duration::from_millis(100));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if me.sweep() {
                    me.sweeping.store(false, SeqCst);
                    // A session put back meanwhile saw the flag still set: carry on for it.
                    if me.cached() == 0 || me.sweeping.swap(true, SeqCst) {
                        return;
                    }
                }
            }
        });
    }

    /// Ends the sessions idle too long; true when none is left.
    fn sweep(&self) -> bool {
        let now = Instant::now();
        let mut stale = Vec::new();
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, list| {
                let (keep, old): (Vec<_>, Vec<_>) =
                    list.drain(..).partition(|c| c.usable(self.idle, now));
                stale.extend(old);
                *list = keep;
                !list.is_empty()
            });
        }
        end(stale);
        self.cached() == 0
    }
}

/// Ends sessions politely (QUIT), in the background.
fn end(sessions: Vec<Cached>) {
    if sessions.is_empty() {
        return;
    }
    tokio::spawn(async move {
        for mut c in sessions {
            // A server that does not answer the QUIT in time is simply left (the socket
            // closes as the session is dropped).
            let _ = tokio::time::timeout(QUIT_WITHIN, c.conn.quit()).await;
        }
    });
}

/// One server to try.
struct Hop {
    /// Its name (for TLS and reports).
    host: String,
    /// Where to connect.
    addrs: Vec<SocketAddr>,
}

/// Why a whole attempt stopped before any recipient had an answer.
enum Stop {
    /// Try the next server (connection refused, timeout, 4xx greeting).
    Next(String),
    /// Every recipient gets this outcome (a 5xx to MAIL FROM, say).
    All(Outcome),
    /// A cached session turned out to be closed: go on over a new one.
    Stale(String),
}

/// Delivers to `rcpts` at `domain`, at most `max_recipients_per_transaction` per
/// transaction. One outcome per recipient, in order.
pub async fn deliver(
    ctx: &JobContext,
    sender: &str,
    domain: &str,
    rcpts: &[String],
    data: &[u8],
) -> Vec<Outcome> {
    let hops = match route(ctx, domain).await {
        Ok(h) => h,
        Err(o) => return vec![o; rcpts.len()],
    };
    let per = ctx.outbound.config().max_recipients_per_transaction.max(1);
    let mut out = Vec::with_capacity(rcpts.len());
    for part in rcpts.chunks(per) {
        out.extend(transaction(ctx, &hops, sender, part, data).await);
    }
    out
}

/// One transaction for `rcpts`, with the first server that takes part in it.
async fn transaction(
    ctx: &JobContext,
    hops: &[Hop],
    sender: &str,
    rcpts: &[String],
    data: &[u8],
) -> Vec<Outcome> {
    let all = |o: Outcome| vec![o; rcpts.len()];
    let mut last = String::from("no server to try");
    for hop in hops {
        for addr in &hop.addrs {
            match attempt(ctx, hop, *addr, sender, rcpts, data).await {
                Ok(outcomes) => return outcomes,
                Err(Stop::All(o)) => return all(o),
                Err(Stop::Next(why) | Stop::Stale(why)) => {
                    tracing::info!(host = %hop.host, %addr, why, "outbound: next server");
                    last = format!("{}: {why}", hop.host);
                }
            }
        }
    }
    all(Outcome::Deferred {
        code: None,
        reply: last,
    })
}

/// The servers to try, in order.
async fn route(ctx: &JobContext, domain: &str) -> Result<Vec<Hop>, Outcome> {
    let cfg = ctx.outbound.config();
    let defer = |why: String| Outcome::Deferred {
        code: None,
        reply: why,
    };
    if !cfg.smarthost.is_empty() {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(cfg.smarthost.as_str())
            .await
            .map_err(|e| defer(format!("smarthost {}: {e}", cfg.smarthost)))?
            .collect();
        let host = cfg
            .smarthost
            .rsplit_once(':')
            .map_or(cfg.smarthost.as_str(), |(h, _)| h);
        return Ok(vec![Hop {
            host: host.to_string(),
            addrs,
        }]);
    }
    let dns = &ctx.domains.dns;
    let mut hosts = match dns.mx(domain).await {
        Answer::Found(mut mx) => {
            // RFC 7505: a single MX of "." says the domain takes no mail.
            if mx.iter().any(|m| m.host.is_empty()) {
                return Err(Outcome::Failed {
                    code: None,
                    status: "5.1.10".into(),
                    reply: format!("{domain} accepts no mail (null MX)"),
                    remote: None,
                });
            }
            mx.sort_by_key(|m| m.preference);
            mx.into_iter().map(|m| m.host).collect::<Vec<_>>()
        }
        // RFC 5321 §5.1: no MX, the domain itself.
        Answer::Missing => vec![domain.to_string()],
        Answer::Failed(why) => return Err(defer(format!("MX lookup of {domain}: {why}"))),
    };
    hosts.dedup();
    let mut hops = Vec::new();
    let mut missing = true;
    let mut trouble = None;
    let mut internal = false;
    for host in hosts {
        match dns.addresses(&host).await {
            Answer::Found(mut ips) => {
                missing = false;
                if cfg.public_mx_only {
                    let before = ips.len();
                    ips.retain(|ip| is_public(*ip));
                    internal |= ips.len() < before;
                    if ips.is_empty() {
                        continue;
                    }
                }
                hops.push(Hop {
                    addrs: ips
                        .into_iter()
                        .map(|ip: IpAddr| SocketAddr::new(ip, cfg.mx_port))
                        .collect(),
                    host,
                });
            }
            Answer::Missing => {}
            Answer::Failed(why) => {
                missing = false;
                trouble = Some(format!("address of {host}: {why}"));
            }
        }
    }
    if hops.is_empty() && internal && trouble.is_none() {
        return Err(Outcome::Failed {
            code: None,
            status: "5.4.4".into(),
            reply: format!("the mail servers of {domain} are on internal addresses; not delivered"),
            remote: None,
        });
    }
    if hops.is_empty() {
        return Err(match (missing, trouble) {
            (true, _) => Outcome::Failed {
                code: None,
                status: "5.1.2".into(),
                reply: format!("{domain} has no mail server (no MX and no address)"),
                remote: None,
            },
            (false, why) => defer(why.unwrap_or_else(|| "no address".into())),
        });
    }
    Ok(hops)
}

/// Whether `ip` is an address on the public Internet (not loopback, private, link-local,
/// shared, documentation, multicast or unspecified).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// A reply as a number and text (lettre reports negative replies as errors).
fn reply_of(e: &lettre::transport::smtp::Error) -> (Option<i32>, String) {
    let code = e.status().and_then(|c| c.to_string().parse::<i32>().ok());
    (code, e.to_string())
}

/// The enhanced status code a reply carries, or the class's generic one.
pub(crate) fn status_of(text: &str, code: Option<i32>) -> String {
    let found = text.split_whitespace().find(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    });
    match (found, code) {
        (Some(s), _) => s.to_string(),
        (None, Some(c)) if c >= 500 => "5.0.0".into(),
        _ => "4.0.0".into(),
    }
}

fn outcome_of(e: &lettre::transport::smtp::Error, host: &str) -> Outcome {
    let (code, reply) = reply_of(e);
    if e.is_permanent() {
        Outcome::Failed {
            status: status_of(&reply, code),
            code,
            reply,
            remote: Some(host.to_string()),
        }
    } else {
        Outcome::Deferred { code, reply }
    }
}

/// Why a session could not be opened.
enum OpenError {
    /// The TLS handshake failed: try again without TLS.
    Tls(String),
    /// Anything else: try the next server.
    Other(String),
}

impl From<String> for OpenError {
    fn from(why: String) -> Self {
        OpenError::Other(why)
    }
}

/// Opens a session with `addr`: greeting, EHLO, STARTTLS when offered (and `tls`).
async fn open(
    ctx: &JobContext,
    hop: &Hop,
    addr: SocketAddr,
    tls: bool,
) -> Result<AsyncSmtpConnection, OpenError> {
    let cfg = ctx.outbound.config();
    let client = ClientId::Domain(ctx.outbound.hostname().to_string());
    let connect = Duration::from_secs(cfg.connect_timeout_secs);
    let command = Duration::from_secs(cfg.command_timeout_secs);
    let sock = tokio::time::timeout(connect, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| "no connection in time".to_string())?
        .map_err(|e| e.to_string())?;
    // Without it, the end of data waits for the peer's delayed ACK of the message (Nagle):
    // tens of milliseconds per message.
    sock.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut conn = tokio::time::timeout(
        command,
        AsyncSmtpConnection::connect_with_transport(Box::new(sock), &client),
    )
    .await
    .map_err(|_| "no greeting in time".to_string())?
    .map_err(|e| e.to_string())?;
    if tls && conn.can_starttls() {
        // Certificates are not checked, so no root store is loaded.
        let params = TlsParameters::builder(hop.host.clone())
            .certificate_store(CertificateStore::None)
            .dangerous_accept_invalid_certs(true)
            .dangerous_accept_invalid_hostnames(true)
            .build_rustls()
            .map_err(|e| e.to_string())?;
        tokio::time::timeout(command, conn.starttls(params, &client))
            .await
            .map_err(|_| OpenError::Tls("STARTTLS took too long".into()))?
            .map_err(|e| OpenError::Tls(format!("STARTTLS: {e}")))?;
    }
    Ok(conn)
}

/// One transaction with one server: over a cached session when there is one, else over a
/// new one.
async fn attempt(
    ctx: &JobContext,
    hop: &Hop,
    addr: SocketAddr,
    sender: &str,
    rcpts: &[String],
    data: &[u8],
) -> Result<Vec<Outcome>, Stop> {
    if let Some(s) = ctx.connections.take(&hop.host, addr) {
        match transact(ctx, hop, addr, s, sender, rcpts, data).await {
            Err(Stop::Stale(why)) => {
                tracing::debug!(host = %hop.host, %addr, why, "outbound: cached session gone");
            }
            done => return done,
        }
    }
    let s = session(ctx, hop, addr).await?;
    match transact(ctx, hop, addr, s, sender, rcpts, data).await {
        Err(Stop::Stale(why)) => Err(Stop::Next(why)),
        done => done,
    }
}

/// A new session with `hop` at `addr`, with TLS when offered and the smarthost's login.
async fn session(ctx: &JobContext, hop: &Hop, addr: SocketAddr) -> Result<Session, Stop> {
    let cfg = ctx.outbound.config();
    let command = Duration::from_secs(cfg.command_timeout_secs);
    let mut conn = match open(ctx, hop, addr, true).await {
        Ok(c) => c,
        Err(OpenError::Tls(why)) => {
            // Opportunistic: a failed handshake means plain text, on a new connection.
            tracing::info!(host = %hop.host, why, "outbound: TLS failed; sending without it");
            match open(ctx, hop, addr, false).await {
                Ok(c) => c,
                Err(OpenError::Tls(why) | OpenError::Other(why)) => return Err(Stop::Next(why)),
            }
        }
        Err(OpenError::Other(why)) => return Err(Stop::Next(why)),
    };
    if !cfg.smarthost.is_empty() && !cfg.smarthost_username.is_empty() {
        let creds = Credentials::new(
            cfg.smarthost_username.clone(),
            cfg.smarthost_password.clone(),
        );
        let login = match tokio::time::timeout(
            command,
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => {
                conn.abort().await;
                return Err(Stop::Next("no reply to the login in time".into()));
            }
        };
        if let Err(e) = login {
            conn.abort().await;
            // A refused login is the configuration's fault: retried, not bounced.
            let (code, reply) = reply_of(&e);
            return Err(Stop::All(Outcome::Deferred {
                code,
                reply: format!("smarthost login: {reply}"),
            }));
        }
    }
    Ok(Session {
        conn,
        opened: Instant::now(),
        messages: 0,
        reused: false,
    })
}

/// One transaction over session `s`, which then goes back to the cache when it ended
/// cleanly. A cached session whose first command finds it closed is [`Stop::Stale`].
async fn transact(
    ctx: &JobContext,
    hop: &Hop,
    addr: SocketAddr,
    mut s: Session,
    sender: &str,
    rcpts: &[String],
    data: &[u8],
) -> Result<Vec<Outcome>, Stop> {
    let cfg = ctx.outbound.config();
    let command = Duration::from_secs(cfg.command_timeout_secs);
    macro_rules! timed {
        ($e:expr) => {
            match tokio::time::timeout(command, $e).await {
                Ok(r) => r,
                Err(_) => {
                    s.conn.abort().await;
                    return Err(Stop::Next("no reply in time".into()));
                }
            }
        };
    }
    let from = if sender.is_empty() {
        None
    } else {
        match Address::from_str(sender) {
            Ok(a) => Some(a),
            Err(e) => {
                ctx.connections.put(&hop.host, addr, s);
                return Err(Stop::All(Outcome::Failed {
                    code: None,
                    status: "5.1.7".into(),
                    reply: format!("bad sender address {sender}: {e}"),
                    remote: None,
                }));
            }
        }
    };
    let mut params = vec![MailParameter::Size(data.len())];
    if data.iter().any(|b| *b >= 0x80)
        && s.conn
            .server_info()
            .supports_feature(Extension::EightBitMime)
    {
        params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    if let Err(e) = timed!(s.conn.command(Mail::new(from, params))) {
        s.conn.abort().await;
        if s.reused && !e.is_permanent() {
            // Closed while it waited (or 421): not this message's fault.
            return Err(Stop::Stale(e.to_string()));
        }
        return match outcome_of(&e, &hop.host) {
            o @ Outcome::Failed { .. } => Err(Stop::All(o)),
            _ => Err(Stop::Next(e.to_string())),
        };
    }
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(rcpts.len());
    let mut accepted = 0;
    for r in rcpts {
        let to = match Address::from_str(r) {
            Ok(a) => a,
            Err(e) => {
                outcomes.push(Some(Outcome::Failed {
                    code: None,
                    status: "5.1.3".into(),
                    reply: format!("bad recipient address: {e}"),
                    remote: None,
                }));
                continue;
            }
        };
        match timed!(s.conn.command(Rcpt::new(to, vec![]))) {
            Ok(_) => {
                accepted += 1;
                outcomes.push(None);
            }
            Err(e) => outcomes.push(Some(outcome_of(&e, &hop.host))),
        }
    }
    let finish = |o: Outcome, outcomes: Vec<Option<Outcome>>| -> Vec<Outcome> {
        outcomes
            .into_iter()
            .map(|x| x.unwrap_or_else(|| o.clone()))
            .collect()
    };
    if accepted == 0 {
        // Every recipient has its refusal already; the session is kept for the next.
        if timed!(s.conn.command(Rset)).is_ok() {
            ctx.connections.put(&hop.host, addr, s);
        } else {
            s.conn.abort().await;
        }
        return Ok(outcomes.into_iter().flatten().collect());
    }
    if let Err(e) = timed!(s.conn.command(Data)) {
        s.conn.abort().await;
        return Ok(finish(outcome_of(&e, &hop.host), outcomes));
    }
    // lettre ends the data with CRLF . CRLF itself.
    let body = data.strip_suffix(b"\r\n").unwrap_or(data);
    let end = match tokio::time::timeout(command * 2, s.conn.message(body)).await {
        Ok(r) => r,
        Err(_) => {
            s.conn.abort().await;
            return Ok(finish(
                Outcome::Deferred {
                    code: None,
                    reply: format!("{}: no reply to the end of data in time", hop.host),
                },
                outcomes,
            ));
        }
    };
    let o = match end {
        Ok(resp) => Outcome::Delivered {
            code: resp.code().to_string().parse().ok(),
            reply: format!(
                "{}: {} {}",
                hop.host,
                resp.code(),
                resp.message().collect::<Vec<_>>().join(" ")
            ),
        },
        Err(e) => outcome_of(&e, &hop.host),
    };
    // A reply to the end of data (even a refusal) ends the transaction: the session can
    // carry the next one, unless it broke.
    s.messages += 1;
    if s.conn.has_broken() {
        s.conn.abort().await;
    } else {
        ctx.connections.put(&hop.host, addr, s);
    }
    Ok(finish(o, outcomes))
}

#[cfg(test)]
mod tests {
    use super::status_of;

    #[test]
    fn only_public_addresses_are_public() {
        use super::is_public;
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2a00:1450:4001::1", "93.184.216.34"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn enhanced_codes_are_read_from_replies() {
        assert_eq!(
            status_of("permanent error (550): 5.1.1 no such user", Some(550)),
            "5.1.1"
        );
        assert_eq!(status_of("550 go away", Some(550)), "5.0.0");
        assert_eq!(status_of("451 later", Some(451)), "4.0.0");
        assert_eq!(status_of("version 1.2.3 is odd", Some(550)), "5.0.0");
    }
}
