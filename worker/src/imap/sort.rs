//! SORT and THREAD over the selected folder (RFC 5256, RFC 5957): SEARCH picks the messages;
//! their rows and parse-once summaries (and, for the FROM/TO/CC keys, their header blocks) give
//! the facts; `mailroom_proto::imap::thread` orders and threads them.

use super::search::{self, header_block};
use super::selected::Selected;
use mailroom_core::error::Result;
use mailroom_core::mail::summary::{Addr, Summary};
use mailroom_core::store::TenantStore;
use mailroom_core::store::entities::messages;
use mailroom_proto::imap::envelope::envelope;
use mailroom_proto::imap::response::{Address, Envelope};
use mailroom_proto::imap::search::{Key, SortBy, SortKey, ThreadBy};
use mailroom_proto::imap::thread::{self, SortFacts, Thread, ThreadFacts};
use uuid::Uuid;

/// Messages whose rows are read at once.
const CHUNK: usize = 500;

/// One matching message: its sequence number, UID, row and summary, and (when asked for) its
/// stored bytes.
struct Found<'a> {
    seq: u64,
    uid: i64,
    row: &'a messages::Model,
    summary: &'a Summary,
    raw: Option<&'a [u8]>,
}

/// Calls `each` for every message of the folder that matches `keys`, in sequence order.
async fn gather(
    ts: &TenantStore,
    sel: &Selected,
    keys: &[Key],
    with_raw: bool,
    mut each: impl FnMut(Found<'_>),
) -> Result<()> {
    let uids = search::run(ts, sel, keys).await?;
    for chunk in uids.chunks(CHUNK) {
        let ids: Vec<Uuid> = chunk
            .iter()
            .filter_map(|u| sel.entry(*u).map(|e| e.id))
            .collect();
        let rows = ts.messages_by_id(sel.mailbox, &ids).await?;
        let raws = if with_raw {
            ts.raws_of(&rows.iter().collect::<Vec<_>>()).await?
        } else {
            Default::default()
        };
        let by_id: std::collections::HashMap<Uuid, &messages::Model> =
            rows.iter().map(|r| (r.id, r)).collect();
        for uid in chunk {
            let (Some(e), Some(seq)) = (sel.entry(*uid), sel.seq_of(*uid)) else {
                continue;
            };
            // A message expunged meanwhile by another session is left out.
            let Some(row) = by_id.get(&e.id) else {
                continue;
            };
            let summary: Summary = serde_json::from_str(&row.summary).unwrap_or_default();
            each(Found {
                seq: seq as u64,
                uid: *uid,
                row,
                summary: &summary,
                raw: raws.get(&e.id).map(Vec::as_slice),
            });
        }
    }
    Ok(())
}

/// The sent date (RFC 5256 §2.2): the Date header in UTC, or INTERNALDATE without one.
fn sent(f: &Found<'_>) -> i64 {
    f.summary.date.unwrap_or(f.row.internal_date).timestamp()
}

/// The local part of an address list's first entry (a group's name for a group).
fn first_mailbox(list: &[Address]) -> String {
    list.first()
        .and_then(|a| a.mailbox.as_deref())
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .unwrap_or_default()
}

/// RFC 5957: the first address's display name (decoded), or the address itself without one;
/// for a group, the group's name. `header` is the field's envelope addresses as written and
/// `decoded` the summary's addresses (groups flattened, names decoded).
fn display(header: Option<&[Address]>, decoded: &[Addr]) -> String {
    if let Some(Address {
        host: None,
        mailbox: Some(group),
        ..
    }) = header.and_then(|h| h.first())
    {
        return String::from_utf8_lossy(group).into_owned();
    }
    decoded
        .first()
        .and_then(|a| {
            a.name
                .as_deref()
                .filter(|n| !n.trim().is_empty())
                .or(a.address.as_deref())
        })
        .unwrap_or_default()
        .to_string()
}

/// The UIDs of the messages that match `keys`, in the order of `criteria`.
pub async fn sort(
    ts: &TenantStore,
    sel: &Selected,
    criteria: &[SortKey],
    keys: &[Key],
) -> Result<Vec<i64>> {
    let wants = |by: SortBy| criteria.iter().any(|k| k.by == by);
    let addresses = [
        SortBy::From,
        SortBy::To,
        SortBy::Cc,
        SortBy::DisplayFrom,
        SortBy::DisplayTo,
    ]
    .into_iter()
    .any(wants);
    // Only the keys asked for are computed (each is a string built per message).
    let when = |by: SortBy, value: &dyn Fn() -> String| {
        if wants(by) { value() } else { String::new() }
    };
    let mut facts = Vec::new();
    gather(ts, sel, keys, addresses, |f| {
        let env = f
            .raw
            .map(|raw| envelope(header_block(raw, f.row, f.summary.header_size)));
        let first = |pick: fn(&Envelope) -> &[Address]| {
            env.as_ref()
                .map(|e| thread::casemap(&first_mailbox(pick(e))))
                .unwrap_or_default()
        };
        let shown = |pick: fn(&Envelope) -> &[Address], decoded: &[Addr]| {
            thread::casemap(&display(env.as_ref().map(pick), decoded))
        };
        facts.push(SortFacts {
            seq: f.seq,
            arrival: f.row.internal_date.timestamp_millis(),
            date: sent(&f),
            size: u64::try_from(f.row.size).unwrap_or(0),
            from: when(SortBy::From, &|| first(|e| &e.from)),
            to: when(SortBy::To, &|| first(|e| &e.to)),
            cc: when(SortBy::Cc, &|| first(|e| &e.cc)),
            subject: when(SortBy::Subject, &|| {
                thread::casemap(
                    &thread::base_subject(f.summary.subject.as_deref().unwrap_or("")).text,
                )
            }),
            display_from: when(SortBy::DisplayFrom, &|| shown(|e| &e.from, &f.summary.from)),
            display_to: when(SortBy::DisplayTo, &|| shown(|e| &e.to, &f.summary.to)),
        });
    })
    .await?;
    thread::sort(&mut facts, criteria);
    // A sequence number names its UID in the view the facts were gathered from.
    Ok(facts
        .iter()
        .filter_map(|f| sel.entries.get(f.seq as usize - 1).map(|e| e.uid))
        .collect())
}

/// The threads of the messages that match `keys`, numbered by UID (`uid`) or sequence number.
pub async fn threads(
    ts: &TenantStore,
    sel: &Selected,
    by: ThreadBy,
    keys: &[Key],
    uid: bool,
) -> Result<Vec<Thread>> {
    let mut facts = Vec::new();
    gather(ts, sel, keys, false, |f| {
        let s = f.summary;
        let references = if s.references.is_empty() {
            s.in_reply_to.iter().take(1).cloned().collect()
        } else {
            s.references.clone()
        };
        facts.push(ThreadFacts {
            number: if uid { f.uid as u64 } else { f.seq },
            seq: f.seq,
            date: sent(&f),
            subject: s.subject.clone().unwrap_or_default(),
            message_id: s.message_id.clone(),
            references,
        });
    })
    .await?;
    Ok(match by {
        ThreadBy::References => thread::references(&facts),
        ThreadBy::OrderedSubject => thread::ordered_subject(&facts),
    })
}
