//! IMAP (RFC 9051, RFC 3501) without I/O; the server that uses it is `worker/src/imap/`.
//! - [`reader`]: framing of commands and their literals, with every size bounded;
//! - [`lex`]: the grammar's lexical layer (tags, atoms, strings, literals, numbers, sequence
//!   sets, lists, flags);
//! - [`command`]: the command grammar (any-state, not-authenticated and authenticated commands,
//!   APPEND, COPY, MOVE, UID EXPUNGE), with FETCH and STORE in [`fetch`] and SEARCH (ESEARCH,
//!   SEARCHRES, CONDSTORE, WITHIN), SORT and THREAD in [`search`]; NOTIFY and COMPRESS to come;
//! - [`response`]: writing responses: strings in the form that carries them, flag lists,
//!   ENVELOPE and BODYSTRUCTURE from plain structures;
//! - [`binary`]: undoing transfer encodings for FETCH BINARY;
//! - [`envelope`]: ENVELOPE from a raw header block;
//! - [`thread`]: SORT orders, base subjects and the THREAD algorithms over gathered facts;
//! - [`session`]: the state machine (which command in which state; LOGINDISABLED before TLS;
//!   ENABLE; the steps the server carries out against the store);
//! - [`utf7`]: modified UTF-7 for mailbox names, strict.
//!
//! `docs/architecture.md` says why the parser is our own.

pub mod binary;
pub mod command;
pub mod envelope;
pub mod fetch;
pub mod lex;
pub mod reader;
pub mod response;
pub mod search;
pub mod session;
pub mod thread;
pub mod utf7;

pub use reader::{CommandReader, Event, Limits, Refusal};
