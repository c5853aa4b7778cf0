//! Fuzzes the IMAP command parser behind the reader: any bytes, parsed with and without
//! UTF8=ACCEPT, must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_proto::imap::command::parse;
use mailroom_proto::imap::{CommandReader, Event, Limits};

fuzz_target!(|input: &[u8]| {
    let mut r = CommandReader::new(Limits {
        max_line: 1024,
        max_literal: 4096,
        max_command: 8192,
        max_literals: 16,
    });
    r.push(input);
    while let Some(e) = r.next_event() {
        if let Event::Command(c) = e {
            let _ = parse(&c, false);
            let _ = parse(&c, true);
        }
    }
});
