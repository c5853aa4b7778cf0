//! Fuzzes the POP3 line reader, command parser and message encoder: any bytes, cut anywhere,
//! must never panic and give the same lines however they were cut, with nothing held beyond
//! the bound; any message must come out CRLF-ended and byte-stuffed so that a client undoing
//! the stuffing holds exactly `wire_len` octets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_proto::pop3::{Line, LineReader, MAX_LINE, parse, wire_len, write_message};

fn lines(input: &[u8], size: usize) -> Vec<Line> {
    let mut r = LineReader::new();
    let mut out = Vec::new();
    for chunk in input.chunks(size) {
        r.push(chunk);
        while let Some(l) = r.next_line() {
            if let Line::Line(l) = &l {
                assert!(l.len() <= MAX_LINE);
                let _ = parse(l);
            }
            out.push(l);
        }
        assert!(r.buffered() <= MAX_LINE + 1 + chunk.len());
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&cut, input)) = input.split_first() else {
        return;
    };
    let size = usize::from(cut).max(1);
    assert_eq!(lines(input, input.len().max(1)), lines(input, size));

    let mut wire = Vec::new();
    write_message(&mut wire, input, None);
    let body = wire.strip_suffix(b".\r\n").expect("terminator");
    let mut held = 0u64;
    for line in body.split_inclusive(|b| *b == b'\n') {
        assert!(line.ends_with(b"\r\n"), "every line ends in CRLF");
        assert_ne!(line, b".\r\n", "no early terminator");
        held += line.strip_prefix(b".").unwrap_or(line).len() as u64;
    }
    assert_eq!(held, wire_len(input));
    let mut top = Vec::new();
    write_message(&mut top, input, Some(u32::from(cut) % 4));
    assert!(top.len() <= wire.len());
});
