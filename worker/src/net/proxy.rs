//! The `HAProxy` PROXY protocol header, versions 1 (text) and 2 (binary), which TCP load
//! balancers send before the client's first byte so that the real client address survives.
//!
//! [`parse`] is resumable: call it with everything received so far until it answers. It does
//! no I/O and never panics. Choices where the specification leaves room:
//!
//! * v2 UDP (`0x12`, `0x22`) and `AF_UNIX` (`0x31`, `0x32`) fall back to UNSPEC mode, as the
//!   specification allows for combinations a receiver does not implement: they give
//!   [`ProxyHeader::Local`], but their length must still cover the address block.
//! * v2 family bytes other than the seven listed in the specification are refused; with the
//!   LOCAL command the family is ignored, as the specification demands.
//! * v2 TLVs are skipped unread (their length is bounded by the header's length field).
//! * v1 addresses are parsed by `std` (which refuses IPv4 octets with leading zeros); ports
//!   are decimal without sign or leading zeros.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The addresses a load balancer reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxiedAddrs {
    /// The client's address.
    pub source: SocketAddr,
    /// The address the client connected to (on the load balancer).
    pub destination: SocketAddr,
}

/// A complete, valid PROXY header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyHeader {
    /// A proxied connection with its real addresses.
    Proxied(ProxiedAddrs),
    /// v1 `UNKNOWN`, v2 `LOCAL` command or an unsupported family (`AF_UNIX`, UNSPEC, UDP): keep
    /// the TCP peer address.
    Local,
}

/// Why the bytes are not an acceptable PROXY header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyError {
    /// Not a PROXY header at all (the client spoke first, or garbage).
    NotProxy,
    /// A malformed header (bad v1 syntax, bad v2 version or command, inconsistent lengths,
    /// v1 line longer than 107 bytes, v2 header longer than [`MAX_HEADER`]).
    Invalid(&'static str),
}

/// The largest header accepted: v1 is at most 107 bytes; v2 is 16 bytes plus its length
/// field, capped here at 1,024 (longer TLV blocks are refused as [`ProxyError::Invalid`]).
pub const MAX_HEADER: usize = 16 + 1024;

/// The longest v1 line, CRLF included.
const V1_MAX: usize = 107;
/// The v2 signature.
pub const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Looks at the bytes received so far.
///
/// `Ok(None)`: more bytes are needed. `Ok(Some((header, consumed)))`: the header is complete
/// and took `consumed` bytes; the rest belong to the protocol that follows (e.g. a pipelined
/// SMTP command).
///
/// # Errors
///
/// [`ProxyError::NotProxy`] as soon as the first bytes match neither signature (usually at
/// the first byte); [`ProxyError::Invalid`] as soon as enough of a header is there to see
/// that it is wrong.
pub fn parse(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    if agrees(buf, V2_SIG) {
        v2(buf)
    } else if agrees(buf, b"PROXY") {
        v1(buf)
    } else {
        Err(ProxyError::NotProxy)
    }
}

/// Whether `buf` and `expected` agree on their common length.
fn agrees(buf: &[u8], expected: &[u8]) -> bool {
    buf.iter().zip(expected).all(|(a, b)| a == b)
}

fn invalid<T>(why: &'static str) -> Result<T, ProxyError> {
    Err(ProxyError::Invalid(why))
}

