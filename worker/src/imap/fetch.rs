//! FETCH data items from a stored message: flags and sizes from the row, BODYSTRUCTURE and
//! section boundaries from the parse-once summary, bytes from the stored message. Nothing is
//! parsed again except a header block, for ENVELOPE and `HEADER.FIELDS`.

use mailroom_core::mail::summary::{Part, Summary};
use mailroom_core::store::FetchRow;
use mailroom_core::store::IndexEntry;
use mailroom_proto::imap::binary::Encoding;
use mailroom_proto::imap::envelope::{envelope, fields, header_fields};
use mailroom_proto::imap::fetch::{Attribute, Section, SectionText};
use mailroom_proto::imap::response::{self, BodyPart};

use super::selected::write_flags;

/// Whether answering `items` for a message with this summary needs the message's bytes.
/// ENVELOPE, BODY and BODYSTRUCTURE do not when the summary keeps the header fields they read
/// (summaries made at delivery do; older ones may not).
pub fn needs_raw(items: &[Attribute], summary: Option<&Summary>) -> bool {
    always_raw(items)
        || items.iter().any(|a| match a {
            Attribute::Envelope => summary.is_none_or(|s| message_head(s).is_none()),
            Attribute::BodyStructure | Attribute::Body => {
                summary.is_none_or(|s| !all_heads(&s.body))
            }
            _ => false,
        })
}

/// The message header's kept fields: the top-level part's, whose header is the message's.
fn message_head(s: &Summary) -> Option<&str> {
    (s.body.header_start == 0 && s.body.body_start == s.header_size)
        .then_some(s.body.head.as_deref())
        .flatten()
}

/// Whether every part of the tree keeps its head.
fn all_heads(top: &Part) -> bool {
    let mut stack = vec![top];
    while let Some(p) = stack.pop() {
        if p.head.is_none() {
            return false;
        }
        stack.extend(p.children.iter());
    }
    true
}

/// Whether answering `items` reads the message's bytes whatever its summary keeps (they are
/// then read with the row, in the same query).
pub fn always_raw(items: &[Attribute]) -> bool {
    items.iter().any(|a| {
        matches!(
            a,
            Attribute::Rfc822
                | Attribute::Rfc822Header
                | Attribute::Rfc822Text
                | Attribute::BodySection { .. }
                | Attribute::Binary { .. }
                | Attribute::BinarySize(_)
        )
    })
}

/// Whether answering `items` reads the summary (structure, kept header fields): FLAGS, UID,
/// MODSEQ, INTERNALDATE and RFC822.SIZE do not, and a client syncing a folder asks for little
/// else, so the summary is not decoded for them.
pub fn needs_summary(items: &[Attribute]) -> bool {
    items.iter().any(|a| {
        !matches!(
            a,
            Attribute::Flags
                | Attribute::Uid
                | Attribute::ModSeq
                | Attribute::InternalDate
                | Attribute::Rfc822Size
        )
    })
}

/// Whether answering `items` reads the row (sizes, dates, summary).
pub fn needs_row(items: &[Attribute]) -> bool {
    items
        .iter()
        .any(|a| !matches!(a, Attribute::Flags | Attribute::Uid | Attribute::ModSeq))
}

/// Whether an item sets `\Seen` (a non-PEEK body fetch).
pub fn sets_seen(items: &[Attribute]) -> bool {
    items.iter().any(|a| match a {
        Attribute::Rfc822 | Attribute::Rfc822Text => true,
        Attribute::BodySection { peek, .. } | Attribute::Binary { peek, .. } => !peek,
        _ => false,
    })
}

/// One message's data for a FETCH response.
pub struct Message<'a> {
    /// The index entry (flags as they are now).
    pub entry: &'a IndexEntry,
    /// `\Recent` in this session.
    pub recent: bool,
    /// The row, when read.
    pub row: Option<&'a FetchRow>,
    /// The summary, when read.
    pub summary: Option<&'a Summary>,
    /// The stored bytes, when read.
    pub raw: Option<&'a [u8]>,
}

