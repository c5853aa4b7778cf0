//! The SMTP server, in the layers DESIGN.md fixes: a resumable parser (bytes in, commands or
//! "need more" out; no I/O) in [`command`] and [`data`], replies in [`reply`]. The session state
//! machine, the handlers, the storage adapter and the network loop build on these.

pub mod command;
pub mod data;
pub mod recipients;
pub mod reply;
pub mod session;
