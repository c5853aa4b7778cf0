//! The SMTP server, in layers: the wire parsers and the session state machine (one handler per
//! command, BDAT included) are `mailroom_proto::smtp` (no I/O); recipient look-ups against the
//! store are in [`recipients`]; the network loop in [`server`] carries out the state machine's
//! steps (replies, DATA and BDAT reading, STARTTLS, deadlines) on the shared network layer
//! ([`crate::net`]: caps, PROXY, TLS, session ids, shutdown).

pub mod recipients;
pub mod server;

pub use server::{SmtpServer, SubmissionParts};