impl Message<'_> {
    fn prefix(&self) -> usize {
        self.row.map_or(0, |r| r.trace_prefix_len)
    }

    fn raw(&self) -> &[u8] {
        self.raw.unwrap_or(&[])
    }

    /// Bytes `from..to` of the body as the summary counts them (after our trace fields).
    fn span(&self, from: u64, to: u64) -> &[u8] {
        let raw = self.raw();
        let p = self.prefix();
        let a = (p + from as usize).min(raw.len());
        let b = (p + to as usize).min(raw.len()).max(a);
        &raw[a..b]
    }

    /// The top-level header block (our trace fields included: they are part of the message).
    /// The header block's fields for ENVELOPE: kept in the summary, or from the bytes.
    fn envelope_header(&self) -> &[u8] {
        match self.summary.and_then(message_head) {
            Some(head) => head.as_bytes(),
            None => self.header(),
        }
    }

    /// A part's header for BODYSTRUCTURE: its kept fields, or from the bytes.
    fn part_header<'p>(&'p self, p: &'p Part) -> &'p [u8] {
        match p.head.as_deref() {
            Some(head) => head.as_bytes(),
            None => self.span(p.header_start, p.body_start),
        }
    }

    fn header(&self) -> &[u8] {
        let hs = self.summary.map_or(0, |s| s.header_size);
        let raw = self.raw();
        &raw[..(self.prefix() + hs as usize).min(raw.len())]
    }
}

/// Appends one `* seq FETCH (…)` response. `uid_always`: a UID FETCH (UID is included even
/// when not asked); `modseq`: CONDSTORE is on, so MODSEQ is included. On an error, what was
/// appended for this message is left partial: the caller drops it.
pub fn write(
    out: &mut Vec<u8>,
    seq: usize,
    m: &Message<'_>,
    items: &[Attribute],
    uid_always: bool,
    modseq: bool,
    utf8: bool,
) -> Result<(), UnknownCte> {
    out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b' ');
        }
        first = false;
    };
    if uid_always && !items.contains(&Attribute::Uid) {
        sep(out);
        out.extend_from_slice(format!("UID {}", m.entry.uid).as_bytes());
    }
    for item in items {
        sep(out);
        match item {
            Attribute::Uid => out.extend_from_slice(format!("UID {}", m.entry.uid).as_bytes()),
            Attribute::Flags => {
                out.extend_from_slice(b"FLAGS ");
                write_flags(out, m.entry, m.recent);
            }
            Attribute::ModSeq => {
                out.extend_from_slice(format!("MODSEQ ({})", m.entry.modseq).as_bytes())
            }
            Attribute::InternalDate => {
                let d = m.row.map(|r| r.internal_date).unwrap_or_default();
                out.extend_from_slice(
                    format!("INTERNALDATE \"{}\"", d.format("%d-%b-%Y %H:%M:%S +0000")).as_bytes(),
                );
            }
            Attribute::Rfc822Size => {
                let n = m.row.map_or(0, |r| r.size);
                out.extend_from_slice(format!("RFC822.SIZE {n}").as_bytes());
            }
            Attribute::Envelope => {
                out.extend_from_slice(b"ENVELOPE ");
                envelope(m.envelope_header()).write(out, utf8);
            }
            Attribute::BodyStructure | Attribute::Body => {
                let extended = matches!(item, Attribute::BodyStructure);
                out.extend_from_slice(if extended {
                    b"BODYSTRUCTURE "
                } else {
                    b"BODY "
                });
                match m.summary {
                    Some(s) => body_part(m, &s.body).write(out, extended, utf8),
                    None => BodyPart {
                        media_type: "text".into(),
                        subtype: "plain".into(),
                        ..Default::default()
                    }
                    .write(out, extended, utf8),
                }
            }
            Attribute::Rfc822 => {
                out.extend_from_slice(b"RFC822 ");
                response::literal(out, m.raw());
            }
            Attribute::Rfc822Header => {
                out.extend_from_slice(b"RFC822.HEADER ");
                response::literal(out, m.header());
            }
            Attribute::Rfc822Text => {
                out.extend_from_slice(b"RFC822.TEXT ");
                let h = m.header().len();
                response::literal(out, &m.raw()[h..]);
            }
            Attribute::BodySection {
                section, partial, ..
            } => {
                out.extend_from_slice(b"BODY[");
                out.extend_from_slice(section_name(section).as_bytes());
                out.push(b']');
                let bytes = section_bytes(m, section);
                match partial {
                    Some((start, count)) => {
                        out.extend_from_slice(format!("<{start}> ").as_bytes());
                        let a = (*start as usize).min(bytes.len());
                        let b = a.saturating_add(*count as usize).min(bytes.len());
                        response::literal(out, &bytes[a..b]);
                    }
                    None => {
                        out.push(b' ');
                        response::literal(out, &bytes);
                    }
                }
            }
            Attribute::Binary { part, partial, .. } => {
                let bytes = binary_bytes(m, part)?;
                out.extend_from_slice(format!("BINARY[{}]", part_name(part)).as_bytes());
                let bytes = match partial {
                    Some((start, count)) => {
                        out.extend_from_slice(format!("<{start}> ").as_bytes());
                        let a = (*start as usize).min(bytes.len());
                        let b = a.saturating_add(*count as usize).min(bytes.len());
                        &bytes[a..b]
                    }
                    None => {
                        out.push(b' ');
                        &bytes[..]
                    }
                };
                // NUL only travels in a literal8 (RFC 3516 §4.3).
                if bytes.contains(&0) {
                    response::literal8(out, bytes);
                } else {
                    response::literal(out, bytes);
                }
            }
            Attribute::BinarySize(part) => {
                let n = binary_bytes(m, part)?.len();
                out.extend_from_slice(format!("BINARY.SIZE[{}] {n}", part_name(part)).as_bytes());
            }
        }
    }
    if modseq && !items.contains(&Attribute::ModSeq) {
        sep(out);
        out.extend_from_slice(format!("MODSEQ ({})", m.entry.modseq).as_bytes());
    }
    out.extend_from_slice(b")\r\n");
    Ok(())
}

