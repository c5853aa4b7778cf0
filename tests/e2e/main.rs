//! End-to-end tests of the whole application: the real API on a real socket, the real job
//! runner and the real `mailroom` binary, against SQLite by default or Postgres + Redis when
//! `MAILROOM_TEST_DATABASE_URL` / `MAILROOM_TEST_REDIS_URL` are set.
// Tests read rows directly (disallowed_methods: sea-orm queries outside store/scope.rs) to
// check what the API stored.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod api_keys;
mod auth;
mod batches;
mod cli;
mod common;
mod contacts;
mod dns;
mod domains;
mod faults;
mod folders;
mod http;
mod imap;
mod imap_interop;
mod imap_wire;
mod isolation;
mod jobs;
mod mail_rest;
mod mail_state;
mod mailboxes;
mod openapi;
mod outage;
mod pipeline;
mod pop3;
mod pop3_interop;
mod routing;
mod rules;
mod sending;
mod signatures;
mod smtp;
mod smtp_abuse;
mod smtp_auth;
mod smtp_crash;
mod smtp_interop;
mod smtp_peer;
mod smtp_wire;
mod spam;
mod tenants;
mod users;
mod vacation;
