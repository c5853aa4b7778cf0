//! Mailroom's worker: the job runner, outbound delivery, the SMTP servers (MX and submission),
//! the IMAP server and the POP3 server.

pub mod delivery;
pub mod imap;
pub mod jobs;
pub mod net;
pub mod pop3;
pub mod runner;
pub mod smtp;

pub use runner::Runner;