/// A part the server cannot decode for BINARY: the client is told `NO [UNKNOWN-CTE]`.
#[derive(Debug)]
pub struct UnknownCte(pub String);

fn part_name(part: &[u32]) -> String {
    part.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// The part found by its number (a one-part message's body is part 1).
fn find_part<'s>(summary: &'s Summary, id: &str) -> Option<&'s Part> {
    summary.part(id).or_else(|| {
        (id == "1" && summary.body.part_id.is_empty())
            .then_some(&summary.body)
            .filter(|p| p.children.is_empty())
    })
}

/// The parts a FETCH asks for with `BINARY[…]` (not `.PEEK`: the items that set `\Seen`).
pub fn binary_parts(items: &[Attribute]) -> Vec<Vec<u32>> {
    items
        .iter()
        .filter_map(|a| match a {
            Attribute::Binary {
                part, peek: false, ..
            } => Some(part.clone()),
            _ => None,
        })
        .collect()
}

/// The first of `parts` whose transfer encoding BINARY cannot undo in this message.
pub fn undecodable(summary: &Summary, parts: &[Vec<u32>]) -> Option<UnknownCte> {
    parts.iter().filter(|p| !p.is_empty()).find_map(|p| {
        let part = find_part(summary, &part_name(p)).filter(|x| x.children.is_empty())?;
        leaf_encoding(part).err()
    })
}

/// The transfer encoding of a leaf part, when BINARY can undo it.
fn leaf_encoding(part: &Part) -> Result<Encoding, UnknownCte> {
    Encoding::from_header(part.encoding.as_deref())
        .ok_or_else(|| UnknownCte(part.encoding.clone().unwrap_or_default()))
}

