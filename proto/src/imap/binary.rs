//! Content-transfer decoding for FETCH BINARY (RFC 3516): a part's bytes as its
//! `Content-Transfer-Encoding` wrote them, turned back into what was encoded. Decoding is
//! lenient the way mail readers are: stray characters in base64 are skipped and a malformed
//! quoted-printable escape is kept as written, so a damaged part still comes out.

/// The transfer encodings BINARY can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `7bit`, `8bit`, `binary` (or none given): the bytes as they are.
    Identity,
    /// `base64`.
    Base64,
    /// `quoted-printable`.
    QuotedPrintable,
}

impl Encoding {
    /// The encoding a `Content-Transfer-Encoding` value names; `None` for one the server does
    /// not know (the client is told `[UNKNOWN-CTE]`).
    pub fn from_header(value: Option<&str>) -> Option<Encoding> {
        let v = value.map(|v| v.trim().to_ascii_lowercase());
        match v.as_deref() {
            None | Some("" | "7bit" | "8bit" | "binary") => Some(Encoding::Identity),
            Some("base64") => Some(Encoding::Base64),
            Some("quoted-printable") => Some(Encoding::QuotedPrintable),
            Some(_) => None,
        }
    }

    /// `data` decoded.
    pub fn decode(self, data: &[u8]) -> Vec<u8> {
        match self {
            Encoding::Identity => data.to_vec(),
            Encoding::Base64 => base64(data),
            Encoding::QuotedPrintable => quoted_printable(data),
        }
    }
}

fn sextet(b: u8) -> Option<u32> {
    Some(u32::from(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Base64 (RFC 2045 §6.8): characters outside the alphabet are skipped; `=` ends the data.
pub fn base64(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in data {
        if b == b'=' {
            break;
        }
        let Some(v) = sextet(b) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` escapes, `=` before the line end (white space
/// allowed between) a soft break, white space at the end of a line dropped; line ends stay as
/// written.
pub fn quoted_printable(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for line in data.split_inclusive(|b| *b == b'\n') {
        let (body, end): (&[u8], &[u8]) = if let Some(b) = line.strip_suffix(b"\r\n") {
            (b, b"\r\n")
        } else if let Some(b) = line.strip_suffix(b"\n") {
            (b, b"\n")
        } else {
            (line, b"")
        };
        let body = trim_end_ws(body);
        let soft = body.last() == Some(&b'=');
        let body = if soft { &body[..body.len() - 1] } else { body };
        let mut i = 0;
        while i < body.len() {
            match (
                body[i],
                body.get(i + 1).copied().and_then(hex),
                body.get(i + 2).copied().and_then(hex),
            ) {
                (b'=', Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                (b, _, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        if !soft {
            out.extend_from_slice(end);
        }
    }
    out
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 in lines of 76 characters joined by CRLF (RFC 2045 §6.8), without a final line end.
pub fn encode_base64(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 4 / 3 + data.len() / 38 + 4);
    for (i, chunk) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.extend_from_slice(b"\r\n");
        }
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (j, b)| n | u32::from(*b) << (16 - 8 * j));
        for k in 0..4 {
            out.push(if k <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * k) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    out
}

/// A message whose leaf parts at `parts` (each `(header_start, body_start, end)`, ascending
/// and apart) are rewritten in base64: their `Content-Transfer-Encoding` fields replaced by
/// `base64` and their bodies encoded. An APPEND of binary content (RFC 3516, literal8) is
/// stored this way, so BODY[] never has to carry a NUL while BINARY[] still returns the bytes.
pub fn base64_parts(raw: &[u8], parts: &[(usize, usize, usize)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() * 4 / 3 + 64);
    let mut at = 0;
    for &(hs, bs, end) in parts {
        let (hs, bs, end) = (hs.max(at), bs.max(hs.max(at)), end.min(raw.len()));
        if bs > end {
            continue;
        }
        out.extend_from_slice(&raw[at..hs]);
        // The part's header fields without Content-Transfer-Encoding, then ours, then the
        // blank line.
        let header = &raw[hs..bs];
        let mut pos = 0;
        let mut skipping = false;
        while pos < header.len() {
            let line_end = header[pos..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(header.len(), |i| pos + i + 1);
            let line = &header[pos..line_end];
            if line == b"\r\n" || line == b"\n" {
                break;
            }
            let folded = matches!(line.first(), Some(b' ' | b'\t'));
            if !folded {
                skipping = line.len() >= 26
                    && line[..26].eq_ignore_ascii_case(b"content-transfer-encoding:");
            }
            if !skipping {
                out.extend_from_slice(line);
            }
            pos = line_end;
        }
        out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n");
        out.extend_from_slice(&header[pos..]);
        if pos >= header.len() {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(&encode_base64(&raw[bs..end]));
        if end == raw.len() {
            out.extend_from_slice(b"\r\n");
        }
        at = end;
    }
    out.extend_from_slice(&raw[at.min(raw.len())..]);
    out
}

fn trim_end_ws(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_and_skips_what_is_not_in_the_alphabet() {
        assert_eq!(base64(b"aGVsbG8g\r\nd29ybGQ=\r\n"), b"hello world");
        assert_eq!(base64(b"AP8B gA=="), [0, 255, 1, 128]);
        assert_eq!(base64(b"!!aGk"), b"hi");
        assert_eq!(base64(b""), b"");
    }

    #[test]
    fn quoted_printable_as_rfc_2045_writes_it() {
        // Trailing white space goes, soft breaks join (white space after `=` allowed), escapes
        // decode, line ends stay as written.
        let qp =
            b"hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\nfoo\t \t= \r\n=62\r\nfoo = \t\r\nbar\r\n";
        assert_eq!(
            quoted_printable(qp),
            b"hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\n"
        );
        assert_eq!(quoted_printable(b"caf=E9\ncr=e8me"), b"caf\xe9\ncr\xe8me");
        // A broken escape is kept as written.
        assert_eq!(quoted_printable(b"100=%\r\n=4"), b"100=%\r\n=4");
    }

    #[test]
    fn base64_round_trips_in_76_character_lines() {
        for n in [0, 1, 2, 3, 56, 57, 58, 200] {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 % 256) as u8).collect();
            let enc = encode_base64(&data);
            assert!(enc.split(|b| *b == b'\n').all(|l| l.len() <= 77), "{n}");
            assert_eq!(base64(&enc), data, "{n}");
        }
        assert_eq!(encode_base64(b"hi"), b"aGk=");
    }

    #[test]
    fn binary_parts_are_stored_in_base64() {
        let raw = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding:\r\n binary\r\nContent-Type: application/octet-stream\r\n\r\n\x00\xe4\n\r\n--b--\r\n";
        let text = String::from_utf8_lossy(raw);
        let hs = text.find("--b\r\n").unwrap() + 5;
        let bs = text.find("\r\n\r\n\x00").unwrap() + 4;
        let end = bs + 3;
        let out = base64_parts(raw, &[(hs, bs, end)]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAOQK\r\n--b--\r\n"
        );
    }

    #[test]
    fn encodings_by_name() {
        assert_eq!(
            Encoding::from_header(Some(" Base64 ")),
            Some(Encoding::Base64)
        );
        assert_eq!(Encoding::from_header(None), Some(Encoding::Identity));
        assert_eq!(Encoding::from_header(Some("x-uuencode")), None);
    }
}
