//! The DATA phase (RFC 5321 §4.1.1.4): the message ends at `CRLF . CRLF`, and a line starting
//! with `.` has that dot removed. Only CRLF ends a line here: a bare LF or CR never starts a
//! line, so `LF . LF` and similar cannot end a message early (SMTP smuggling). Bytes are
//! otherwise kept exactly as sent.

/// What the reader has to say after a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataStatus {
    /// The end marker has not come yet.
    NeedMore,
    /// The message is complete. `consumed` bytes of the last push belonged to it; the rest are
    /// pipelined commands.
    Done { consumed: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line (after CRLF, or at the start of the data).
    LineStart,
    /// A `.` at the start of a line.
    Dot,
    /// `.` CR at the start of a line.
    DotCr,
    /// Inside a line.
    Mid,
    /// Inside a line, after a CR.
    Cr,
}

/// Collects one message's data, dot-unstuffed, up to a size limit. The bytes collected so far
/// can be taken out at any time ([`DataReader::take_output`]), so a large message need not be
/// held in memory by the reader.
#[derive(Debug)]
pub struct DataReader {
    state: State,
    max: usize,
    out: Vec<u8>,
    /// Bytes emitted in all (taken out or not).
    len: usize,
    overflow: bool,
}

impl DataReader {
    /// A reader for a message of at most `max` bytes. Past it, the rest is read and dropped, so
    /// the client can be told `552` after its end marker instead of being cut off.
    pub fn new(max: usize) -> Self {
        Self {
            state: State::LineStart,
            max,
            out: Vec::new(),
            len: 0,
            overflow: false,
        }
    }

    /// Takes the bytes collected since the last call (none once the limit was passed).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Whether the message was larger than the limit.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// The message so far, less what [`DataReader::take_output`] took (complete once
    /// [`DataStatus::Done`] was returned and nothing was taken).
    pub fn into_message(self) -> Vec<u8> {
        self.out
    }

    fn emit(&mut self, bytes: &[u8]) {
        if self.overflow {
            return;
        }
        if self.len + bytes.len() > self.max {
            self.overflow = true;
            self.out = Vec::new();
            return;
        }
        self.len += bytes.len();
        self.out.extend_from_slice(bytes);
    }

    /// Feeds bytes; says whether the message ended, and where.
    pub fn push(&mut self, input: &[u8]) -> DataStatus {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            i += 1;
            self.state = match (self.state, b) {
                (State::LineStart, b'.') => State::Dot,
                (State::LineStart | State::Mid, b'\r') => {
                    self.emit(b"\r");
                    State::Cr
                }
                (State::LineStart | State::Mid, _) => {
                    self.emit(&[b]);
                    State::Mid
                }
                // A line-start dot followed by anything but CR is stuffing: drop the dot.
                (State::Dot, b'\r') => State::DotCr,
                (State::Dot, _) => {
                    self.emit(&[b]);
                    State::Mid
                }
                (State::DotCr, b'\n') => {
                    self.state = State::LineStart;
                    return DataStatus::Done { consumed: i };
                }
                // `.` CR then something else: the dot was stuffing, the CR is content.
                (State::DotCr, b'\r') => {
                    self.emit(b"\r");
                    State::Cr
                }
                (State::DotCr, _) => {
                    self.emit(&[b'\r', b]);
                    State::Mid
                }
                (State::Cr, b'\n') => {
                    self.emit(b"\n");
                    State::LineStart
                }
                (State::Cr, b'\r') => {
                    self.emit(b"\r");
                    State::Cr
                }
                (State::Cr, _) => {
                    self.emit(&[b]);
                    State::Mid
                }
            };
        }
        DataStatus::NeedMore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `wire` in chunks of `size`; returns the message and the bytes left after it.
    fn read(wire: &[u8], size: usize, max: usize) -> Option<(Vec<u8>, Vec<u8>, bool)> {
        let mut r = DataReader::new(max);
        let mut offset = 0;
        for chunk in wire.chunks(size) {
            if let DataStatus::Done { consumed } = r.push(chunk) {
                let rest = wire[offset + consumed..].to_vec();
                let over = r.overflowed();
                return Some((r.into_message(), rest, over));
            }
            offset += chunk.len();
        }
        None
    }

    #[test]
    fn messages_are_unstuffed_and_end_only_at_crlf_dot_crlf() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b".\r\n", b""),
            (
                b"Subject: x\r\n\r\nhello\r\n.\r\n",
                b"Subject: x\r\n\r\nhello\r\n",
            ),
            (
                b"..leading dot\r\n...two\r\n.\r\n",
                b".leading dot\r\n..two\r\n",
            ),
            // Smuggling attempts: bare LF or CR around the dot do not end the message.
            (b"a\n.\nb\r\n.\r\n", b"a\n.\nb\r\n"),
            (b"a\r.\r\nb\r\n.\r\n", b"a\r.\r\nb\r\n"),
            (b"a\r\n.\rx\r\n.\r\n", b"a\r\n\rx\r\n"),
            (
                b"bin\x00ary \xff bytes\r\n.\r\n",
                b"bin\x00ary \xff bytes\r\n",
            ),
        ];
        for (wire, want) in cases {
            for size in 1..=wire.len().max(1) {
                let (got, rest, over) = read(wire, size, 1 << 20).expect("no end found");
                assert_eq!(got, want, "{wire:?} at chunk size {size}");
                assert!(rest.is_empty() && !over);
            }
        }
    }

    #[test]
    fn pipelined_commands_after_the_end_are_left_over() {
        let wire = b"body\r\n.\r\nQUIT\r\n";
        for size in 1..=wire.len() {
            let (got, rest, _) = read(wire, size, 100).unwrap();
            assert_eq!(
                (got.as_slice(), rest.as_slice()),
                (&b"body\r\n"[..], &b"QUIT\r\n"[..]),
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn oversized_messages_are_read_to_the_end_and_flagged() {
        let mut wire = vec![b'x'; 5000];
        wire.extend_from_slice(b"\r\n.\r\nNOOP\r\n");
        for size in [1, 13, 512, 8192] {
            let (got, rest, over) = read(&wire, size, 1000).unwrap();
            assert!(over && got.is_empty(), "chunk size {size}");
            assert_eq!(rest, b"NOOP\r\n");
        }
    }

    #[test]
    fn every_chunk_size_up_to_512_gives_the_same_message() {
        let mut body = Vec::new();
        for i in 0..200 {
            body.extend_from_slice(
                format!("{}line {i}\r\n", if i % 7 == 0 { "." } else { "" }).as_bytes(),
            );
        }
        let mut wire = Vec::new();
        for line in body.split_inclusive(|b| *b == b'\n') {
            if line.starts_with(b".") {
                wire.push(b'.');
            }
            wire.extend_from_slice(line);
        }
        wire.extend_from_slice(b".\r\n");
        for size in 1..=512 {
            let (got, _, _) = read(&wire, size, 1 << 20).unwrap();
            assert_eq!(got, body, "chunk size {size}");
        }
    }
}
