//! SPF, DKIM, DMARC and ARC results for inbound mail (mail-auth over hickory-resolver), and the
//! `Authentication-Results` header field (RFC 8601) we prepend to the stored message.
//!
//! One [`Authenticator::check`] is bounded by an overall deadline: SPF, DKIM and ARC run at
//! once, DMARC after them, each cut off at the same instant. What is not known by then is
//! `temperror`; what was learnt before is kept. The resolver keeps no cache, so every message
//! asks DNS afresh. A panic inside the verification library is caught and reported as
//! `permerror` for the step that panicked, so a hostile message cannot take a session down.

use super::dns_cache::DnsCache;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::dkim::DkimError;
use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    ArcOutput, AuthenticatedMessage, DkimOutput, DkimResult as SigResult, DmarcOutput, DmarcResult,
    Error as AuthError, MessageAuthenticator, SpfOutput, SpfResult,
};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

/// The SMTP facts authentication needs.
#[derive(Debug, Clone)]
pub struct SmtpPeer {
    /// The client's address.
    pub ip: IpAddr,
    /// The HELO/EHLO name.
    pub helo: String,
    /// The reverse path without angle brackets; "" for the null sender.
    pub mail_from: String,
}

/// One DKIM signature's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimResult {
    /// `pass`, `fail`, `neutral`, `temperror`, `permerror`, `policy` or `none`.
    pub result: String,
    /// The signing domain (`d=`, lower case), when the signature could be read.
    pub domain: Option<String>,
    /// The selector (`s=`), when the signature could be read.
    pub selector: Option<String>,
}

/// What authentication found; stored with the message as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthOutcome {
    /// SPF: `pass`, `fail`, `softfail`, `neutral`, `none`, `temperror` or `permerror`.
    pub spf: String,
    /// The domain SPF checked: the MAIL FROM domain, or the HELO name for the null sender.
    pub spf_domain: String,
    /// One entry per DKIM-Signature field (unreadable ones first, without domain and
    /// selector, then the others in message order); empty when unsigned.
    pub dkim: Vec<DkimResult>,
    /// DMARC: `pass`, `fail`, `none`, `temperror` or `permerror`.
    pub dmarc: String,
    /// The DMARC policy that applies to the From domain (`none`, `quarantine` or `reject`),
    /// when a DMARC record was found.
    pub dmarc_policy: Option<String>,
    /// ARC: `pass`, `fail`, `none`, `temperror` (or `permerror` on an internal error).
    pub arc: String,
    /// The whole `Authentication-Results:` field, folded at 78 columns, CRLF-terminated.
    pub header: String,
}

/// Checks messages. Cheap to clone; shared by every SMTP session.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: MessageAuthenticator,
    /// Answers shared by every check of this process, kept for their TTL.
    cache: DnsCache,
    /// The authserv-id, already in header syntax (token or quoted-string).
    authserv_id: String,
    /// As given, for the SPF `%{r}` macro.
    host_domain: String,
    deadline: Duration,
}

/// No check waits longer than this, whatever was configured (keeps `Instant` arithmetic sane).
const MAX_DEADLINE: Duration = Duration::from_secs(3600);
/// The longest property value written; longer ones are cut (RFC 5321 paths are 256 at most).
const MAX_VALUE: usize = 320;
/// Header lines are folded to stay within this many octets (RFC 5322 §2.1.1).
const LINE: usize = 78;

