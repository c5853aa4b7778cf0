//! The mail model: the parse-once summary, authentication results, flags and the ingest
//! pipeline every inbound message goes through.

pub mod authn;
pub mod flags;
pub mod ingest;
pub mod mbox;
pub mod summary;
