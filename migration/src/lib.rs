//! Mailroom's schema, one migration per step. Every migration runs on Postgres and on SQLite.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_tenants_and_users;
mod m20261126_000002_create_auth_tables;
mod m20261126_000003_create_audit_log;
mod m20261126_000004_create_jobs;
mod m20261126_000005_create_domains;
mod m20261126_000006_create_mailboxes;
mod m20261126_000007_create_aliases_and_groups;
mod m20261126_000008_create_signatures_and_identities;
mod m20261126_000009_create_contacts;
mod m20261202_000010_create_message_store;
mod m20261202_000011_message_views;
mod m20261206_000012_app_password_lookup;
mod m20261206_000013_health_probes;
mod m20261206_000014_blob_parts;
mod m20261207_000015_folder_recent;
mod m20261207_000016_subscriptions;
mod m20261207_000017_pop3;
mod m20261207_000018_folder_modseq;
mod m20261208_000019_outbound;
mod m20261209_000020_spam;
mod m20261209_000021_spam_lists;
mod m20261209_000022_spam_quarantine;
mod m20261209_000023_mailbox_spam_threshold;
mod m20261210_000024_greylist;
mod m20261210_000025_rules;
mod m20261210_000026_vacation;
mod m20261210_000027_rules_versions;

/// All migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_tenants_and_users::Migration),
            Box::new(m20261126_000002_create_auth_tables::Migration),
            Box::new(m20261126_000003_create_audit_log::Migration),
            Box::new(m20261126_000004_create_jobs::Migration),
            Box::new(m20261126_000005_create_domains::Migration),
            Box::new(m20261126_000006_create_mailboxes::Migration),
            Box::new(m20261126_000007_create_aliases_and_groups::Migration),
            Box::new(m20261126_000008_create_signatures_and_identities::Migration),
            Box::new(m20261126_000009_create_contacts::Migration),
            Box::new(m20261202_000010_create_message_store::Migration),
            Box::new(m20261202_000011_message_views::Migration),
            Box::new(m20261206_000012_app_password_lookup::Migration),
            Box::new(m20261206_000013_health_probes::Migration),
            Box::new(m20261206_000014_blob_parts::Migration),
            Box::new(m20261207_000015_folder_recent::Migration),
            Box::new(m20261207_000016_subscriptions::Migration),
            Box::new(m20261207_000017_pop3::Migration),
            Box::new(m20261207_000018_folder_modseq::Migration),
            Box::new(m20261208_000019_outbound::Migration),
            Box::new(m20261209_000020_spam::Migration),
            Box::new(m20261209_000021_spam_lists::Migration),
            Box::new(m20261209_000022_spam_quarantine::Migration),
            Box::new(m20261209_000023_mailbox_spam_threshold::Migration),
            Box::new(m20261210_000024_greylist::Migration),
            Box::new(m20261210_000025_rules::Migration),
            Box::new(m20261210_000026_vacation::Migration),
            Box::new(m20261210_000027_rules_versions::Migration),
        ]
    }
}