/// What `BINARY[part]` sends: the whole message for `[]`, a multipart or message part as
/// stored, a leaf part with its transfer encoding undone; empty for a part the message does
/// not have.
fn binary_bytes(m: &Message<'_>, part: &[u32]) -> Result<Vec<u8>, UnknownCte> {
    if part.is_empty() {
        return Ok(m.raw().to_vec());
    }
    let Some(p) = m.summary.and_then(|s| find_part(s, &part_name(part))) else {
        return Ok(Vec::new());
    };
    let body = m.span(p.body_start, p.end);
    if !p.children.is_empty() {
        return Ok(body.to_vec());
    }
    Ok(leaf_encoding(p)?.decode(body))
}

/// The section as the response names it (`1.2.HEADER.FIELDS (FROM TO)`).
fn section_name(s: &Section) -> String {
    let mut parts: Vec<String> = s.part.iter().map(|n| n.to_string()).collect();
    match &s.text {
        None => {}
        Some(SectionText::Header) => parts.push("HEADER".into()),
        Some(SectionText::Text) => parts.push("TEXT".into()),
        Some(SectionText::Mime) => parts.push("MIME".into()),
        Some(SectionText::HeaderFields(f)) => {
            parts.push(format!("HEADER.FIELDS ({})", f.join(" ")))
        }
        Some(SectionText::HeaderFieldsNot(f)) => {
            parts.push(format!("HEADER.FIELDS.NOT ({})", f.join(" ")))
        }
    }
    parts.join(".")
}

/// The bytes a section names; empty for a part the message does not have.
fn section_bytes(m: &Message<'_>, s: &Section) -> Vec<u8> {
    let Some(summary) = m.summary else {
        return Vec::new();
    };
    if s.part.is_empty() {
        let header = m.header();
        return match &s.text {
            None => m.raw().to_vec(),
            Some(SectionText::Header) => header.to_vec(),
            Some(SectionText::Text) => m.raw()[header.len()..].to_vec(),
            Some(SectionText::HeaderFields(f)) => header_fields(header, f, true).0,
            Some(SectionText::HeaderFieldsNot(f)) => header_fields(header, f, false).0,
            Some(SectionText::Mime) => Vec::new(),
        };
    }
    // A one-part message's body is part 1; its MIME header is the message header.
    let Some(part) = find_part(summary, &part_name(&s.part)) else {
        return Vec::new();
    };
    match &s.text {
        None => m.span(part.body_start, part.end).to_vec(),
        Some(SectionText::Mime) => m.span(part.header_start, part.body_start).to_vec(),
        Some(text) => {
            // HEADER and TEXT of a part are those of the message it holds.
            let Some(inner) = part
                .children
                .first()
                .filter(|_| part.content_type == "message")
            else {
                return Vec::new();
            };
            let header = m.span(inner.header_start, inner.body_start);
            match text {
                SectionText::Header => header.to_vec(),
                // The enclosed message's text runs to the end of the part (a multipart's
                // epilogue included).
                SectionText::Text => m.span(inner.body_start, part.end).to_vec(),
                SectionText::HeaderFields(f) => header_fields(header, f, true).0,
                SectionText::HeaderFieldsNot(f) => header_fields(header, f, false).0,
                SectionText::Mime => Vec::new(),
            }
        }
    }
}

