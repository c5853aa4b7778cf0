//! The SMTP server, in layers: resumable parsers (bytes in, commands or "need more" out; no
//! I/O) in [`command`] and [`data`], replies in [`reply`], the session state machine in
//! [`session`], recipient checks in [`recipients`], and the command loop in [`server`] (DATA,
//! BDAT, STARTTLS, deadlines) on the shared network layer ([`crate::net`]: caps, PROXY, TLS,
//! session ids, shutdown).

pub mod command;
pub mod data;
pub mod recipients;
pub mod reply;
pub mod server;
pub mod session;

pub use server::SmtpServer;
