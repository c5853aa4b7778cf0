//! SPF, DKIM, DMARC and ARC results for inbound mail (mail-auth over hickory-resolver), and
//! the `Authentication-Results` header field (RFC 8601) we add. No DNS cache is kept: each
//! message asks DNS afresh, bounded by an overall deadline.

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::dmarc::Policy;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DkimResult, DmarcResult, MessageAuthenticator,
    SpfResult, dmarc::verify::DmarcParameters, spf::verify::SpfParameters,
};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The SMTP facts authentication needs.
#[derive(Debug, Clone)]
pub struct SmtpPeer {
    /// The client address.
    pub ip: IpAddr,
    /// HELO/EHLO name.
    pub helo: String,
    /// Reverse path; "" for the null sender.
    pub mail_from: String,
}

/// One DKIM signature's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimOutcome {
    /// `pass`, `fail`, `neutral`, `temperror`, `permerror` or `none`.
    pub result: String,
    /// The signing domain (`d=`).
    pub domain: Option<String>,
    /// The selector (`s=`).
    pub selector: Option<String>,
}

/// What authentication found; stored with the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthOutcome {
    /// SPF result keyword.
    pub spf: String,
    /// The domain SPF checked.
    pub spf_domain: String,
    /// One entry per signature.
    pub dkim: Vec<DkimOutcome>,
    /// DMARC result keyword.
    pub dmarc: String,
    /// The published DMARC policy, when found.
    pub dmarc_policy: Option<String>,
    /// ARC result keyword.
    pub arc: String,
    /// The whole `Authentication-Results:` field, CRLF-terminated and folded.
    pub header: String,
}

/// Checks messages. Cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<MessageAuthenticator>,
    authserv_id: String,
    deadline: Duration,
}

fn spf_word(r: SpfResult) -> &'static str {
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

fn dkim_word(r: &DkimResult) -> &'static str {
    match r {
        DkimResult::Pass => "pass",
        DkimResult::Neutral(_) => "neutral",
        DkimResult::Fail(_) => "fail",
        DkimResult::PermError(_) => "permerror",
        DkimResult::TempError(_) => "temperror",
        DkimResult::None => "none",
    }
}

fn dmarc_word(r: &DmarcResult) -> &'static str {
    match r {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}

fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() && *c != ';' && *c != '"')
        .take(255)
        .collect()
}

impl Authenticator {
    /// `nameservers`: `ip:port` strings (empty: the system's resolver); `timeout` per query;
    /// `deadline` bounds one whole check.
    pub fn new(
        nameservers: &[String],
        timeout: Duration,
        authserv_id: &str,
        deadline: Duration,
    ) -> Result<Self, String> {
        let (config, mut opts) = if nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?
        } else {
            let mut servers = Vec::new();
            for s in nameservers {
                let addr: SocketAddr = s
                    .parse()
                    .map_err(|_| format!("dns.nameservers: {s:?} is not ip:port"))?;
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
        opts.attempts = 1;
        opts.cache_size = 0;
        let inner = MessageAuthenticator::new(config, opts)
            .map_err(|e| format!("cannot build the DNS resolver: {e}"))?;
        Ok(Self {
            inner: Arc::new(inner),
            authserv_id: clean(authserv_id),
            deadline,
        })
    }

    /// Checks one message. Never fails and never takes longer than the deadline: what is not
    /// known by then is `temperror`.
    pub async fn check(&self, raw: &[u8], peer: &SmtpPeer) -> AuthOutcome {
        let spf_domain = match peer.mail_from.rsplit_once('@') {
            Some((_, d)) => d.to_ascii_lowercase(),
            None => peer.helo.to_ascii_lowercase(),
        };
        match tokio::time::timeout(self.deadline, self.run(raw, peer, &spf_domain)).await {
            Ok(o) => o,
            Err(_) => {
                let header = format!(
                    "Authentication-Results: {};\r\n\tspf=temperror smtp.mailfrom={};\r\n\tdkim=temperror;\r\n\tdmarc=temperror;\r\n\tarc=temperror\r\n",
                    self.authserv_id,
                    clean(if peer.mail_from.is_empty() {
                        "<>"
                    } else {
                        &peer.mail_from
                    })
                );
                AuthOutcome {
                    spf: "temperror".into(),
                    spf_domain,
                    dkim: Vec::new(),
                    dmarc: "temperror".into(),
                    dmarc_policy: None,
                    arc: "temperror".into(),
                    header,
                }
            }
        }
    }

    async fn run(&self, raw: &[u8], peer: &SmtpPeer, spf_domain: &str) -> AuthOutcome {
        let a = &self.inner;
        let helo = clean(&peer.helo);
        let spf = a
            .verify_spf(SpfParameters::verify(
                peer.ip,
                &helo,
                &self.authserv_id,
                &peer.mail_from,
            ))
            .await;
        let mut results = AuthenticationResults::new(&self.authserv_id).with_spf_mailfrom_result(
            &spf,
            peer.ip,
            &peer.mail_from,
            &helo,
        );
        let Some(msg) = AuthenticatedMessage::parse(raw) else {
            let header = format!(
                "Authentication-Results: {results};\r\n\tdkim=none;\r\n\tdmarc=none;\r\n\tarc=none\r\n"
            );
            return AuthOutcome {
                spf: spf_word(spf.result()).into(),
                spf_domain: spf_domain.into(),
                dkim: Vec::new(),
                dmarc: "none".into(),
                dmarc_policy: None,
                arc: "none".into(),
                header,
            };
        };
        let dkim = a.verify_dkim(&msg).await;
        let arc = a.verify_arc(&msg).await;
        let from_domain = msg
            .from
            .first()
            .and_then(|f| f.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        let dmarc = a
            .verify_dmarc(DmarcParameters::new(&msg, &dkim, spf_domain, &spf))
            .await;
        results = results
            .with_dkim_results(&dkim, &from_domain)
            .with_dmarc_result(&dmarc)
            .with_arc_result(&arc, peer.ip);
        let dkim_out: Vec<DkimOutcome> = dkim
            .iter()
            .map(|d| DkimOutcome {
                result: dkim_word(d.result()).into(),
                domain: d.signature().map(|s| s.d.clone()),
                selector: d.signature().map(|s| s.s.clone()),
            })
            .collect();
        let dmarc_word = if matches!(dmarc.spf_result(), DmarcResult::Pass)
            || matches!(dmarc.dkim_result(), DmarcResult::Pass)
        {
            "pass"
        } else {
            match (dmarc.spf_result(), dmarc.dkim_result()) {
                (DmarcResult::None, DmarcResult::None) => "none",
                (DmarcResult::TempError(_), _) | (_, DmarcResult::TempError(_)) => "temperror",
                (DmarcResult::PermError(_), _) | (_, DmarcResult::PermError(_)) => "permerror",
                (s, _) => dmarc_word(s),
            }
        };
        let policy = dmarc.dmarc_record().map(|_| {
            match dmarc.policy() {
                Policy::Reject => "reject",
                Policy::Quarantine => "quarantine",
                Policy::None | Policy::Unspecified => "none",
            }
            .to_string()
        });
        AuthOutcome {
            spf: spf_word(spf.result()).into(),
            spf_domain: spf_domain.into(),
            dkim: dkim_out,
            dmarc: dmarc_word.into(),
            dmarc_policy: policy,
            arc: dkim_word(arc.result()).into(),
            header: format!("Authentication-Results: {results}\r\n"),
        }
    }
}