/// BODYSTRUCTURE of a summary part.
fn body_part(m: &Message<'_>, p: &Part) -> BodyPart {
    let mut params = p.params.clone();
    if p.content_type == "text" && !params.iter().any(|(k, _)| k == "charset") {
        params.push(("charset".into(), "us-ascii".into()));
    }
    let message = p.content_type == "message" && (p.subtype == "rfc822" || p.subtype == "global");
    let envelope = message.then(|| {
        let header = p.children.first().map(|c| m.part_header(c)).unwrap_or(&[]);
        Box::new(envelope(header))
    });
    // Type, subtype and encoding in the case the message writes them (the summary keeps them
    // in lower case); anything the summary does not agree with stays the summary's.
    let header = m.part_header(p);
    let (mut media_type, mut subtype, mut encoding) = (
        p.content_type.clone(),
        p.subtype.clone(),
        p.encoding.clone(),
    );
    for (name, value) in fields(header) {
        let value = String::from_utf8_lossy(&value);
        if name.eq_ignore_ascii_case(b"content-type") {
            let kind = value.split(';').next().unwrap_or("").trim();
            if let Some((t, st)) = kind.split_once('/')
                && t.trim().eq_ignore_ascii_case(&p.content_type)
                && st.trim().eq_ignore_ascii_case(&p.subtype)
            {
                media_type = t.trim().to_string();
                subtype = st.trim().to_string();
            }
        } else if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
            let written = value.trim();
            if encoding
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(written))
            {
                encoding = Some(written.to_string());
            }
        }
    }
    BodyPart {
        media_type,
        subtype,
        params,
        id: p.content_id.as_ref().map(|c| format!("<{c}>").into_bytes()),
        description: p.description.as_ref().map(|d| d.clone().into_bytes()),
        encoding,
        size: p.size,
        lines: p.lines,
        disposition: p
            .disposition
            .as_ref()
            .map(|d| (d.clone(), p.disposition_params.clone())),
        language: p.language.clone(),
        location: p.location.as_ref().map(|l| l.clone().into_bytes()),
        children: p.children.iter().map(|c| body_part(m, c)).collect(),
        envelope,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_keep_the_named_fields_as_written() {
        let h = b"From: a@b.c\r\nSubject: one\r\n two\r\nTo: x@y.z\r\n\r\n";
        assert_eq!(
            header_fields(h, &["SUBJECT", "TO"], true).0,
            b"Subject: one\r\n two\r\nTo: x@y.z\r\n\r\n"
        );
        assert_eq!(
            header_fields(h, &["SUBJECT"], false).0,
            b"From: a@b.c\r\nTo: x@y.z\r\n\r\n"
        );
        assert_eq!(header_fields(h, &["X"], true).0, b"\r\n");
    }

    /// For every message of the MIME torture corpus (and one with a trace prefix), ENVELOPE,
    /// BODY and BODYSTRUCTURE answered from the header fields the summary keeps are the same
    /// bytes as when answered from the message, and need no bytes.
    #[test]
    fn kept_heads_answer_as_the_message_does() {
        use mailroom_core::mail::summary::summarize;
        let mut files = Vec::new();
        let mut stack = vec![
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/mime-torture"),
        ];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x != "md") {
                    files.push(p);
                }
            }
        }
        assert!(files.len() >= 190, "{} files", files.len());
        let items = [
            Attribute::Envelope,
            Attribute::Body,
            Attribute::BodyStructure,
        ];
        let entry = IndexEntry {
            id: uuid::Uuid::nil(),
            uid: 1,
            modseq: 1,
            flags: 0,
            keywords: Vec::new(),
        };
        let mut kept = 0;
        for f in &files {
            let body = std::fs::read(f).unwrap();
            let summary = summarize(&body);
            let mut bare = summary.clone();
            let mut stack = vec![&mut bare.body];
            while let Some(p) = stack.pop() {
                p.head = None;
                stack.extend(p.children.iter_mut());
            }
            assert!(needs_raw(&items, Some(&bare)));
            let answer = |s: &Summary, raw: Option<&[u8]>| {
                let mut out = Vec::new();
                let m = Message {
                    entry: &entry,
                    recent: false,
                    row: None,
                    summary: Some(s),
                    raw,
                };
                write(&mut out, 1, &m, &items, false, false, false).unwrap();
                out
            };
            let from_bytes = answer(&bare, Some(&body));
            if needs_raw(&items, Some(&summary)) {
                continue; // a header that cannot be kept (not UTF-8): read as before
            }
            kept += 1;
            assert_eq!(
                String::from_utf8_lossy(&answer(&summary, None)),
                String::from_utf8_lossy(&from_bytes),
                "{}",
                f.display()
            );
        }
        assert!(
            kept * 10 >= files.len() * 9,
            "{kept} of {} kept",
            files.len()
        );
    }
}
