//! The network layer every protocol server stands on: listening with a configurable backlog,
//! connection caps in all and per client address, the PROXY protocol, TLS (the STARTTLS
//! upgrade), session ids, load-dependent idle time-outs, a minimum data rate, the session time
//! limit and graceful shutdown. A protocol brings its greeting, its limits and its session
//! ([`Protocol`]); it never handles sockets, caps or PROXY headers itself.

pub mod conn;
pub mod listener;
pub mod pace;
pub mod proxy;
pub mod spool;
pub mod tls;

pub use conn::Conn;
pub use listener::{Load, NetConfig, Protocol, Refusal, Session, bind, serve};
pub use pace::Pace;
pub use spool::Spool;
