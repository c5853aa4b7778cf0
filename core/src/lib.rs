//! Mailroom's shared library.
//!
//! Everything the API and the worker have in common lives here: configuration, ids, errors,
//! the database entities behind a tenant-scoped store, authentication primitives, the job
//! queue and the rate limiter. `api` and `worker` never import each other; both stand on this.

pub mod auth;
pub mod bus;
pub mod config;
pub mod contacts;
pub mod crypto;
pub mod dns;
pub mod domains;
pub mod epoch;
pub mod error;
pub mod health;
pub mod ids;
pub mod jobs;
pub mod mail;
pub mod net;
pub mod ratelimit;
pub mod redis_link;
pub mod rules;
pub mod secrets;
pub mod spam;
pub mod store;
pub mod validate;

pub use error::{Error, FieldError, Outage, Result};