impl Authenticator {
    /// `nameservers`: `ip:port` strings; empty means the system resolver (`/etc/resolv.conf`).
    /// `timeout`: the wait for one DNS answer. `authserv_id`: our host name, written first in
    /// the header. `deadline`: the most one [`check`](Self::check) may take in all, DNS
    /// time-outs included.
    pub fn new(
        nameservers: &[String],
        timeout: Duration,
        authserv_id: &str,
        deadline: Duration,
    ) -> Result<Self, String> {
        let host_domain = authserv_id.trim().to_string();
        if host_domain.is_empty() {
            return Err("the authserv-id (host name) is empty".into());
        }
        let (config, mut opts) = if nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?
        } else {
            let mut servers = Vec::with_capacity(nameservers.len());
            for s in nameservers {
                let addr: SocketAddr = s
                    .trim()
                    .parse()
                    .map_err(|_| format!("DNS name server {s:?} is not ip:port"))?;
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                servers.push(ns);
            }
            (
                ResolverConfig::from_name_servers(servers),
                ResolverOpts::default(),
            )
        };
        opts.timeout = timeout;
        opts.attempts = 2;
        // The resolver's own cache keeps negative answers (a domain without a DMARC record,
        // the parent domains of DMARC's tree walk) for at least a minute; positive answers are
        // kept, parsed, by the shared `DnsCache`.
        opts.cache_size = 4096;
        opts.negative_min_ttl = Some(Duration::from_secs(60));
        opts.edns0 = true;
        let resolver = MessageAuthenticator::new(config, opts)
            .map_err(|e| format!("cannot build the DNS resolver: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                resolver,
                cache: DnsCache::default(),
                authserv_id: pvalue(&host_domain),
                host_domain,
                deadline: deadline.min(MAX_DEADLINE),
            }),
        })
    }

    /// Checks one message. Never fails, never panics and returns within the deadline: results
    /// not known by then are `temperror`. A message that cannot be parsed gets DKIM, DMARC and
    /// ARC `none`.
    pub async fn check(&self, raw: &[u8], peer: &SmtpPeer) -> AuthOutcome {
        let now = Instant::now();
        let end = now.checked_add(self.inner.deadline).unwrap_or(now);
        let a = &self.inner.resolver;
        let c = &self.inner.cache;

        let helo = peer.helo.trim().trim_end_matches('.');
        let mail_from = envelope_address(&peer.mail_from);
        let spf_domain = match mail_from.rsplit_once('@') {
            Some((_, d)) => d,
            None => helo,
        }
        .trim_end_matches('.')
        .to_lowercase();

        let msg = std::panic::catch_unwind(|| AuthenticatedMessage::parse(raw))
            .ok()
            .flatten();

        let host = self.inner.host_domain.as_str();
        let spf_step = bounded(end, async {
            let params = if mail_from.is_empty() {
                SpfParameters::verify_ehlo(peer.ip, helo, host)
            } else {
                SpfParameters::verify_mail_from(peer.ip, helo, host, mail_from)
            };
            a.verify_spf(c.params(params)).await
        });
        let dkim_step = async {
            match &msg {
                Some(m) => Some(bounded(end, a.verify_dkim(c.params(m))).await),
                None => None,
            }
        };
        let arc_step = async {
            match &msg {
                Some(m) => Some(bounded(end, a.verify_arc(c.params(m))).await),
                None => None,
            }
        };
        let (spf, dkim, arc) = tokio::join!(spf_step, dkim_step, arc_step);

        let spf_out = match &spf {
            Step::Done(o) => o.clone(),
            Step::Late => SpfOutput::new(spf_domain.clone()).with_result(SpfResult::TempError),
            Step::Crashed => SpfOutput::new(spf_domain.clone()).with_result(SpfResult::PermError),
        };
        let no_dkim: Vec<DkimOutput<'_>> = Vec::new();
        let dkim_outputs = match &dkim {
            Some(Step::Done(v)) => v,
            _ => &no_dkim,
        };
        let dmarc = match &msg {
            Some(m) => {
                bounded(
                    end,
                    a.verify_dmarc(c.params(DmarcParameters::new(
                        m,
                        dkim_outputs,
                        &spf_domain,
                        &spf_out,
                    ))),
                )
                .await
            }
            None => Step::Done(DmarcOutput::default()),
        };

        let mut items: Vec<Vec<String>> = Vec::with_capacity(4);

        // SPF
        let spf_word = spf_keyword(spf_out.result());
        let mut item = vec![format!("spf={spf_word}")];
        match &spf {
            Step::Done(o) => item.extend(comment(&spf_reason(o.result(), &spf_domain, peer.ip))),
            other => item.extend(step_comment(other)),
        }
        item.push(format!(
            "smtp.mailfrom={}",
            if mail_from.is_empty() {
                pvalue(&format!("postmaster@{helo}"))
            } else {
                pvalue(mail_from)
            }
        ));
        items.push(item);

        // DKIM
        let dkim_results = dkim_entries(msg.as_ref(), dkim.as_ref());
        if dkim_results.is_empty() {
            items.push(vec!["dkim=none".into()]);
        }
        for (r, why) in &dkim_results {
            let mut item = vec![format!("dkim={}", r.result)];
            item.extend(why.iter().flat_map(|w| comment(w)));
            if let Some(d) = &r.domain {
                item.push(format!("header.d={}", pvalue(d)));
            }
            if let Some(s) = &r.selector {
                item.push(format!("header.s={}", pvalue(s)));
            }
            items.push(item);
        }

        // DMARC
        let (dmarc_word, dmarc_policy, from_domain) = match &dmarc {
            Step::Done(d) => (
                dmarc_keyword(&d.result()),
                d.dmarc_record()
                    .map(|_| policy_keyword(d.policy()).to_string()),
                Some(d.domain().to_string()).filter(|s| !s.is_empty()),
            ),
            Step::Late => ("temperror", None, from_domain_of(msg.as_ref())),
            Step::Crashed => ("permerror", None, from_domain_of(msg.as_ref())),
        };
        let mut item = vec![format!("dmarc={dmarc_word}")];
        item.extend(step_comment(&dmarc));
        if let Some(d) = &from_domain {
            item.push(format!("header.from={}", pvalue(d)));
        }
        if let Some(p) = &dmarc_policy {
            item.push(format!("policy.dmarc={p}"));
        }
        items.push(item);

        // ARC
        let arc_word = match &arc {
            Some(Step::Done(o)) => arc_keyword(o),
            Some(Step::Late) => "temperror",
            Some(Step::Crashed) => "permerror",
            None => "none",
        };
        let mut item = vec![format!("arc={arc_word}")];
        if let Some(s) = &arc {
            item.extend(step_comment(s));
        }
        items.push(item);

        AuthOutcome {
            spf: spf_word.into(),
            spf_domain,
            dkim: dkim_results.into_iter().map(|(r, _)| r).collect(),
            dmarc: dmarc_word.into(),
            dmarc_policy,
            arc: arc_word.into(),
            header: render(&self.inner.authserv_id, items),
        }
    }
}

