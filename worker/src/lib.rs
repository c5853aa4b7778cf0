//! Mailroom's worker: the job runner, the SMTP server (MX), the IMAP server and the POP3 server.

pub mod imap;
pub mod jobs;
pub mod net;
pub mod pop3;
pub mod runner;
pub mod smtp;

pub use runner::Runner;
