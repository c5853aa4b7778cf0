//! A contact: in a mailbox's personal book, or in the tenant's shared directory.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The personal book's mailbox; `None`: the shared directory.
    pub mailbox_id: Option<Uuid>,
    /// `manual`, or `mailbox` for a directory entry kept in step with a mailbox.
    pub source: String,
    pub source_mailbox_id: Option<Uuid>,
    pub uid: Option<String>,
    pub full_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// JSON array of `{value, kind}`.
    pub emails: String,
    /// JSON array of `{value, kind}`.
    pub phones: String,
    pub organization: Option<String>,
    pub title: Option<String>,
    pub notes: Option<String>,
    /// JSON array of strings.
    pub labels: String,
    pub search_text: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
