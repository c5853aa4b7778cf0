//! DNS look-ups through hickory-resolver, with the name servers from the configuration.
//!
//! Every answer is one of three things, because callers must tell them apart: records were
//! found, the name or type has none (NXDOMAIN or an empty answer: "missing"), or the question
//! could not be answered (timeout, SERVFAIL, refused: "try again", never "missing").

use crate::config::DnsConfig;
use crate::error::{Error, Result};
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver, TokioResolver};
use std::net::SocketAddr;
use std::time::Duration;

/// The outcome of one look-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    /// At least one record.
    Found(Vec<T>),
    /// The name has no records of this type.
    Missing,
    /// No answer could be had; the reason.
    Failed(String),
}

/// An MX record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mx {
    /// Preference (lower first).
    pub preference: u16,
    /// Exchange host, lower case, without the final dot.
    pub host: String,
}

/// An SRV record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Priority.
    pub priority: u16,
    /// Weight.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Target host, lower case, without the final dot.
    pub target: String,
}

/// `ip` reversed under `zone`: its octets (IPv4) or nibbles (IPv6) in reverse order, as PTR
/// names (`in-addr.arpa`, `ip6.arpa`) and DNS blocklists (RFC 5782) ask.
pub fn reverse_name(ip: std::net::IpAddr, zone: &str) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.{zone}", o[3], o[2], o[1], o[0])
        }
        std::net::IpAddr::V6(v6) => {
            let mut out = String::with_capacity(64 + zone.len());
            for b in v6.octets().iter().rev() {
                out.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            out.push_str(zone);
            out
        }
    }
}

/// A resolver.
#[derive(Clone)]
pub struct Dns {
    resolver: TokioResolver,
    deadline: Duration,
}

impl Dns {
    /// A resolver using the configured name servers, or the system's when none are set. It keeps
    /// no cache: a record just published must be seen on the next check.
    pub fn new(cfg: &DnsConfig) -> Result<Self> {
        let mut builder = if cfg.nameservers.is_empty() {
            Resolver::builder_tokio().map_err(|e| {
                Error::Config(format!("cannot read the system's DNS configuration: {e}"))
            })?
        } else {
            let mut servers = Vec::new();
            for s in &cfg.nameservers {
                let addr: SocketAddr = s
                    .parse()
                    .map_err(|_| Error::Config(format!("dns.nameservers: {s:?} is not ip:port")))?;
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                servers.push(ns);
            }
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = Duration::from_millis(cfg.timeout_ms);
        opts.attempts = cfg.attempts;
        opts.cache_size = 0;
        opts.edns0 = true;
        let resolver = builder
            .build()
            .map_err(|e| Error::Config(format!("cannot build the DNS resolver: {e}")))?;
        Ok(Self {
            resolver,
            deadline: Duration::from_millis(cfg.query_deadline_ms),
        })
    }

    /// TXT records of `name`, each record's strings joined (RFC 7208 §3.3).
    pub async fn txt(&self, name: &str) -> Answer<String> {
        self.query(name, RecordType::TXT, |r| match r {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s))
                    .collect::<String>(),
            ),
            _ => None,
        })
        .await
    }

    /// MX records of `name`.
    pub async fn mx(&self, name: &str) -> Answer<Mx> {
        self.query(name, RecordType::MX, |r| match r {
            RData::MX(m) => Some(Mx {
                preference: m.preference,
                host: host(&m.exchange.to_ascii()),
            }),
            _ => None,
        })
        .await
    }

    /// The CNAME target of `name`.
    pub async fn cname(&self, name: &str) -> Answer<String> {
        self.query(name, RecordType::CNAME, |r| match r {
            RData::CNAME(c) => Some(host(&c.0.to_ascii())),
            _ => None,
        })
        .await
    }

    /// SRV records of `name`.
    pub async fn srv(&self, name: &str) -> Answer<Srv> {
        self.query(name, RecordType::SRV, |r| match r {
            RData::SRV(s) => Some(Srv {
                priority: s.priority,
                weight: s.weight,
                port: s.port,
                target: host(&s.target.to_ascii()),
            }),
            _ => None,
        })
        .await
    }

    /// The IPv4 addresses of `name` (A records only: what DNS blocklists answer).
    pub async fn a(&self, name: &str) -> Answer<std::net::Ipv4Addr> {
        self.query(name, RecordType::A, |r| match r {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .await
    }

    /// The names of `ip` (PTR records under `in-addr.arpa` / `ip6.arpa`).
    pub async fn ptr(&self, ip: std::net::IpAddr) -> Answer<String> {
        let zone = if ip.is_ipv4() {
            "in-addr.arpa"
        } else {
            "ip6.arpa"
        };
        let name = reverse_name(ip, zone);
        self.query(&name, RecordType::PTR, |r| match r {
            RData::PTR(p) => Some(host(&p.0.to_ascii())),
            _ => None,
        })
        .await
    }

    /// The IPv4 and IPv6 addresses of `name` (A, then AAAA): a server to connect to.
    pub async fn addresses(&self, name: &str) -> Answer<std::net::IpAddr> {
        let (v4, v6) = tokio::join!(
            self.query(name, RecordType::A, |r| match r {
                RData::A(a) => Some(std::net::IpAddr::V4(a.0)),
                _ => None,
            }),
            self.query(name, RecordType::AAAA, |r| match r {
                RData::AAAA(a) => Some(std::net::IpAddr::V6(a.0)),
                _ => None,
            })
        );
        match (v4, v6) {
            (Answer::Found(mut a), Answer::Found(b)) => {
                a.extend(b);
                Answer::Found(a)
            }
            (Answer::Found(a), _) | (_, Answer::Found(a)) => Answer::Found(a),
            (Answer::Failed(e), _) | (_, Answer::Failed(e)) => Answer::Failed(e),
            _ => Answer::Missing,
        }
    }

    async fn query<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> Answer<T> {
        // A final dot makes the name absolute: no search domains are tried.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let Ok(result) =
            tokio::time::timeout(self.deadline, self.resolver.lookup(fqdn.as_str(), rtype)).await
        else {
            return Answer::Failed(format!("no answer within {} ms", self.deadline.as_millis()));
        };
        match result {
            Ok(lookup) => {
                let found: Vec<T> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| pick(&r.data))
                    .collect();
                if found.is_empty() {
                    Answer::Missing
                } else {
                    Answer::Found(found)
                }
            }
            Err(e) if is_negative(&e) => Answer::Missing,
            Err(e) => Answer::Failed(e.to_string()),
        }
    }
}

fn is_negative(e: &NetError) -> bool {
    e.is_no_records_found() || e.is_nx_domain()
}

fn host(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}
