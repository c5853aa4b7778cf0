//! Splitting an mbox file (the export format of Gmail Takeout, Thunderbird and most providers)
//! into messages. A message starts at a line beginning `From ` at the start of the file or
//! after an empty line; that separator line is not part of the message. Quoted lines
//! (`>From `, `>>From `…) lose one `>` (mboxrd); the newline before the next separator is the
//! separator's, not the message's.

/// The messages of an mbox file, in order. Bytes before the first separator are ignored.
pub fn split(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    let mut prev_blank = true;
    for line in data.split_inclusive(|b| *b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if prev_blank && line.starts_with(b"From ") {
            if let Some(mut m) = cur.take() {
                trim_separator_newline(&mut m);
                out.push(m);
            }
            cur = Some(Vec::new());
            prev_blank = false;
            continue;
        }
        prev_blank = body.is_empty();
        if let Some(m) = cur.as_mut() {
            let gt = line.iter().take_while(|b| **b == b'>').count();
            if gt > 0 && line[gt..].starts_with(b"From ") {
                m.extend_from_slice(&line[1..]);
            } else {
                m.extend_from_slice(line);
            }
        }
    }
    if let Some(mut m) = cur {
        trim_separator_newline(&mut m);
        out.push(m);
    }
    out
}

fn trim_separator_newline(m: &mut Vec<u8>) {
    if m.ends_with(b"\r\n\r\n") {
        m.truncate(m.len() - 2);
    } else if m.ends_with(b"\n\n") {
        m.truncate(m.len() - 1);
    }
}

/// Whether the bytes look like an mbox file rather than one message.
pub fn looks_like_mbox(data: &[u8]) -> bool {
    data.starts_with(b"From ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_unquotes() {
        let mbox = b"From a@x Mon Jan  1 00:00:00 2024\nSubject: one\n\nhi\n>From the start\n\nFrom b@x Mon Jan  1 00:00:00 2024\nSubject: two\n\nbye\n";
        let m = split(mbox);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], b"Subject: one\n\nhi\nFrom the start\n");
        assert_eq!(m[1], b"Subject: two\n\nbye\n");
        assert!(looks_like_mbox(mbox));
        assert!(!looks_like_mbox(b"Subject: x\n\n"));
    }

    #[test]
    fn from_inside_a_paragraph_is_content() {
        let mbox = b"From a@x\nSubject: s\n\nline\nFrom here on\n";
        let m = split(mbox);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0], b"Subject: s\n\nline\nFrom here on\n");
        assert!(split(b"").is_empty());
    }
}
