//! Mailroom's worker: the job runner and the SMTP server (MX).

pub mod jobs;
pub mod net;
pub mod runner;
pub mod smtp;

pub use runner::Runner;
