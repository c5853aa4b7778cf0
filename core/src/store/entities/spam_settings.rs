//! A tenant's spam settings and how much its users taught the classifier (see the migration
//! that made the table). No row: the defaults.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "spam_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub enabled: bool,
    pub junk_threshold: f64,
    pub reject_threshold: Option<f64>,
    pub quarantine_threshold: Option<f64>,
    /// `reject` or `junk`.
    pub dmarc_reject: String,
    pub learned_spam: i64,
    pub learned_ham: i64,
    /// New senders are asked to retry (see the greylisting migration).
    pub greylist: bool,
    /// Seconds a new triplet waits before its retry is taken.
    pub greylist_delay_secs: i32,
    /// Days a quarantined message is kept.
    pub quarantine_days: i32,
    /// The classifier learns from messages other evidence makes certain.
    pub autolearn: bool,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