/// Version 1: `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n` or `PROXY UNKNOWN…\r\n`.
fn v1(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    // Fail early on a wrong protocol word, before the line is complete.
    let after = buf.get(5..).unwrap_or_default();
    if ![&b" TCP4 "[..], b" TCP6 ", b" UNKNOWN"]
        .iter()
        .any(|word| agrees(after, word))
    {
        return invalid("v1 protocol must be TCP4, TCP6 or UNKNOWN");
    }
    let Some(lf) = buf.iter().take(V1_MAX).position(|&b| b == b'\n') else {
        return if buf.len() >= V1_MAX {
            invalid("v1 line longer than 107 bytes")
        } else {
            Ok(None)
        };
    };
    let consumed = lf + 1;
    let Some(line) = buf.get(..lf).and_then(|l| l.strip_suffix(b"\r")) else {
        return invalid("v1 line must end in CRLF");
    };
    // Anything after UNKNOWN is to be ignored, whatever it is.
    if line == b"PROXY UNKNOWN" || line.starts_with(b"PROXY UNKNOWN ") {
        return Ok(Some((ProxyHeader::Local, consumed)));
    }
    let Ok(line) = std::str::from_utf8(line) else {
        return invalid("v1 line is not ASCII");
    };
    let fields: Vec<&str> = line.split(' ').collect();
    let ["PROXY", family @ ("TCP4" | "TCP6"), src, dst, sport, dport] = fields.as_slice() else {
        return invalid("v1 line must have six fields separated by single spaces");
    };
    let ip = |s: &str| -> Result<IpAddr, ProxyError> {
        let parsed = match *family {
            "TCP4" => s.parse::<Ipv4Addr>().map(IpAddr::V4),
            _ => s.parse::<Ipv6Addr>().map(IpAddr::V6),
        };
        parsed.map_err(|_| ProxyError::Invalid("v1 address is malformed or not of its family"))
    };
    let addrs = ProxiedAddrs {
        source: SocketAddr::new(ip(src)?, v1_port(sport)?),
        destination: SocketAddr::new(ip(dst)?, v1_port(dport)?),
    };
    Ok(Some((ProxyHeader::Proxied(addrs), consumed)))
}

/// A decimal port in 0..=65535: digits only, no sign, no leading zero.
fn v1_port(s: &str) -> Result<u16, ProxyError> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return invalid("v1 port must be a decimal number without leading zeros");
    }
    s.parse()
        .map_err(|_| ProxyError::Invalid("v1 port is above 65535"))
}

/// Version 2: signature, version/command, family/transport, big-endian length, addresses,
/// TLVs.
fn v2(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    let Some(&ver_cmd) = buf.get(12) else {
        return Ok(None);
    };
    if ver_cmd >> 4 != 2 {
        return invalid("v2 version must be 2");
    }
    let local = match ver_cmd & 0x0f {
        0 => true,
        1 => false,
        _ => return invalid("v2 command must be LOCAL or PROXY"),
    };
    let Some(&family) = buf.get(13) else {
        return Ok(None);
    };
    // The size of the address block; LOCAL ignores the family and its addresses.
    let needed = match family {
        _ if local => 0,
        0x00 => 0,
        0x11 | 0x12 => 12,
        0x21 | 0x22 => 36,
        0x31 | 0x32 => 216,
        _ => return invalid("v2 address family or transport is unknown"),
    };
    let Some(&[hi, lo]) = buf.get(14..16) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if 16 + len > MAX_HEADER {
        return invalid("v2 header longer than MAX_HEADER");
    }
    if len < needed {
        return invalid("v2 length shorter than the address block");
    }
    let consumed = 16 + len;
    let Some(block) = buf.get(16..consumed) else {
        return Ok(None);
    };
    let addrs = match family {
        0x11 if !local => v2_addrs::<4>(block),
        0x21 if !local => v2_addrs::<16>(block),
        // LOCAL, and UNSPEC mode for UNSPEC, UDP and AF_UNIX: keep the TCP peer address.
        _ => return Ok(Some((ProxyHeader::Local, consumed))),
    };
    let addrs = addrs.ok_or(ProxyError::Invalid("v2 address block too short"))?;
    Ok(Some((ProxyHeader::Proxied(addrs), consumed)))
}

/// Source and destination addresses of `N` bytes each, then the two ports.
fn v2_addrs<const N: usize>(mut block: &[u8]) -> Option<ProxiedAddrs>
where
    IpAddr: From<[u8; N]>,
{
    let src = take::<N>(&mut block)?;
    let dst = take::<N>(&mut block)?;
    let sport = u16::from_be_bytes(take(&mut block)?);
    let dport = u16::from_be_bytes(take(&mut block)?);
    Some(ProxiedAddrs {
        source: SocketAddr::new(IpAddr::from(src), sport),
        destination: SocketAddr::new(IpAddr::from(dst), dport),
    })
}

