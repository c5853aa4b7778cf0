//! Contacts: the address-book model and its import/export formats.
//!
//! [`format`](mod@format) holds the [`format::Card`] model, its validation, and the vCard (RFC 6350) and CSV (RFC 4180)
//! codecs used for import and export.

pub mod format;
