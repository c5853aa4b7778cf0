//! DNS blocklists: the client's address in IP lists (RFC 5782: the address's octets, or
//! nibbles for IPv6, reversed under the zone) and the message's link domains in domain lists
//! (URIBL/DBL: the domain under the zone). A listing is an A record in `127.0.0.0/8`;
//! `127.255.255.0/24` is how Spamhaus says it refused the query, which is not a listing.
//! Lookups run concurrently, each within the resolver's deadline; a failed lookup adds
//! nothing.

use super::Symbol;
use crate::dns::{Answer, Dns};
use std::net::{IpAddr, Ipv4Addr};

/// Score of a client address on an IP blocklist (per zone).
pub const RBL_SCORE: f64 = 3.0;
/// Score of a link domain on a domain blocklist (per zone; once per zone).
pub const URIBL_SCORE: f64 = 3.5;
/// Link domains looked up at most, per message.
pub const MAX_LINK_DOMAINS: usize = 10;

/// The configured lists and the resolver that asks them.
pub struct DnsLists {
    dns: Dns,
    ip_zones: Vec<String>,
    domain_zones: Vec<String>,
}

/// The name to look up for `ip` under `zone` (the address reversed, RFC 5782).
pub use crate::dns::reverse_name as query_name;

fn listing(a: &Answer<Ipv4Addr>) -> Option<Ipv4Addr> {
    match a {
        Answer::Found(ips) => ips.iter().copied().find(|ip| {
            let o = ip.octets();
            o[0] == 127 && !(o[1] == 255 && o[2] == 255)
        }),
        _ => None,
    }
}

impl DnsLists {
    /// Lists asked through `dns`; `None` when no zone is configured.
    pub fn new(dns: Dns, ip_zones: &[String], domain_zones: &[String]) -> Option<Self> {
        let clean = |z: &[String]| -> Vec<String> {
            z.iter()
                .map(|z| z.trim().trim_matches('.').to_ascii_lowercase())
                .filter(|z| !z.is_empty())
                .collect()
        };
        let (ip_zones, domain_zones) = (clean(ip_zones), clean(domain_zones));
        (!ip_zones.is_empty() || !domain_zones.is_empty()).then_some(Self {
            dns,
            ip_zones,
            domain_zones,
        })
    }

    /// The symbols for a client address and link domains.
    pub async fn check(&self, client: Option<IpAddr>, domains: &[String]) -> Vec<Symbol> {
        use futures_util::future::join_all;
        let ip_lookups = client
            .into_iter()
            .flat_map(|ip| self.ip_zones.iter().map(move |z| (ip, z)))
            .map(|(ip, z)| async move {
                let a = self.dns.a(&query_name(ip, z)).await;
                listing(&a).map(|code| Symbol {
                    name: "RBL_LISTED".into(),
                    score: RBL_SCORE,
                    detail: format!("the client {ip} is listed by {z} ({code})"),
                })
            });
        let domain_lookups = self.domain_zones.iter().map(|z| async move {
            let names = domains
                .iter()
                .take(MAX_LINK_DOMAINS)
                .map(|d| async move { (d, self.dns.a(&format!("{d}.{z}")).await) });
            join_all(names)
                .await
                .into_iter()
                .find_map(|(d, a)| listing(&a).map(|code| (d, code)))
                .map(|(d, code)| Symbol {
                    name: "URIBL_LISTED".into(),
                    score: URIBL_SCORE,
                    detail: format!("the link domain {d} is listed by {z} ({code})"),
                })
        });
        let (a, b) = tokio::join!(join_all(ip_lookups), join_all(domain_lookups));
        a.into_iter().chain(b).flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_reverse_the_address() {
        assert_eq!(
            query_name("192.0.2.99".parse().unwrap(), "bl.example"),
            "99.2.0.192.bl.example"
        );
        let v6 = query_name("2001:db8::1".parse().unwrap(), "bl.example");
        assert!(v6.starts_with("1.0.0.0.0.0.0.0"), "{v6}");
        assert!(v6.ends_with("8.b.d.0.1.0.0.2.bl.example"), "{v6}");
        assert_eq!(v6.split('.').count(), 32 + 2);
    }

    #[test]
    fn only_loopback_answers_are_listings() {
        let found = |ip: &str| Answer::Found(vec![ip.parse().unwrap()]);
        assert!(listing(&found("127.0.0.2")).is_some());
        assert!(listing(&found("127.255.255.254")).is_none());
        assert!(listing(&found("10.0.0.1")).is_none());
        assert!(listing(&Answer::Missing).is_none());
    }
}