/// Splits the first `N` bytes off `bytes`.
fn take<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = bytes.split_first_chunk::<N>()?;
    *bytes = rest;
    Some(*head)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = (ProxyHeader, usize);

    /// Parses `buf` fed as every growing prefix: `Ok(None)` until the header is complete,
    /// then the same header and `consumed` for every longer prefix.
    fn replay(buf: &[u8]) -> Parsed {
        let full = parse(buf).unwrap().unwrap();
        for n in 0..=buf.len() {
            let got = parse(&buf[..n]);
            if n < full.1 {
                assert_eq!(got, Ok(None), "prefix of {n} bytes");
            } else {
                assert_eq!(got, Ok(Some(full.clone())), "prefix of {n} bytes");
            }
        }
        full
    }

    /// `buf` is refused as Invalid, and no prefix of it is accepted or called NotProxy.
    fn assert_invalid(buf: &[u8]) {
        assert!(
            matches!(parse(buf), Err(ProxyError::Invalid(_))),
            "{:?}: {:?}",
            String::from_utf8_lossy(buf),
            parse(buf)
        );
        for n in 0..buf.len() {
            let got = parse(&buf[..n]);
            assert!(
                matches!(got, Ok(None) | Err(ProxyError::Invalid(_))),
                "prefix {n} of {:?}: {got:?}",
                String::from_utf8_lossy(buf)
            );
        }
    }

    fn proxied(source: &str, destination: &str) -> ProxyHeader {
        ProxyHeader::Proxied(ProxiedAddrs {
            source: source.parse().unwrap(),
            destination: destination.parse().unwrap(),
        })
    }

    fn v2(ver_cmd: u8, family: u8, block: &[u8]) -> Vec<u8> {
        let mut v = V2_SIG.to_vec();
        v.extend([ver_cmd, family]);
        v.extend(u16::try_from(block.len()).unwrap().to_be_bytes());
        v.extend(block);
        v
    }

    fn v4_block() -> Vec<u8> {
        let mut b = vec![192, 0, 2, 1, 198, 51, 100, 2];
        b.extend(40000u16.to_be_bytes());
        b.extend(25u16.to_be_bytes());
        b
    }

    fn v6_block() -> Vec<u8> {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let mut b = src.octets().to_vec();
        b.extend(dst.octets());
        b.extend(1111u16.to_be_bytes());
        b.extend(587u16.to_be_bytes());
        b
    }

    #[test]
    fn v1_valid_forms() {
        let cases: [(&[u8], ProxyHeader); 7] = [
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n",
                proxied("1.2.3.4:1111", "5.6.7.8:2222"),
            ),
            (
                b"PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n",
                proxied("255.255.255.255:65535", "0.0.0.0:0"),
            ),
            (
                b"PROXY TCP6 2001:db8::1 ::1 40000 25\r\n",
                proxied("[2001:db8::1]:40000", "[::1]:25"),
            ),
            (
                b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff \
                  ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
                proxied(
                    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
                    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
                ),
            ),
            (b"PROXY UNKNOWN\r\n", ProxyHeader::Local),
            (
                b"PROXY UNKNOWN anything \xff at all\r\n",
                ProxyHeader::Local,
            ),
            (
                b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff \
                  ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
                ProxyHeader::Local,
            ),
        ];
        for (bytes, want) in cases {
            let (header, consumed) = replay(bytes);
            assert_eq!(header, want, "{:?}", String::from_utf8_lossy(bytes));
            assert_eq!(consumed, bytes.len());
        }
        // The worst case of the specification, exactly 107 bytes, is accepted.
        let worst = b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff \
                      ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
        assert_eq!(worst.len(), 107);
    }

    #[test]
    fn v1_leaves_what_follows() {
        let bytes = b"PROXY TCP4 192.0.2.1 198.51.100.2 40000 25\r\nEHLO x\r\nMAIL";
        let (header, consumed) = replay(bytes);
        assert_eq!(header, proxied("192.0.2.1:40000", "198.51.100.2:25"));
        assert_eq!(&bytes[consumed..], b"EHLO x\r\nMAIL");
        let (_, consumed) = replay(b"PROXY UNKNOWN\r\n\r\n");
        assert_eq!(consumed, 15);
    }

    #[test]
    fn v1_invalid() {
        let long = [&b"PROXY UNKNOWN "[..], &[b'f'; 93], b"\r\n"].concat();
        assert_eq!(long.len(), 109);
        let unterminated = [&b"PROXY TCP4 "[..], &[b'1'; 200]].concat();
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 25\r\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 25\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 25\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 025 25\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 0x19\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999999999999999999\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8  25\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 25 \r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            b"PROXY TCP4 1.2.3 5.6.7.8 1 25\r\n",
            b"PROXY TCP4 01.2.3.4 5.6.7.8 1 25\r\n",
            b"PROXY TCP4 256.2.3.4 5.6.7.8 1 25\r\n",
            b"PROXY TCP4 2001:db8::1 5.6.7.8 1 25\r\n",
            b"PROXY TCP6 1.2.3.4 ::1 1 25\r\n",
            b"PROXY TCP6 [::1] ::1 1 25\r\n",
            b"PROXY TCP6 fe80::1%eth0 ::1 1 25\r\n",
            b"PROXY TCP6 ::1 ::\xff 1 25\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 25\r\n",
            b"PROXY TCP5 1.2.3.4 5.6.7.8 1 25\r\n",
            b"PROXY tcp4 1.2.3.4 5.6.7.8 1 25\r\n",
            b"PROXY UNKNOWNX\r\n",
            b"PROXY UNKNOWNX 1.2.3.4 5.6.7.8 1 25\r\n",
            b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 25\r\n",
            b"PROXYTCP4 1.2.3.4 5.6.7.8 1 25\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 25\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 25\r\r\n",
            b"PROXY TCP4 1.2.3.4\r5.6.7.8 1 25\r\n",
            b"PROXY \r\n",
            &long,
            &unterminated,
        ] {
            assert_invalid(bad);
        }
        // The line limit is seen without waiting for more.
        assert!(matches!(
            parse(&unterminated[..107]),
            Err(ProxyError::Invalid(_))
        ));
        assert_eq!(parse(&unterminated[..106]), Ok(None));
        // A wrong protocol word is seen at once.
        assert!(matches!(parse(b"PROXY X"), Err(ProxyError::Invalid(_))));
    }

    #[test]
    fn v2_valid_forms() {
        let mut tlvs = v4_block();
        tlvs.extend([0x04, 0, 3, 0, 0, 0]); // NOOP
        tlvs.extend([0x02, 0, 4]); // AUTHORITY
        tlvs.extend(b"mx.a");
        let mut padded = v4_block();
        padded.resize(1024, 0xaa);
        let cases = [
            (
                v2(0x21, 0x11, &v4_block()),
                proxied("192.0.2.1:40000", "198.51.100.2:25"),
            ),
            (
                v2(0x21, 0x11, &tlvs),
                proxied("192.0.2.1:40000", "198.51.100.2:25"),
            ),
            (
                v2(0x21, 0x11, &padded),
                proxied("192.0.2.1:40000", "198.51.100.2:25"),
            ),
            (
                v2(0x21, 0x21, &v6_block()),
                proxied("[2001:db8::1]:1111", "[2001:db8::2]:587"),
            ),
            (v2(0x20, 0x00, &[]), ProxyHeader::Local),
            (v2(0x20, 0x11, &v4_block()), ProxyHeader::Local),
            (v2(0x20, 0x21, &[1, 2, 3]), ProxyHeader::Local),
            (v2(0x20, 0xff, &[]), ProxyHeader::Local),
            (v2(0x21, 0x00, &[]), ProxyHeader::Local),
            (v2(0x21, 0x00, &[9; 7]), ProxyHeader::Local),
            (v2(0x21, 0x12, &v4_block()), ProxyHeader::Local),
            (v2(0x21, 0x22, &v6_block()), ProxyHeader::Local),
            (v2(0x21, 0x31, &[b'/'; 216]), ProxyHeader::Local),
            (v2(0x21, 0x32, &[0; 300]), ProxyHeader::Local),
        ];
        for (bytes, want) in cases {
            let (header, consumed) = replay(&bytes);
            assert_eq!(header, want, "{bytes:?}");
            assert_eq!(consumed, bytes.len());
        }
        assert_eq!(v2(0x21, 0x11, &padded).len(), MAX_HEADER);
    }

    #[test]
    fn v2_leaves_what_follows() {
        let mut bytes = v2(0x21, 0x21, &v6_block());
        bytes.extend(b"EHLO x\r\n");
        let (_, consumed) = replay(&bytes);
        assert_eq!(consumed, 16 + 36);
        assert_eq!(&bytes[consumed..], b"EHLO x\r\n");
        // A LOCAL header's addresses are skipped by its length, not assumed empty.
        let mut bytes = v2(0x20, 0x11, &v4_block());
        bytes.extend(b"QUIT\r\n");
        assert_eq!(replay(&bytes).1, 28);
    }

    #[test]
    fn v2_invalid() {
        let mut over = V2_SIG.to_vec();
        over.extend([0x21, 0x11, 0x04, 0x01]); // 1025
        let mut max = V2_SIG.to_vec();
        max.extend([0x21, 0x11, 0xff, 0xff]);
        for bad in [
            v2(0x11, 0x11, &v4_block()),
            v2(0x31, 0x11, &v4_block()),
            v2(0x01, 0x11, &v4_block()),
            v2(0xf1, 0x11, &v4_block()),
            v2(0x22, 0x11, &v4_block()),
            v2(0x2f, 0x11, &v4_block()),
            v2(0x21, 0x13, &v4_block()),
            v2(0x21, 0x41, &v4_block()),
            v2(0x21, 0x01, &v4_block()),
            v2(0x21, 0x10, &v4_block()),
            v2(0x21, 0x11, &[]),
            v2(0x21, 0x11, &v4_block()[..11]),
            v2(0x21, 0x21, &v4_block()),
            v2(0x21, 0x21, &v6_block()[..35]),
            v2(0x21, 0x22, &v6_block()[..35]),
            v2(0x21, 0x31, &[0; 215]),
            over.clone(),
            max.clone(),
        ] {
            assert_invalid(&bad);
        }
        // Decided from the fixed 16 bytes, without waiting for the rest.
        assert!(matches!(parse(&over), Err(ProxyError::Invalid(_))));
        assert!(matches!(parse(&max), Err(ProxyError::Invalid(_))));
        assert!(matches!(
            parse(&v2(0x21, 0x11, &v4_block()[..11])),
            Err(ProxyError::Invalid(_))
        ));
        let mut early = V2_SIG.to_vec();
        early.push(0x11);
        assert!(matches!(parse(&early), Err(ProxyError::Invalid(_))));
    }

    #[test]
    fn a_client_that_speaks_first_is_no_proxy() {
        for n in 1..=8 {
            assert_eq!(parse(&b"EHLO x\r\n"[..n]), Err(ProxyError::NotProxy));
        }
        for other in [
            &b"HELO"[..],
            b"proxy TCP4",
            b"PROXIED",
            b"\x16\x03\x01",
            b"\r\n\r\n\0\r\nQUIX",
            b"\r\nEHLO",
            b"GET / HTTP/1.1\r\n",
        ] {
            assert_eq!(parse(other), Err(ProxyError::NotProxy), "{other:?}");
        }
        assert_eq!(parse(b""), Ok(None));
        assert_eq!(parse(b"PRO"), Ok(None));
        assert_eq!(parse(b"\r\n\r\n\0"), Ok(None));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let v1_chars = b"0123456789abcdefABCDEF.: \r\nTCP46UNKOW";
        let mut ok = 0;
        for i in 0..200_000u32 {
            let len = usize::try_from(next() % 160).unwrap();
            let mut buf: Vec<u8> = match i % 5 {
                0 => Vec::new(),
                1 => V2_SIG.to_vec(),
                2 => {
                    let mut v = V2_SIG.to_vec();
                    v.extend([
                        0x20 | (next() as u8 & 1),
                        [0x00, 0x11, 0x21, 0x31][i as usize / 5 % 4],
                    ]);
                    v.extend([0, (next() % 64) as u8]);
                    v
                }
                3 => b"PROXY TCP4 ".to_vec(),
                _ => b"PROXY TCP6 ".to_vec(),
            };
            for _ in 0..len {
                let r = next();
                buf.push(if i % 5 >= 3 {
                    v1_chars[r as usize % v1_chars.len()]
                } else {
                    r as u8
                });
            }
            if let Ok(Some((_, consumed))) = parse(&buf) {
                assert!(consumed > 0 && consumed <= buf.len() && consumed <= MAX_HEADER);
                ok += 1;
            }
        }
        // The structured generator does reach complete headers.
        assert!(ok > 1000, "{ok}");
    }
}