/// How one bounded step ended.
enum Step<T> {
    /// It finished in time.
    Done(T),
    /// The deadline passed first.
    Late,
    /// The library panicked.
    Crashed,
}

/// Runs `fut` until `end`, catching a panic.
async fn bounded<F: Future>(end: Instant, fut: F) -> Step<F::Output> {
    match tokio::time::timeout_at(end, CatchUnwind(Box::pin(fut))).await {
        Ok(Some(v)) => Step::Done(v),
        Ok(None) => Step::Crashed,
        Err(_) => Step::Late,
    }
}

/// A future that turns a panic of the one it wraps into `None`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.get_mut().0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Some(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(None),
        }
    }
}

fn step_comment<T>(s: &Step<T>) -> Vec<String> {
    match s {
        Step::Done(_) => Vec::new(),
        Step::Late => comment("deadline exceeded"),
        Step::Crashed => comment("internal error"),
    }
}

/// The reverse path without surrounding space or angle brackets; `<>` is the null sender.
fn envelope_address(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .unwrap_or(s)
        .trim()
}

/// One entry per signature, with a reason for the header comment.
fn dkim_entries(
    msg: Option<&AuthenticatedMessage<'_>>,
    dkim: Option<&Step<Vec<DkimOutput<'_>>>>,
) -> Vec<(DkimResult, Option<String>)> {
    let (Some(msg), Some(step)) = (msg, dkim) else {
        return Vec::new();
    };
    let entry = |result: &str, sig: Option<&mail_auth::dkim::Signature>, why: Option<String>| {
        (
            DkimResult {
                result: result.into(),
                domain: sig.map(|s| s.d.to_lowercase()),
                selector: sig.map(|s| s.s.clone()),
            },
            why,
        )
    };
    match step {
        Step::Done(outputs) => outputs
            .iter()
            .map(|o| {
                let (word, why) = dkim_keyword(o.result());
                entry(word, o.signature(), why)
            })
            .collect(),
        Step::Late | Step::Crashed => {
            let (word, why) = match step {
                Step::Late => ("temperror", "deadline exceeded"),
                _ => ("permerror", "internal error"),
            };
            let malformed = msg
                .errors
                .iter()
                .filter(|e| matches!(e.header, AuthError::Dkim(_)))
                .map(|e| entry("neutral", None, Some(e.header.to_string())));
            malformed
                .chain(
                    msg.dkim_headers
                        .iter()
                        .map(|h| entry(word, Some(&h.header), Some(why.to_string()))),
                )
                .collect()
        }
    }
}

fn from_domain_of(msg: Option<&AuthenticatedMessage<'_>>) -> Option<String> {
    msg?.from
        .first()
        .and_then(|f| f.rsplit_once('@'))
        .map(|(_, d)| d.to_lowercase())
        .filter(|d| !d.is_empty())
}

/// A reader's explanation of an SPF result, for the header comment.
fn spf_reason(r: SpfResult, domain: &str, ip: IpAddr) -> String {
    match r {
        SpfResult::Pass => format!("{domain} permits {ip}"),
        SpfResult::Fail => format!("{domain} does not permit {ip}"),
        SpfResult::SoftFail => format!("{domain} discourages mail from {ip}"),
        SpfResult::Neutral => format!("{domain} makes no assertion about {ip}"),
        SpfResult::None => format!("no SPF record for {domain}"),
        SpfResult::TempError => format!("DNS error looking up {domain}"),
        SpfResult::PermError => format!("unusable SPF record for {domain}"),
    }
}

