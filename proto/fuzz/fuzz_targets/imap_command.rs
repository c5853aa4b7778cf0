//! Bytes from a client, cut into chunks of a size the first byte picks, through the IMAP
//! command reader (small bounds, so refusals are reached), the command parser and the session
//! state machine, logged in and with a folder selected: no panic, no unbounded growth.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_proto::imap::command::parse;
use mailroom_proto::imap::session::{Options, Session, Step};
use mailroom_proto::imap::{CommandReader, Event, Limits};

fuzz_target!(|data: &[u8]| {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first % 64) + 1;
    let limits = Limits {
        max_line: 512,
        max_literal: 2048,
        max_command: 4096,
        max_literals: 8,
    };
    let mut reader = CommandReader::new(limits);
    let mut session = Session::new(
        Options {
            tls_available: first & 64 != 0,
            require_tls_for_login: first & 128 != 0,
            append_limit: 2048,
        },
        false,
    );
    for piece in stream.chunks(chunk) {
        reader.push(piece);
        assert!(reader.buffered() <= limits.max_command + limits.max_line + chunk);
        while let Some(event) = reader.next_event() {
            let Event::Command(bytes) = event else {
                continue;
            };
            // Both grammars (with and without UTF8=ACCEPT); the session sees its own.
            let other = parse(&bytes, !session.enabled().utf8);
            let Ok(tagged) = parse(&bytes, session.enabled().utf8) else {
                continue;
            };
            drop(other);
            match session.command(tagged) {
                Step::Authenticate(_) => session.logged_in(),
                Step::Store(t) => {
                    if matches!(
                        t.command,
                        mailroom_proto::imap::command::Command::Select { read_only, .. } if !read_only
                    ) {
                        session.selected(false);
                    }
                }
                Step::StartTls(_) => session.tls_started(),
                Step::Reply(_) | Step::Close(_) => {}
            }
        }
    }
});
