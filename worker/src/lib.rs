//! Mailroom's worker: the job runner, the SMTP server (MX) and the IMAP server.

pub mod imap;
pub mod jobs;
pub mod net;
pub mod runner;
pub mod smtp;

pub use runner::Runner;
