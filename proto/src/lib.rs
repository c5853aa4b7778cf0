//! Mailroom's wire protocols without I/O.
//!
//! Each protocol is a stack of pure layers: a resumable **parser** (push bytes as they arrive,
//! take out whole commands, or learn that more bytes are needed), a **state machine** that says
//! which command is allowed when and what it answers, and **handlers**, one per command, inside
//! it. What needs the outside world (a directory look-up, reading a message's data, starting
//! TLS) is returned as a step for the caller to carry out; the caller reports the outcome back.
//! No tokio, no database, no sockets: the network loop (`mailroom-worker`) and the storage
//! adapters live elsewhere, and everything here can be tested and fuzzed alone.
//!
//! - [`smtp`]: RFC 5321 with PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, CHUNKING
//!   (BDAT) and STARTTLS.
//! - [`imap`]: the command reader (commands and literals, bounded); the parser and state
//!   machine are being built.
//! - [`pop3`]: RFC 1939 with RFC 2449's extensions: the line reader, the command parser and
//!   the message encoder (CRLF and byte-stuffing).
//! - [`sasl`]: SASL PLAIN responses, for both.

pub mod imap;
pub mod pop3;
pub mod sasl;
pub mod smtp;