fn spf_keyword(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

/// The RFC 8601 keyword and the reason. A body hash that does not match is a failed
/// verification (RFC 6376 §3.7: PERMFAIL), which mail-auth reports as neutral.
fn dkim_keyword(r: &SigResult) -> (&'static str, Option<String>) {
    match r {
        SigResult::Pass => ("pass", None),
        SigResult::None => ("none", None),
        SigResult::Neutral(AuthError::Dkim(DkimError::FailedBodyHashMatch)) => {
            ("fail", Some("body hash did not verify".into()))
        }
        SigResult::Neutral(e) => ("neutral", Some(e.to_string())),
        SigResult::Fail(e) => ("fail", Some(e.to_string())),
        SigResult::PermError(e) => ("permerror", Some(e.to_string())),
        SigResult::TempError(e) => ("temperror", Some(e.to_string())),
    }
}

fn dmarc_keyword(r: &DmarcResult) -> &'static str {
    match r {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}

/// RFC 8617 §7.2 knows `none`, `pass` and `fail`; a DNS failure is `temperror` (RFC 8601).
/// A chain that is broken or cannot be read is `fail`.
fn arc_keyword(o: &ArcOutput<'_>) -> &'static str {
    match o.result() {
        SigResult::Pass => "pass",
        SigResult::None => "none",
        SigResult::TempError(_) => "temperror",
        SigResult::Fail(_) | SigResult::Neutral(_) | SigResult::PermError(_) => "fail",
    }
}

fn policy_keyword(p: Policy) -> &'static str {
    match p {
        Policy::Reject => "reject",
        Policy::Quarantine => "quarantine",
        Policy::None | Policy::Unspecified => "none",
    }
}

/// RFC 2045 token characters.
fn is_token_char(c: char) -> bool {
    c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c)
}

/// A property value (RFC 8601 §2.2 `pvalue`): a token or a plain `local@domain` as it is,
/// anything else as a quoted-string. Control characters are dropped and the length capped,
/// so nothing a client sends can break the header.
fn pvalue(v: &str) -> String {
    let v: String = v
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_VALUE)
        .collect();
    let plain = match v.rsplit_once('@') {
        _ if !v.is_empty() && v.chars().all(is_token_char) => true,
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
        }
        None => false,
    };
    if plain {
        return v;
    }
    let mut q = String::with_capacity(v.len() + 2);
    q.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// A comment, as words the folder may break between. Only printable ASCII is kept, without
