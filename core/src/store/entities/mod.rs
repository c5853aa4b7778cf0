//! sea-orm entities: one module per table. Only the store uses them for queries; their `Model`s
//! are the plain records the store hands out.

pub mod aliases;
pub mod api_keys;
pub mod app_passwords;
pub mod audit_log;
pub mod blob_parts;
pub mod blobs;
pub mod contacts;
pub mod dkim_keys;
pub mod domains;
pub mod events;
pub mod expunged;
pub mod folders;
pub mod group_members;
pub mod groups;
pub mod identities;
pub mod jobs;
pub mod kinds;
pub mod local_parts;
pub mod mailboxes;
pub mod messages;
pub mod outbound;
pub mod outbound_recipients;
pub mod pop3_leases;
pub mod pop3_taken;
pub mod refresh_tokens;
pub mod sessions;
pub mod signatures;
pub mod subscriptions;
pub mod suppressions;
pub mod tenants;
pub mod thread_refs;
pub mod threads;
pub mod users;
