//! SMTP (RFC 5321) without I/O: the command reader in [`command`], the DATA reader in
//! [`data`], replies in [`reply`], and the session state machine with one handler per command
//! in [`session`] (BDAT/CHUNKING included).

pub mod command;
pub mod data;
pub mod reply;
pub mod session;

pub use command::{Command, CommandReader, ParseError};
pub use data::{DataReader, DataStatus};
pub use reply::Reply;
pub use session::{AuthVerdict, Envelope, Limits, SenderVerdict, Session, Step, Verdict};
