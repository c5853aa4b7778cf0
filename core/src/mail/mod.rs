//! The mail model: the parse-once summary, authentication results, flags, the ingest
//! pipeline every inbound message goes through, rendering for readers, and search.

pub mod authn;
pub mod flags;
pub mod ingest;
pub mod mbox;
pub mod render;
pub mod search;
pub mod summary;
