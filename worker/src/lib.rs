//! Mailroom's worker: the job runner (and, in later steps, the SMTP, IMAP and POP3 servers).

pub mod jobs;
pub mod runner;
pub mod smtp;

pub use runner::Runner;
