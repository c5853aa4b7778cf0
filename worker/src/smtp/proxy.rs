//! The PROXY protocol header (HAProxy, versions 1 and 2) that TCP load balancers put before
//! the client's first byte, so the real client address survives. Resumable: call [`parse`]
//! with everything received so far. No I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The addresses the load balancer reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxiedAddrs {
    /// The client.
    pub source: SocketAddr,
    /// The address the client connected to.
    pub destination: SocketAddr,
}

/// A complete header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyHeader {
    /// A proxied connection.
    Proxied(ProxiedAddrs),
    /// v1 `UNKNOWN`, v2 `LOCAL` (health checks) or a family other than TCP over IP: keep the
    /// TCP peer's address.
    Local,
}

/// Why the bytes are no PROXY header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyError {
    /// Not a PROXY header at all.
    NotProxy,
    /// A malformed header.
    Invalid(&'static str),
}

/// The largest header accepted (v2 with up to 1,024 bytes of addresses and TLVs).
pub const MAX_HEADER: usize = 16 + 1024;
const V1_MAX: usize = 107;
const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Looks at the bytes so far: `Ok(None)` needs more; `Ok(Some((header, used)))` is complete
/// and took `used` bytes (the rest belong to the protocol that follows).
pub fn parse(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let n = buf.len().min(V2_SIG.len());
    if buf[..n] == V2_SIG[..n] {
        return if buf.len() < V2_SIG.len() {
            Ok(None)
        } else {
            v2(buf)
        };
    }
    let n = buf.len().min(6);
    if buf[..n] == b"PROXY "[..n] {
        return if buf.len() < 6 { Ok(None) } else { v1(buf) };
    }
    Err(ProxyError::NotProxy)
}

fn v1(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let Some(lf) = buf.iter().take(V1_MAX).position(|b| *b == b'\n') else {
        return if buf.len() >= V1_MAX {
            Err(ProxyError::Invalid("v1 header longer than 107 bytes"))
        } else {
            Ok(None)
        };
    };
    let line = buf
        .get(..lf)
        .and_then(|l| l.strip_suffix(b"\r"))
        .ok_or(ProxyError::Invalid("v1 header must end in CRLF"))?;
    let line = std::str::from_utf8(line).map_err(|_| ProxyError::Invalid("v1 header not ASCII"))?;
    let f: Vec<&str> = line.split(' ').collect();
    let header = match f.as_slice() {
        ["PROXY", "UNKNOWN", ..] => ProxyHeader::Local,
        ["PROXY", fam @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let ip = |s: &str| -> Result<IpAddr, ProxyError> {
                let ip: IpAddr = s
                    .parse()
                    .map_err(|_| ProxyError::Invalid("bad v1 address"))?;
                if ip.is_ipv4() != (*fam == "TCP4") {
                    return Err(ProxyError::Invalid("v1 address does not match its family"));
                }
                Ok(ip)
            };
            let port = |s: &str| -> Result<u16, ProxyError> {
                if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ProxyError::Invalid("bad v1 port"));
                }
                s.parse().map_err(|_| ProxyError::Invalid("bad v1 port"))
            };
            ProxyHeader::Proxied(ProxiedAddrs {
                source: SocketAddr::new(ip(src)?, port(sport)?),
                destination: SocketAddr::new(ip(dst)?, port(dport)?),
            })
        }
        _ => return Err(ProxyError::Invalid("bad v1 header")),
    };
    Ok(Some((header, lf + 1)))
}

