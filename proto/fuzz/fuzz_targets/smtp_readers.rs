//! Fuzzes the SMTP command and DATA readers: any bytes, cut anywhere, must never panic, and the
//! results must not depend on how the input was cut.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_proto::smtp::CommandReader;
use mailroom_proto::smtp::{DataReader, DataStatus};

fn commands(input: &[u8], size: usize) -> Vec<String> {
    let mut r = CommandReader::new();
    let mut out = Vec::new();
    for chunk in input.chunks(size) {
        r.push(chunk);
        while let Some(c) = r.next_command() {
            out.push(format!("{c:?}"));
        }
    }
    out
}

fn data(input: &[u8], size: usize) -> (Vec<u8>, Option<usize>, bool) {
    let mut r = DataReader::new(4096);
    let mut offset = 0;
    for chunk in input.chunks(size) {
        if let DataStatus::Done { consumed } = r.push(chunk) {
            let over = r.overflowed();
            return (r.into_message(), Some(offset + consumed), over);
        }
        offset += chunk.len();
    }
    let over = r.overflowed();
    (r.into_message(), None, over)
}

fuzz_target!(|input: &[u8]| {
    let Some((&cut, input)) = input.split_first() else {
        return;
    };
    let size = usize::from(cut).max(1);
    assert_eq!(commands(input, input.len().max(1)), commands(input, size));
    let (whole, end, over) = data(input, input.len().max(1));
    let (cut_msg, cut_end, cut_over) = data(input, size);
    assert_eq!((&whole, end, over), (&cut_msg, cut_end, cut_over));
    if let Some(end) = end {
        // The message ended exactly at a CRLF.CRLF (or at a leading .CRLF).
        assert!(input[..end].ends_with(b".\r\n"));
        assert!(end == 3 || input[..end].ends_with(b"\r\n.\r\n"));
    }
    assert!(whole.len() <= 4096);
});
