//! The SMTP server, in the layers DESIGN.md fixes: a resumable parser (bytes in, commands or
//! "need more" out; no I/O) in [`command`], [`data`] and [`proxy`], replies in [`reply`], the
//! session state machine in [`session`], recipient checks in [`recipients`], and the network
//! loop in [`server`] (connection caps, time-outs, STARTTLS via [`tls`], BDAT).

pub mod command;
pub mod data;
pub mod proxy;
pub mod recipients;
pub mod reply;
pub mod server;
pub mod session;
pub mod tls;

pub use server::SmtpServer;