fn v2(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let Some(head) = buf.get(12..16) else {
        return Ok(None);
    };
    let (ver_cmd, fam, len) = (
        head[0],
        head[1],
        usize::from(u16::from_be_bytes([head[2], head[3]])),
    );
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::Invalid("v2 version must be 2"));
    }
    let cmd = ver_cmd & 0x0f;
    if cmd > 1 {
        return Err(ProxyError::Invalid("v2 command must be LOCAL or PROXY"));
    }
    if 16 + len > MAX_HEADER {
        return Err(ProxyError::Invalid("v2 header too long"));
    }
    let Some(body) = buf.get(16..16 + len) else {
        return Ok(None);
    };
    let used = 16 + len;
    if cmd == 0 {
        return Ok(Some((ProxyHeader::Local, used)));
    }
    let header = match fam {
        0x11 => {
            let a = body
                .get(..12)
                .ok_or(ProxyError::Invalid("v2 IPv4 block too short"))?;
            let ip = |o: usize| IpAddr::V4(Ipv4Addr::new(a[o], a[o + 1], a[o + 2], a[o + 3]));
            let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
            ProxyHeader::Proxied(ProxiedAddrs {
                source: SocketAddr::new(ip(0), port(8)),
                destination: SocketAddr::new(ip(4), port(10)),
            })
        }
        0x21 => {
            let a = body
                .get(..36)
                .ok_or(ProxyError::Invalid("v2 IPv6 block too short"))?;
            let ip = |o: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&a[o..o + 16]);
                IpAddr::V6(Ipv6Addr::from(b))
            };
            let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
            ProxyHeader::Proxied(ProxiedAddrs {
                source: SocketAddr::new(ip(0), port(32)),
                destination: SocketAddr::new(ip(16), port(34)),
            })
        }
        // UNSPEC, UDP and AF_UNIX: nothing usable as a TCP client address.
        0x00 | 0x12 | 0x22 | 0x31 | 0x32 => ProxyHeader::Local,
        _ => return Err(ProxyError::Invalid("v2 unknown address family")),
    };
    Ok(Some((header, used)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
        // Every prefix short of the end needs more (or fails the same way).
        let full = parse(buf);
        for n in 0..buf.len() {
            match parse(&buf[..n]) {
                Ok(None) => {}
                other => {
                    if full.as_ref().is_ok_and(|f| f.is_some()) {
                        assert!(
                            other
                                .as_ref()
                                .is_ok_and(|o| o.as_ref().map(|x| x.1) <= Some(n)),
                            "prefix {n}: {other:?}"
                        );
                    }
                }
            }
        }
        full
    }

    fn v2_header(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
        let mut v = V2_SIG.to_vec();
        v.push(0x20 | cmd);
        v.push(fam);
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn v1_forms() {
        let b = b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 25\r\nEHLO x\r\n";
        let (h, used) = whole(b).unwrap().unwrap();
        assert_eq!(&b[used..], b"EHLO x\r\n");
        assert_eq!(
            h,
            ProxyHeader::Proxied(ProxiedAddrs {
                source: "192.0.2.1:40000".parse().unwrap(),
                destination: "198.51.100.2:25".parse().unwrap()
            })
        );
        let b = b"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n";
        assert!(matches!(whole(b), Ok(Some((ProxyHeader::Proxied(_), 44)))));
        assert_eq!(
            whole(b"PROXY UNKNOWN\r\n").unwrap().unwrap().0,
            ProxyHeader::Local
        );
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 25\r\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 25\r\n",
            b"PROXY TCP4 2001:db8::1 5.6.7.8 1 25\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 25\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 25\n",
        ] {
            assert!(matches!(parse(bad), Err(ProxyError::Invalid(_))), "{bad:?}");
        }
        let long = [b"PROXY ".as_slice(), &[b'x'; 200]].concat();
        assert!(matches!(parse(&long), Err(ProxyError::Invalid(_))));
    }

    #[test]
    fn v2_forms() {
        let mut body = vec![192, 0, 2, 1, 198, 51, 100, 2];
        body.extend_from_slice(&40000u16.to_be_bytes());
        body.extend_from_slice(&25u16.to_be_bytes());
        body.extend_from_slice(&[0x04, 0, 1, 0]); // a TLV, skipped
        let mut b = v2_header(1, 0x11, &body);
        b.extend_from_slice(b"EHLO");
        let (h, used) = whole(&b).unwrap().unwrap();
        assert_eq!(&b[used..], b"EHLO");
        assert!(
            matches!(h, ProxyHeader::Proxied(a) if a.source == "192.0.2.1:40000".parse().unwrap())
        );
        let mut six = vec![0u8; 36];
        six[15] = 1;
        six[31] = 2;
        six[33] = 7;
        let (h, _) = whole(&v2_header(1, 0x21, &six)).unwrap().unwrap();
        assert!(
            matches!(h, ProxyHeader::Proxied(a) if a.source.port() == 7 && a.source.ip() == "::1".parse::<IpAddr>().unwrap())
        );
        assert_eq!(
            whole(&v2_header(0, 0x11, &body)).unwrap().unwrap().0,
            ProxyHeader::Local
        );
        assert_eq!(
            whole(&v2_header(1, 0x31, &[0; 216])).unwrap().unwrap().0,
            ProxyHeader::Local
        );
        let mut bad = v2_header(1, 0x11, &body);
        bad[12] = 0x11;
        assert!(matches!(parse(&bad), Err(ProxyError::Invalid(_))));
        assert!(matches!(
            parse(&v2_header(2, 0x11, &body)),
            Err(ProxyError::Invalid(_))
        ));
        assert!(matches!(
            parse(&v2_header(1, 0x11, &[1, 2, 3])),
            Err(ProxyError::Invalid(_))
        ));
        let mut over = V2_SIG.to_vec();
        over.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert!(matches!(parse(&over), Err(ProxyError::Invalid(_))));
    }

    #[test]
    fn a_client_that_speaks_first_is_no_proxy() {
        assert_eq!(parse(b"EHLO x\r\n"), Err(ProxyError::NotProxy));
        assert_eq!(parse(b"E"), Err(ProxyError::NotProxy));
        assert_eq!(parse(b""), Ok(None));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..200_000 {
            let len = (next() % 64) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if i % 2 == 0 {
                let mut v = V2_SIG.to_vec();
                v.push(0x21);
                v.append(&mut b);
                b = v;
            } else if i % 3 == 0 {
                let mut v = b"PROXY TCP4 ".to_vec();
                v.append(&mut b);
                b = v;
            }
            let _ = parse(&b);
        }
    }
}
