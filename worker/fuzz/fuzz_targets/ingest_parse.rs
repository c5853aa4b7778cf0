//! Fuzzes the ingest parse path: the parse-once summary (mail-parser underneath) and the mbox
//! splitter must never panic on any bytes, the structure's offsets must stay inside the input,
//! and the summary must survive its JSON round trip (it is stored as JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_core::mail::mbox;
use mailroom_core::mail::summary::{Part, Summary, summarize};

fn offsets_ok(p: &Part, len: u64) -> bool {
    p.header_start <= p.body_start
        && p.body_start <= p.end
        && p.end <= len
        && p.children.iter().all(|c| offsets_ok(c, len))
}

fuzz_target!(|data: &[u8]| {
    let s = summarize(data);
    assert!(offsets_ok(&s.body, data.len() as u64));
    for a in &s.attachments {
        assert!(!a.part_id.is_empty());
    }
    let json = serde_json::to_string(&s).expect("a summary serialises");
    let back: Summary = serde_json::from_str(&json).expect("and reads back");
    assert_eq!(back, s);
    let parts = mbox::split(data);
    assert!(parts.iter().map(|p| p.len()).sum::<usize>() <= data.len());
});
