//! SEARCH over the selected folder: flags, UIDs, sequence numbers and MODSEQ from the session's
//! index; addresses, subject and dates from the parse-once summary; header fields, body and
//! text from the stored bytes (read only when a key needs them).

use super::selected::Selected;
use mailroom_core::error::Result;
use mailroom_core::mail::flags;
use mailroom_core::mail::summary::{Addr, Summary};
use mailroom_core::store::entities::messages;
use mailroom_core::store::{IndexEntry, TenantStore};
use mailroom_proto::imap::envelope::fields;
use mailroom_proto::imap::lex::SequenceSet;
use mailroom_proto::imap::search::{Date, DateCmp, Key};
use std::collections::HashMap;
use uuid::Uuid;

/// Messages whose rows are read at once.
const CHUNK: usize = 500;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Index,
    Row,
    Raw,
}

fn need(k: &Key) -> Need {
    match k {
        // Addresses are also matched in the header as written (group names, comments);
        // SENT* compare the Date header's own calendar day.
        Key::Header { .. } | Key::Body(_) | Key::Text(_) | Key::Address { .. } | Key::Sent(..) => {
            Need::Raw
        }
        Key::Internal(..) | Key::Older(_) | Key::Younger(_) | Key::Larger(_) | Key::Smaller(_) => {
            Need::Row
        }
        Key::Not(k) => need(k),
        Key::Or(a, b) => need(a).max(need(b)),
        Key::And(ks) => ks.iter().map(need).max().unwrap_or(Need::Index),
        _ => Need::Index,
    }
}

/// Whether a key asks about MODSEQ (the response then carries the highest one).
pub fn uses_modseq(keys: &[Key]) -> bool {
    keys.iter().any(|k| match k {
        Key::ModSeq(_) => true,
        Key::Not(k) => uses_modseq(std::slice::from_ref(k)),
        Key::Or(a, b) => {
            uses_modseq(std::slice::from_ref(a)) || uses_modseq(std::slice::from_ref(b))
        }
        Key::And(ks) => uses_modseq(ks),
        _ => false,
    })
}

/// One message as a key sees it.
struct Candidate<'a> {
    seq: usize,
    entry: &'a IndexEntry,
    row: Option<&'a messages::Model>,
    summary: Option<&'a Summary>,
    raw: Option<&'a [u8]>,
}

/// The UIDs of the selected folder's messages that match every key, ascending.
pub async fn run(ts: &TenantStore, sel: &Selected, keys: &[Key]) -> Result<Vec<i64>> {
    let level = keys.iter().map(need).max().unwrap_or(Need::Index);
    let mut found = Vec::new();
    for (i, chunk) in sel.entries.chunks(CHUNK).enumerate() {
        let rows: HashMap<Uuid, messages::Model> = if level >= Need::Row {
            let ids: Vec<Uuid> = chunk.iter().map(|e| e.id).collect();
            ts.messages_by_id(sel.mailbox, &ids)
                .await?
                .into_iter()
                .map(|m| (m.id, m))
                .collect()
        } else {
            HashMap::new()
        };
        let mut raws = if level == Need::Raw {
            let found: Vec<&messages::Model> = rows.values().collect();
            ts.raws_of(&found).await?
        } else {
            HashMap::new()
        };
        for (j, e) in chunk.iter().enumerate() {
            let row = rows.get(&e.id);
            if level >= Need::Row && row.is_none() {
                continue;
            }
            let summary: Option<Summary> = row.and_then(|r| serde_json::from_str(&r.summary).ok());
            let raw = raws.remove(&e.id);
            let c = Candidate {
                seq: i * CHUNK + j + 1,
                entry: e,
                row,
                summary: summary.as_ref(),
                raw: raw.as_deref(),
            };
            if keys.iter().all(|k| matches(k, &c, sel)) {
                found.push(e.uid);
            }
        }
    }
    Ok(found)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    let needle = needle.to_ascii_lowercase();
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(&needle))
}

