//! `/v1/events`: what happened in the tenant (`domain.verified`, `domain.dns_error`, …); the
//! feed webhooks will deliver.

pub mod list;
