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

impl AuthOutcome {
    /// The outcome for mail a user of this deployment sent: its sender logged in (`login`)
    /// and its From address was checked against the user's identities at submission, which
    /// counts as an aligned, authenticated From (DMARC `pass`); SPF was not asked.
    pub fn submitted(hostname: &str, login: &str) -> Self {
        let login: String = login
            .chars()
            .filter(|c| !c.is_control() && *c != ';')
            .collect();
        Self {
            spf: "none".into(),
            spf_domain: String::new(),
            dkim: Vec::new(),
            dmarc: "pass".into(),
            dmarc_policy: None,
            arc: "none".into(),
            header: format!(
                "Authentication-Results: {hostname};\r\n\tauth=pass (sent by a user of this server) smtp.auth={login}\r\n"
            ),
        }
    }
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
mod tests;