fn addrs_text(list: &[Addr]) -> String {
    list.iter()
        .map(|a| {
            format!(
                "{} <{}>",
                a.name.as_deref().unwrap_or(""),
                a.address.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn day(d: Date) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
}

fn compare(cmp: DateCmp, have: chrono::NaiveDate, want: Option<chrono::NaiveDate>) -> bool {
    let Some(want) = want else { return false };
    match cmp {
        DateCmp::Before => have < want,
        DateCmp::On => have == want,
        DateCmp::Since => have >= want,
    }
}

/// Whether the candidate is in a set of sequence numbers (`uid`: of UIDs), or the saved result.
fn in_set(set: &SequenceSet, c: &Candidate<'_>, sel: &Selected, uid: bool) -> bool {
    let (n, largest) = if uid {
        (
            c.entry.uid as u64,
            sel.entries.last().map_or(0, |e| e.uid as u64),
        )
    } else {
        (c.seq as u64, sel.entries.len() as u64)
    };
    set.contains(n, largest)
        .unwrap_or_else(|| sel.saved.contains(&c.entry.uid))
}

fn header_of<'a>(c: &Candidate<'a>) -> &'a [u8] {
    match (c.raw, c.row) {
        (Some(raw), Some(row)) => header_block(raw, row, c.summary.map_or(0, |s| s.header_size)),
        _ => &[],
    }
}

/// The header block of a message's stored bytes: the trace fields prepended at delivery and
/// the message's own header (`header_size` octets, from its summary).
pub fn header_block<'a>(raw: &'a [u8], row: &messages::Model, header_size: u64) -> &'a [u8] {
    let end = row.trace_prefix.len() + header_size as usize;
    &raw[..end.min(raw.len())]
}

fn matches(k: &Key, c: &Candidate<'_>, sel: &Selected) -> bool {
    let now = chrono::Utc::now();
    match k {
        Key::All => true,
        Key::Flag(f) | Key::NotFlag(f) => {
            let has = match flags::bit(f) {
                Some(b) if f.starts_with('\\') => c.entry.flags & b != 0,
                _ if f.starts_with('\\') => false,
                _ => c.entry.keywords.iter().any(|k| k.eq_ignore_ascii_case(f)),
            };
            has == matches!(k, Key::Flag(_))
        }
        Key::New => sel.is_recent(c.entry.uid) && c.entry.flags & flags::SEEN == 0,
        Key::Recent => sel.is_recent(c.entry.uid),
        Key::Old => !sel.is_recent(c.entry.uid),
        Key::Address { field, text } => {
            let Some(s) = c.summary else { return false };
            let value = match *field {
                "FROM" => addrs_text(&s.from),
                "TO" => addrs_text(&s.to),
                "CC" => addrs_text(&s.cc),
                "BCC" => addrs_text(&s.bcc),
                _ => s.subject.clone().unwrap_or_default(),
            };
            contains(value.as_bytes(), text)
                || fields(header_of(c))
                    .any(|(n, v)| n.eq_ignore_ascii_case(field.as_bytes()) && contains(&v, text))
        }
        Key::Header { name, text } => fields(header_of(c))
            .any(|(n, v)| n.eq_ignore_ascii_case(name.as_bytes()) && contains(&v, text)),
        Key::Body(text) => {
            let h = header_of(c).len();
            contains(&c.raw.unwrap_or(&[])[h..], text)
        }
        Key::Text(text) => contains(c.raw.unwrap_or(&[]), text),
        Key::Internal(cmp, d) => c
            .row
            .is_some_and(|r| compare(*cmp, r.internal_date.date_naive(), day(*d))),
        Key::Sent(cmp, d) => {
            // The day as the Date header writes it, in its own time zone (RFC 9051 §6.4.4).
            let written = fields(header_of(c))
                .find(|(n, _)| n.eq_ignore_ascii_case(b"date"))
                .and_then(|(_, v)| {
                    chrono::DateTime::parse_from_rfc2822(String::from_utf8_lossy(&v).trim()).ok()
                })
                .map(|t| t.date_naive());
            let sent = written
                .or(c.summary.and_then(|s| s.date).map(|t| t.date_naive()))
                .or(c.row.map(|r| r.internal_date.date_naive()));
            sent.is_some_and(|t| compare(*cmp, t, day(*d)))
        }
        Key::Older(n) => c
            .row
            .is_some_and(|r| (now - r.internal_date).num_seconds() >= i64::from(*n)),
        Key::Younger(n) => c
            .row
            .is_some_and(|r| (now - r.internal_date).num_seconds() < i64::from(*n)),
        Key::Larger(n) => c.row.is_some_and(|r| r.size > i64::from(*n)),
        Key::Smaller(n) => c.row.is_some_and(|r| r.size < i64::from(*n)),
        Key::Uid(set) => in_set(set, c, sel, true),
        Key::Seq(set) => in_set(set, c, sel, false),
        Key::ModSeq(n) => c.entry.modseq as u64 >= *n,
        Key::Not(k) => !matches(k, c, sel),
        Key::Or(a, b) => matches(a, c, sel) || matches(b, c, sel),
        Key::And(ks) => ks.iter().all(|k| matches(k, c, sel)),
    }
}
