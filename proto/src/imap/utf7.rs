//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3; RFC 9051 keeps it for clients that have
//! not enabled UTF8=ACCEPT): printable ASCII but `&` stands for itself, `&` is `&-`, and every
//! other run of characters is its UTF-16 in base64 (with `,` for `/`, no padding) between `&`
//! and `-`.
//!
//! Decoding is strict, as the RFC asks of servers: a name that is not in its one canonical form
//! (a printable character encoded, two encoded runs back to back, leftover bits, a lone
//! surrogate, a control character) is refused, so two spellings can never name one folder.

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf7Error;

impl std::fmt::Display for Utf7Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the mailbox name is not valid modified UTF-7")
    }
}

impl std::error::Error for Utf7Error {}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c) && c != '&'
}

/// Encodes a mailbox name.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, out: &mut String| {
        if run.is_empty() {
            return;
        }
        out.push('&');
        let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let sextets = chunk.len() + 1;
            for i in 0..sextets {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            }
        }
        out.push('-');
        run.clear();
    };
    for c in name.chars() {
        if is_direct(c) {
            flush(&mut run, &mut out);
            out.push(c);
        } else if c == '&' {
            flush(&mut run, &mut out);
            out.push_str("&-");
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Decodes a mailbox name, refusing anything but the canonical form.
pub fn decode(name: &str) -> Result<String, Utf7Error> {
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    let mut after_run = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'&' {
            if !(0x20..=0x7e).contains(&b) {
                return Err(Utf7Error);
            }
            out.push(char::from(b));
            after_run = false;
            i += 1;
            continue;
        }
        let end = bytes[i + 1..]
            .iter()
            .position(|b| *b == b'-')
            .map(|p| i + 1 + p)
            .ok_or(Utf7Error)?;
        let run = &bytes[i + 1..end];
        i = end + 1;
        if run.is_empty() {
            out.push('&');
            after_run = false;
            continue;
        }
        // Two encoded runs back to back would have been one.
        if after_run {
            return Err(Utf7Error);
        }
        after_run = true;
        let mut bits: u32 = 0;
        let mut nbits = 0;
        let mut units: Vec<u16> = Vec::new();
        let mut pending: Option<u8> = None;
        for &c in run {
            let v = ALPHABET.iter().position(|a| *a == c).ok_or(Utf7Error)? as u32;
            bits = (bits << 6) | v;
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                let byte = ((bits >> nbits) & 0xff) as u8;
                match pending.take() {
                    None => pending = Some(byte),
                    Some(hi) => units.push(u16::from_be_bytes([hi, byte])),
                }
            }
        }
        // Leftover bits must be zero and fewer than six; no odd byte.
        if pending.is_some() || nbits >= 6 || bits & ((1 << nbits) - 1) != 0 {
            return Err(Utf7Error);
        }
        for c in char::decode_utf16(units.iter().copied()) {
            let c = c.map_err(|_| Utf7Error)?;
            // What could have been written directly must not be encoded.
            if is_direct(c) || c == '&' || c.is_control() {
                return Err(Utf7Error);
            }
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_round_trip() {
        for (plain, wire) in [
            ("INBOX", "INBOX"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
            ("😀 fun", "&2D3eAA- fun"),
            ("", ""),
        ] {
            assert_eq!(encode(plain), wire, "{plain}");
            assert_eq!(decode(wire).as_deref(), Ok(plain), "{wire}");
        }
    }

    #[test]
    fn non_canonical_and_broken_names_are_refused() {
        for wire in [
            "&AGE-",              // "a", which must be written directly
            "&U,BTFw-&ZeVnLIqe-", // two runs back to back
            "&U,BTF",             // unterminated
            "&U,BTFw",            // unterminated
            "&2D0-",              // a lone high surrogate
            "&U,BTFx-",           // leftover bits not zero
            "&AAk-",              // a control character (tab)
            "caf\u{e9}",          // raw 8-bit
            "a\tb",               // raw control
            "&Jjo!-",             // not in the alphabet
        ] {
            assert_eq!(decode(wire), Err(Utf7Error), "{wire:?}");
        }
    }

    #[test]
    fn every_character_class_round_trips() {
        let sample: String = (0x20u32..0x3000)
            .step_by(7)
            .chain([0x1F600, 0x10FFFF, 0xFFFD])
            .filter_map(char::from_u32)
            .filter(|c| !c.is_control())
            .collect();
        assert_eq!(decode(&encode(&sample)).as_deref(), Ok(sample.as_str()));
    }
}
