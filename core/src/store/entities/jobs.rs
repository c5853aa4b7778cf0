//! A unit of background work, claimed by one worker at a time.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub kind: String,
    /// JSON payload.
    pub payload: String,
    /// `queued`, `running`, `done` or `dead`.
    pub status: super::kinds::JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    /// Unix milliseconds when the job is due.
    pub run_at: i64,
    pub locked_by: Option<String>,
    /// Unix milliseconds when the current claim lapses.
    pub locked_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
