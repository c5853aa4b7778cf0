//! A message's bytes through what IMAP derives from them without the store: ENVELOPE from the
//! header block, the address-list parser, the SORT/THREAD base subject, and BINARY's transfer
//! decoders and base64 rewriting: no panic, and base64 round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_proto::imap::binary::{self, Encoding};
use mailroom_proto::imap::envelope::{addresses, envelope};
use mailroom_proto::imap::thread::base_subject;

fuzz_target!(|data: &[u8]| {
    let env = envelope(data);
    let mut out = Vec::new();
    env.write(&mut out, false);
    let _ = addresses(data);
    let _ = base_subject(&String::from_utf8_lossy(data));
    for enc in [Encoding::Base64, Encoding::QuotedPrintable, Encoding::Identity] {
        let _ = enc.decode(data);
    }
    assert_eq!(binary::base64(&binary::encode_base64(data)), data);
    let n = data.len();
    let _ = binary::base64_parts(data, &[(n / 4, n / 2, n)]);
});
