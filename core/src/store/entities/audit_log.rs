//! One change made through the API: who, what, which object, when, from where.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    /// `user`, `api_key`, `platform_admin` or `system`.
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    /// The actor's email or the key's name, kept even after the actor is deleted.
    pub actor_label: String,
    /// Dotted verb such as `user.create`.
    pub action: String,
    pub object_type: String,
    pub object_id: Option<Uuid>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// JSON object with the change (never a secret).
    pub details: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
