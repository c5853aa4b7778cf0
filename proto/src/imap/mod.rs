//! IMAP (RFC 9051, RFC 3501) without I/O. So far: the command reader ([`reader`]: framing of
//! commands and their literals, with every size bounded), the lexical layer of the grammar
//! ([`lex`]: tags, atoms, strings, literals, numbers, sequence sets, lists, flags) and modified
//! UTF-7 for mailbox names ([`utf7`], strict). The grammar parser and the session
//! state machine come next (issue 15); `docs/architecture.md` says why the parser is our own.

pub mod lex;
pub mod reader;
pub mod utf7;

pub use reader::{CommandReader, Event, Limits, Refusal};