/// parentheses or backslashes, so it cannot end early or escape.
fn comment(text: &str) -> Vec<String> {
    let clean: String = text
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_graphic() && !"()\\".contains(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    let mut words: Vec<String> = clean.split_whitespace().map(str::to_string).collect();
    let Some(first) = words.first_mut() else {
        return Vec::new();
    };
    first.insert(0, '(');
    if let Some(w) = words.last_mut() {
        w.push(')');
    }
    words
}

/// Lays the field out: the authserv-id on the first line, each result on a line of its own,
/// and long results folded between words (CRLF then white space), lines at most 78 octets
/// wherever no single word is longer.
fn render(authserv_id: &str, items: Vec<Vec<String>>) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("Authentication-Results: ");
    out.push_str(authserv_id);
    if items.is_empty() {
        out.push_str("; none\r\n");
        return out;
    }
    out.push(';');
    let last = items.len() - 1;
    for (n, mut words) in items.into_iter().enumerate() {
        if n < last
            && let Some(w) = words.last_mut()
        {
            w.push(';');
        }
        out.push_str("\r\n\t");
        let mut col = 1;
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                if col + 1 + w.len() > LINE {
                    out.push_str("\r\n\t ");
                    col = 2;
                } else {
                    out.push(' ');
                    col += 1;
                }
            }
            out.push_str(w);
            col += w.len();
        }
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use mail_auth::AuthenticationResults;
    use mail_auth::arc::ArcSealer;
    use mail_auth::common::crypto::Ed25519Key;
    use mail_auth::common::headers::HeaderWriter;
    use mail_auth::dkim::DkimSigner;
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    /// dnsmasq (Debian `dnsmasq-base`) on a random 127.0.0.1 port, answering for `.test`:
    /// the given TXT records, NXDOMAIN for every other name.
    struct DnsServer {
        port: u16,
        child: Option<Child>,
    }

    impl DnsServer {
        /// `records`: (name, character-strings of one TXT record).
        async fn start(records: &[(String, Vec<String>)]) -> DnsServer {
            let port = free_port();
            let mut cmd = Command::new("dnsmasq");
            cmd.args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--user=root",
                "--pid-file=",
                "--log-facility=/dev/null",
                "--local=/test/",
            ])
            .arg(format!("--port={port}"));
            for (name, parts) in records {
                // No shell: each comma-separated part is one character-string.
                cmd.arg(format!("--txt-record={name},{}", parts.join(",")));
            }
            let child = cmd
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("dnsmasq must be installed (Debian package dnsmasq-base)");
            let server = DnsServer {
                port,
                child: Some(child),
            };
            for _ in 0..200 {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return server;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("dnsmasq did not start on port {port}");
        }

        fn addr(&self) -> String {
            format!("127.0.0.1:{}", self.port)
        }

        fn stop(&mut self) {
            if let Some(mut c) = self.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    impl Drop for DnsServer {
        fn drop(&mut self) {
            self.stop();
        }
    }

    /// A port free for both UDP and TCP right now.
    fn free_port() -> u16 {
        loop {
            let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = udp.local_addr().unwrap().port();
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }

    /// An Ed25519 key and its DKIM key record, split over two character-strings.
    /// (PKCS#8 DER, record).
    fn key() -> (Vec<u8>, Vec<String>) {
        let der = Ed25519Key::generate_pkcs8().unwrap();
        let k = Ed25519Key::from_pkcs8_der(&der).unwrap();
        let p = base64::engine::general_purpose::STANDARD.encode(k.public_key());
        (der, vec!["v=DKIM1; k=ed25519; ".into(), format!("p={p}")])
    }

    fn txt(name: &str, text: &str) -> (String, Vec<String>) {
        (name.to_string(), vec![text.to_string()])
    }

    struct World {
        dns: DnsServer,
        signer: Vec<u8>,
        arc_key: Vec<u8>,
    }

    async fn world() -> World {
        let (signer, dkim_record) = key();
        let (arc_key, arc_record) = key();
        let dns = DnsServer::start(&[
            txt("good.test", "v=spf1 ip4:127.0.0.1 -all"),
            txt("_dmarc.good.test", "v=DMARC1; p=reject"),
            ("sel._domainkey.good.test".into(), dkim_record),
            txt("other.test", "v=spf1 ip4:127.0.0.1 -all"),
            ("arc._domainkey.fwd.test".into(), arc_record),
        ])
        .await;
        World {
            dns,
            signer,
            arc_key,
        }
    }

    fn authenticator(dns: &str, deadline: Duration) -> Authenticator {
        Authenticator::new(
            &[dns.to_string()],
            Duration::from_secs(2),
            "mx.mailroom.test",
            deadline,
        )
        .unwrap()
    }

    const MESSAGE: &str = "From: Alice <alice@good.test>\r\n\
        To: bob@mailroom.test\r\n\
        Subject: Hello\r\n\
        Date: Mon, 4 May 2026 10:00:00 +0000\r\n\
        Message-ID: <1@good.test>\r\n\
        \r\n\
        Hello Bob.\r\n";

    fn sign(key: &[u8], selector: &str, message: &str) -> String {
        let sig = DkimSigner::from_key(Ed25519Key::from_pkcs8_der(key).unwrap())
            .domain("good.test")
            .selector(selector)
            .headers(["From", "To", "Subject", "Date", "Message-ID"])
            .sign(message.as_bytes())
            .unwrap();
        format!("{}{message}", sig.to_header())
    }

    fn peer(ip: &str, mail_from: &str) -> SmtpPeer {
        SmtpPeer {
            ip: ip.parse().unwrap(),
            helo: "client.good.test".into(),
            mail_from: mail_from.into(),
        }
    }

    fn pass(domain: &str, selector: &str) -> DkimResult {
        DkimResult {
            result: "pass".into(),
            domain: Some(domain.into()),
            selector: Some(selector.into()),
        }
    }

    /// The header is one well-formed field: only folding CRLFs (each followed by white space),
    /// a final CRLF, lines within `limit` octets, and a parser sees exactly one field.
    fn assert_one_field(header: &str, limit: usize) {
        assert!(header.starts_with("Authentication-Results: "), "{header}");
        let body = header.strip_suffix("\r\n").expect("ends with CRLF");
        for (i, line) in body.split("\r\n").enumerate() {
            assert!(!line.contains('\r') && !line.contains('\n'), "{header:?}");
            assert!(
                line.len() <= limit,
                "line {i} is {} long: {line:?}",
                line.len()
            );
            if i > 0 {
                assert!(
                    line.starts_with(' ') || line.starts_with('\t'),
                    "line {i} is not a continuation: {line:?}"
                );
                assert!(!line.trim().is_empty(), "white-space-only line {i}");
            }
        }
        let raw = format!("{header}Subject: x\r\n\r\nbody\r\n");
        let msg = AuthenticatedMessage::parse(raw.as_bytes()).expect("parses");
        assert_eq!(msg.headers.len(), 2, "{header:?}");
        assert_eq!(msg.headers[0].0, b"Authentication-Results");
    }

    #[test]
    fn check_future_is_send() {
        fn send<T: Send>(_: &T) {}
        fn sync_clone<T: Send + Sync + Clone>() {}
        sync_clone::<Authenticator>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let a = authenticator("127.0.0.1:9", Duration::from_secs(1));
            let p = peer("127.0.0.1", "");
            let f = a.check(b"", &p);
            send(&f);
        });
    }

    #[tokio::test]
    async fn signed_message_from_the_right_address_passes() {
        let w = world().await;
        let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
        let raw = sign(&w.signer, "sel", MESSAGE);
        let out = a
            .check(raw.as_bytes(), &peer("127.0.0.1", "alice@good.test"))
            .await;
        assert_eq!(out.spf, "pass", "{out:?}");
        assert_eq!(out.spf_domain, "good.test");
        assert_eq!(out.dkim, vec![pass("good.test", "sel")], "{out:?}");
        assert_eq!(out.dmarc, "pass", "{out:?}");
        assert_eq!(out.dmarc_policy.as_deref(), Some("reject"));
        assert_eq!(out.arc, "none");
        let h = &out.header;
        assert_one_field(h, 78);
        assert!(
            h.starts_with("Authentication-Results: mx.mailroom.test;\r\n"),
            "{h}"
        );
        let flat = h.replace("\r\n\t ", " ").replace("\r\n", "");
        assert!(
            flat.contains("spf=pass (good.test permits 127.0.0.1) smtp.mailfrom=alice@good.test;"),
            "{h}"
        );
        assert!(
            flat.contains("dkim=pass header.d=good.test header.s=sel;"),
            "{h}"
        );
        assert!(
            flat.contains("dmarc=pass header.from=good.test policy.dmarc=reject;"),
            "{h}"
        );
        assert!(flat.ends_with("arc=none"), "{h}");
        // Stored as JSON and read back.
        let json = serde_json::to_string(&out).unwrap();
        assert_eq!(serde_json::from_str::<AuthOutcome>(&json).unwrap(), out);
    }

    #[tokio::test]
    async fn changed_body_fails_dkim_and_dmarc_follows_alignment() {
        let w = world().await;
        let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
        let raw = sign(&w.signer, "sel", MESSAGE).replace("Hello Bob.", "Hello Rob.");
        let fail = DkimResult {
            result: "fail".into(),
            domain: Some("good.test".into()),
            selector: Some("sel".into()),
        };

        // RFC 7489 §4.2: an aligned SPF pass is enough for DMARC to pass.
        let out = a
            .check(raw.as_bytes(), &peer("127.0.0.1", "alice@good.test"))
            .await;
        assert_eq!(out.spf, "pass", "{out:?}");
        assert_eq!(out.dkim, vec![fail.clone()], "{out:?}");
        assert_eq!(out.dmarc, "pass", "{out:?}");
        assert_one_field(&out.header, 78);
        assert!(
            out.header
                .replace("\r\n", "")
                .contains("dkim=fail (body hash did not verify) header.d=good.test header.s=sel;"),
            "{}",
            out.header
        );

        // SPF passes for a domain that is not aligned with From, DKIM fails: DMARC fails.
        let out = a
            .check(raw.as_bytes(), &peer("127.0.0.1", "bounce@other.test"))
            .await;
        assert_eq!(out.spf, "pass", "{out:?}");
        assert_eq!(out.spf_domain, "other.test");
        assert_eq!(out.dkim, vec![fail], "{out:?}");
        assert_eq!(out.dmarc, "fail", "{out:?}");
        assert_eq!(out.dmarc_policy.as_deref(), Some("reject"));
        assert_one_field(&out.header, 78);
    }

    #[tokio::test]
    async fn unsigned_message_from_the_wrong_address_fails() {
        let w = world().await;
        let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
        let out = a
            .check(MESSAGE.as_bytes(), &peer("127.0.0.2", "alice@good.test"))
            .await;
        assert_eq!(out.spf, "fail", "{out:?}");
        assert!(out.dkim.is_empty(), "{out:?}");
        assert_eq!(out.dmarc, "fail", "{out:?}");
        assert_eq!(out.dmarc_policy.as_deref(), Some("reject"));
        assert_eq!(out.arc, "none");
        assert_one_field(&out.header, 78);
        let flat = out.header.replace("\r\n\t ", " ").replace("\r\n", "");
        assert!(
            flat.contains(
                "spf=fail (good.test does not permit 127.0.0.2) smtp.mailfrom=alice@good.test;"
            ),
            "{flat}"
        );
        assert!(flat.contains("\tdkim=none;"), "{flat}");
        assert!(
            flat.contains("dmarc=fail header.from=good.test policy.dmarc=reject;"),
            "{flat}"
        );
    }

    #[tokio::test]
    async fn domain_without_records_is_none() {
        let w = world().await;
        let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
        let raw = MESSAGE.replace("alice@good.test", "carol@nothing.test");
        let out = a
            .check(raw.as_bytes(), &peer("127.0.0.1", "carol@nothing.test"))
            .await;
        assert_eq!(out.spf, "none", "{out:?}");
        assert_eq!(out.spf_domain, "nothing.test");
        assert!(out.dkim.is_empty());
        assert_eq!(out.dmarc, "none", "{out:?}");
        assert_eq!(out.dmarc_policy, None);
        assert_one_field(&out.header, 78);
        assert!(
            out.header.contains("header.from=nothing.test"),
            "{}",
            out.header
        );
    }

    #[tokio::test]
    async fn null_sender_checks_the_helo_name() {
        let w = world().await;
        let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
        let raw = sign(&w.signer, "sel", MESSAGE);
        let p = SmtpPeer {
            ip: "127.0.0.1".parse().unwrap(),
            helo: "good.test".into(),
            mail_from: String::new(),
        };
        let out = a.check(raw.as_bytes(), &p).await;
        assert_eq!(out.spf, "pass", "{out:?}");
        assert_eq!(out.spf_domain, "good.test");
        assert_eq!(out.dmarc, "pass", "{out:?}");
        assert!(
            out.header.contains("smtp.mailfrom=postmaster@good.test"),
            "{}",
            out.header
        );
        assert_one_field(&out.header, 78);
    }

    #[tokio::test]
    async fn one_result_per_signature() {
        let w = world().await;
        let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
        // The second signature names a selector with no key in DNS.
        let (other, _) = key();
        let raw = sign(&other, "nokey", &sign(&w.signer, "sel", MESSAGE));
        let out = a
            .check(raw.as_bytes(), &peer("127.0.0.2", "alice@good.test"))
            .await;
        assert_eq!(out.spf, "fail");
        assert_eq!(out.dkim.len(), 2, "{out:?}");
        assert!(out.dkim.contains(&pass("good.test", "sel")), "{out:?}");
        assert!(
            out.dkim.contains(&DkimResult {
                result: "permerror".into(),
                domain: Some("good.test".into()),
                selector: Some("nokey".into()),
            }),
            "{out:?}"
        );
        // The aligned DKIM pass carries DMARC although SPF failed.
        assert_eq!(out.dmarc, "pass");
        let flat = out.header.replace("\r\n\t ", " ").replace("\r\n", "");
        assert!(flat.contains("header.s=sel"), "{flat}");
        assert!(flat.contains("header.s=nokey"), "{flat}");
        assert_one_field(&out.header, 78);
    }

    #[tokio::test]
    async fn arc_sealed_message_passes_arc() {
        let w = world().await;
        let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
        let signed = sign(&w.signer, "sel", MESSAGE);
        let msg = AuthenticatedMessage::parse(signed.as_bytes()).unwrap();
        let r = &a.inner.resolver;
        let arc = r.verify_arc(&msg).await;
        let dkim = r.verify_dkim(&msg).await;
        let results =
            AuthenticationResults::new("fwd.test").with_dkim_results(&dkim, "alice@good.test");
        let set = ArcSealer::from_key(Ed25519Key::from_pkcs8_der(&w.arc_key).unwrap())
            .domain("fwd.test")
            .selector("arc")
            .headers(["From", "To", "Subject", "DKIM-Signature"])
            .seal(&msg, &results, &arc)
            .unwrap();
        let raw = format!("{}{signed}", set.to_header());
        let out = a
            .check(raw.as_bytes(), &peer("127.0.0.2", "list@fwd.test"))
            .await;
        assert_eq!(out.arc, "pass", "{out:?}");
        assert_eq!(out.dkim, vec![pass("good.test", "sel")], "{out:?}");
        assert!(out.header.ends_with("\tarc=pass\r\n"), "{}", out.header);
        assert_one_field(&out.header, 78);
    }

    #[tokio::test]
    async fn stopped_dns_gives_temperror_within_the_deadline() {
        let mut w = world().await;
        let raw = sign(&w.signer, "sel", MESSAGE);
        let addr = w.dns.addr();
        w.dns.stop();
        // Per-query time-out past the deadline, then one well within it: either way every
        // DNS-dependent result is temperror, in time.
        for (timeout, deadline, why) in
            [(2000, 2000, "deadline exceeded"), (300, 5000, "DNS error")]
        {
            let deadline = Duration::from_millis(deadline);
            let a = Authenticator::new(
                std::slice::from_ref(&addr),
                Duration::from_millis(timeout),
                "mx.mailroom.test",
                deadline,
            )
            .unwrap();
            let started = std::time::Instant::now();
            let out = a
                .check(raw.as_bytes(), &peer("127.0.0.1", "alice@good.test"))
                .await;
            let took = started.elapsed();
            eprintln!("stopped DNS, time-out {timeout} ms: check took {took:?}");
            assert!(took < deadline + Duration::from_secs(1), "took {took:?}");
            assert_eq!(out.spf, "temperror", "{out:?}");
            assert_eq!(out.dkim.len(), 1, "{out:?}");
            assert_eq!(out.dkim[0].result, "temperror");
            assert_eq!(out.dkim[0].domain.as_deref(), Some("good.test"));
            assert_eq!(out.dkim[0].selector.as_deref(), Some("sel"));
            assert_eq!(out.dmarc, "temperror", "{out:?}");
            assert!(out.header.contains(why), "{}", out.header);
            assert_one_field(&out.header, 78);
        }
    }

    #[tokio::test]
    async fn silent_dns_gives_temperror_at_the_deadline() {
        // A name server that takes queries and never answers; its time-out (2 s, two tries)
        // is longer than the deadline.
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        let _tcp = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let (signer, _) = key();
        let deadline = Duration::from_millis(1500);
        let a = authenticator(&format!("127.0.0.1:{port}"), deadline);
        let raw = sign(&signer, "sel", MESSAGE);
        let started = std::time::Instant::now();
        let out = a
            .check(raw.as_bytes(), &peer("127.0.0.1", "alice@good.test"))
            .await;
        let took = started.elapsed();
        assert!(took < deadline + Duration::from_secs(1), "took {took:?}");
        assert!(
            took >= deadline - Duration::from_millis(50),
            "took {took:?}"
        );
        assert_eq!(out.spf, "temperror", "{out:?}");
        assert_eq!(out.dkim.len(), 1);
        assert_eq!(out.dkim[0].result, "temperror");
        assert_eq!(out.dkim[0].selector.as_deref(), Some("sel"));
        assert_eq!(out.dmarc, "temperror", "{out:?}");
        assert_eq!(out.arc, "none", "no ARC fields: nothing to look up");
        assert!(out.header.contains("(deadline exceeded)"), "{}", out.header);
        assert_one_field(&out.header, 78);
    }

    #[tokio::test]
    async fn garbage_never_panics_and_still_gets_a_header() {
        let w = world().await;
        let a = authenticator(&w.dns.addr(), Duration::from_secs(5));
        let mut noise = Vec::new();
        let mut x: u32 = 0x1234_5678;
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            noise.push((x & 0xff) as u8);
        }
        let inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"\r\n\r\n".to_vec(),
            b"no header here".to_vec(),
            b"\x00\xff\xfe: \x00\r\n\r\n".to_vec(),
            noise,
            b"DKIM-Signature: v=1; a=rsa-sha256; d=; s=\r\nFrom: <>\r\n\r\nx".to_vec(),
            b"From: a@good.test, b@other.test\r\n\r\nx".to_vec(),
            b"ARC-Seal: i=1; cv=none; a=rsa-sha256; d=x; s=y; b=\r\n\r\n".to_vec(),
        ];
        for raw in &inputs {
            let out = a.check(raw, &peer("127.0.0.1", "alice@good.test")).await;
            assert_eq!(out.spf, "pass");
            assert!(
                ["none", "permerror", "fail"].contains(&out.dmarc.as_str()),
                "{out:?}"
            );
            assert_one_field(&out.header, 78);
        }
        // Hostile envelope values cannot break the field.
        let p = SmtpPeer {
            ip: "127.0.0.1".parse().unwrap(),
            helo: "x\r\nBcc: evil@x\r\n".into(),
            mail_from: "\"a;b\r\n\\\"c\"@good.test".into(),
        };
        let out = a.check(MESSAGE.as_bytes(), &p).await;
        assert_one_field(&out.header, 78);
        assert!(!out.header.contains("Bcc"), "{}", out.header);
        let p = SmtpPeer {
            mail_from: String::new(),
            ..p
        };
        let out = a.check(MESSAGE.as_bytes(), &p).await;
        assert_eq!(out.spf, "none", "{out:?}");
        assert_one_field(&out.header, 78);
        assert!(
            out.header
                .contains("smtp.mailfrom=\"postmaster@xBcc: evil@x\""),
            "{}",
            out.header
        );
    }

    #[test]
    fn no_results_is_none() {
        assert_eq!(
            render("mx", Vec::new()),
            "Authentication-Results: mx; none\r\n"
        );
    }

    #[test]
    fn long_values_fold_and_stay_within_the_hard_limit() {
        let long_local = "a".repeat(45);
        let items = vec![
            vec![
                "spf=pass".into(),
                format!(
                    "smtp.mailfrom={}",
                    pvalue(&format!("{long_local}@example.test"))
                ),
            ],
            {
                let mut v = vec!["dkim=fail".to_string()];
                v.extend(comment(&"word ".repeat(40)));
                v.push("header.d=example.test".into());
                v
            },
            vec![format!("smtp.mailfrom={}", pvalue(&"b".repeat(2000)))],
        ];
        let h = render("mx.mailroom.test", items);
        // The last value cannot be folded; it is capped instead.
        assert_one_field(&h, 998);
        let lines: Vec<&str> = h.trim_end().split("\r\n").collect();
        assert!(lines.iter().filter(|l| l.len() > LINE).count() == 1, "{h}");
        assert_eq!(pvalue("a b@c"), "\"a b@c\"");
        assert_eq!(pvalue("x\"y\\z"), "\"x\\\"y\\\\z\"");
        assert_eq!(pvalue("good.test"), "good.test");
        assert_eq!(pvalue(""), "\"\"");
        assert_eq!(envelope_address(" <a@b> "), "a@b");
        assert_eq!(envelope_address("<>"), "");
    }

    #[test]
    fn bad_configuration_is_an_error() {
        let t = Duration::from_secs(1);
        assert!(Authenticator::new(&["nope".into()], t, "mx", t).is_err());
        assert!(Authenticator::new(&["127.0.0.1".into()], t, "mx", t).is_err());
        assert!(Authenticator::new(&["127.0.0.1:53".into()], t, " ", t).is_err());
        assert!(Authenticator::new(&["[::1]:53".into()], t, "mx", t).is_ok());
    }
}
