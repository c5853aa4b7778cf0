//! The IMAP server (RFC 9051 / RFC 3501) on the network layer: the protocol crate parses and
//! keeps the session state; this module carries the commands out against the tenant-scoped
//! store of the logged-in mailbox and keeps each session's view of its selected folder
//! current from the event bus and the change log.

mod commands;
mod fetch;
mod index_cache;
mod search;
mod selected;
mod server;
mod sort;

pub use server::ImapServer;
