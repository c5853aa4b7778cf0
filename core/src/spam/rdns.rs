//! Reverse DNS of the client: a mail server is expected to have a PTR name that resolves back
//! to its address (forward-confirmed reverse DNS), and not one that reads like a home or
//! dynamic connection. Each miss adds a small score; a lookup that could not be answered adds
//! nothing.

use super::Symbol;
use crate::dns::{Answer, Dns};
use std::net::IpAddr;

/// No PTR record.
pub const RDNS_NONE_SCORE: f64 = 1.5;
/// The PTR name does not resolve back to the address.
pub const RDNS_NOT_CONFIRMED_SCORE: f64 = 1.0;
/// The PTR name reads like a dynamic or home address.
pub const RDNS_DYNAMIC_SCORE: f64 = 1.0;
/// PTR names checked at most for forward confirmation.
const MAX_NAMES: usize = 3;

/// Words of PTR names given to home and dynamic connections.
const DYNAMIC_WORDS: [&str; 12] = [
    "dynamic",
    "dyn",
    "dhcp",
    "pool",
    "ppp",
    "dsl",
    "adsl",
    "cable",
    "dialup",
    "broadband",
    "cpe",
    "customer",
];

/// Which clients are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Public addresses only (loopback, private and link-local ones are internal).
    Public,
    /// Every address (tests, and networks whose internal relays have PTR records).
    All,
}

/// The reverse-DNS check.
pub struct ReverseDns {
    dns: Dns,
    scope: Scope,
}

/// Whether `ip` is an address of the public Internet (not loopback, private, link-local,
/// unique-local or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Whether `name` reads like a name given to a dynamic or home address `ip`: it holds the
/// address's four numbers (in either order) or its hex form, or a word such as `dynamic`,
/// `dhcp` or `dsl` in a label other than the last two.
pub fn looks_dynamic(name: &str, ip: IpAddr) -> bool {
    let name = name.to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    let host_part = &labels[..labels.len().saturating_sub(2)];
    if host_part.iter().any(|l| {
        l.split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| DYNAMIC_WORDS.contains(&w))
    }) {
        return true;
    }
    if let IpAddr::V4(v4) = ip {
        let o = v4.octets();
        let hex = format!("{:02x}{:02x}{:02x}{:02x}", o[0], o[1], o[2], o[3]);
        if host_part.iter().any(|l| l.contains(&hex)) {
            return true;
        }
        let mut numbers: Vec<u8> = host_part
            .iter()
            .flat_map(|l| l.split(|c: char| !c.is_ascii_digit()))
            .filter_map(|n| n.parse::<u8>().ok())
            .collect();
        let mut want = o.to_vec();
        want.sort_unstable();
        numbers.sort_unstable();
        // Every octet present (each as often as it occurs in the address).
        let mut i = 0;
        for n in numbers {
            if i < want.len() && n == want[i] {
                i += 1;
            }
        }
        return i == want.len();
    }
    false
}

impl ReverseDns {
    /// Checking `scope`'s clients through `dns`.
    pub fn new(dns: Dns, scope: Scope) -> Self {
        Self { dns, scope }
    }

    /// The symbols for a client at `ip`.
    pub async fn check(&self, ip: IpAddr) -> Vec<Symbol> {
        if self.scope == Scope::Public && !is_public(ip) {
            return Vec::new();
        }
        let names = match self.dns.ptr(ip).await {
            Answer::Found(n) => n,
            Answer::Missing => {
                return vec![Symbol {
                    name: "RDNS_NONE".into(),
                    score: RDNS_NONE_SCORE,
                    detail: format!("{ip} has no reverse DNS (PTR) name"),
                }];
            }
            Answer::Failed(_) => return Vec::new(),
        };
        let mut out = Vec::new();
        let mut confirmed = false;
        let mut unsure = false;
        for n in names.iter().take(MAX_NAMES) {
            match self.dns.addresses(n).await {
                Answer::Found(ips) if ips.contains(&ip) => {
                    confirmed = true;
                    break;
                }
                Answer::Failed(_) => unsure = true,
                _ => {}
            }
        }
        let first = names.first().map(String::as_str).unwrap_or_default();
        if !confirmed && !unsure {
            out.push(Symbol {
                name: "RDNS_NOT_CONFIRMED".into(),
                score: RDNS_NOT_CONFIRMED_SCORE,
                detail: format!("{ip} is named {first}, which does not resolve back to it"),
            });
        }
        if names.iter().any(|n| looks_dynamic(n, ip)) {
            out.push(Symbol {
                name: "RDNS_DYNAMIC".into(),
                score: RDNS_DYNAMIC_SCORE,
                detail: format!("{ip} is named {first}, a name of a home or dynamic address"),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_names_are_told_from_server_names() {
        let ip: IpAddr = "203.0.113.45".parse().unwrap();
        for dynamic in [
            "203-0-113-45.dsl.isp.example",
            "45.113.0.203.broadband.example.net",
            "host-cb00712d.isp.example",
            "ppp-12.pool.isp.example",
            "cpe-xyz.cable.example.com",
        ] {
            assert!(looks_dynamic(dynamic, ip), "{dynamic}");
        }
        for server in [
            "mail.example.com",
            "mx1.mail.isp.example",
            "o45.sendgrid.example",
            "mail-ed1-f45.google.example",
            // The words only count left of the registered domain.
            "mx.dynamic.example",
        ] {
            assert!(!looks_dynamic(server, ip), "{server}");
        }
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["203.0.113.9", "8.8.8.8", "2001:db8::1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
