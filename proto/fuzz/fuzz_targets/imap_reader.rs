//! Fuzzes the IMAP command reader: any bytes, cut anywhere, must never panic, give the same
//! events however they were cut, and never hold more than the bounds allow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_proto::imap::{CommandReader, Event, Limits};

const LIMITS: Limits = Limits {
    max_line: 256,
    max_literal: 512,
    max_command: 2048,
    max_literals: 8,
};

fn events(input: &[u8], size: usize) -> Vec<Event> {
    let mut r = CommandReader::new(LIMITS);
    let mut out = Vec::new();
    for chunk in input.chunks(size) {
        r.push(chunk);
        while let Some(e) = r.next_event() {
            if let Event::Command(c) = &e {
                assert!(c.len() <= LIMITS.max_command);
            }
            out.push(e);
        }
        // What is held is the current command (bounded) plus the last push.
        assert!(r.buffered() <= LIMITS.max_command + LIMITS.max_line + 2 + chunk.len());
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&cut, input)) = input.split_first() else {
        return;
    };
    let size = usize::from(cut).max(1);
    assert_eq!(events(input, input.len().max(1)), events(input, size));
});
