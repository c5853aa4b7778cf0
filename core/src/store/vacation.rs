//! A mailbox's vacation auto-reply and the record of whom it answered when.

use super::entities::{mailboxes, vacation_replies, vacations};
use super::{SystemStore, TenantStore};
use crate::error::{Error, FieldError, Result};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

/// Characters of the subject.
pub const MAX_VACATION_SUBJECT: usize = 200;
/// Characters of the text.
pub const MAX_VACATION_BODY: usize = 10_000;
/// Days between two replies to the same sender, at most (RFC 5230 allows 1 to any; a month
/// is plenty and keeps the record small).
pub const MAX_VACATION_INTERVAL_DAYS: u32 = 30;
/// Days a record of a reply is kept (longer than any interval).
const REPLIES_KEPT_DAYS: i64 = 60;

/// A mailbox's auto-reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Vacation {
    /// It answers.
    pub enabled: bool,
    /// The reply's subject; empty: `Auto: <the original subject>`.
    pub subject: String,
    /// The reply's text.
    pub body: String,
    /// It answers from then on (none: at once).
    pub starts_at: Option<DateTime<Utc>>,
    /// It stops answering then (none: until turned off).
    pub ends_at: Option<DateTime<Utc>>,
    /// Days before the same sender is answered again.
    pub interval_days: u32,
    /// When it was last changed (none: never set).
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for Vacation {
    fn default() -> Self {
        Self {
            enabled: false,
            subject: String::new(),
            body: String::new(),
            starts_at: None,
            ends_at: None,
            interval_days: 7,
            updated_at: None,
        }
    }
}

impl From<vacations::Model> for Vacation {
    fn from(m: vacations::Model) -> Self {
        Self {
            enabled: m.enabled,
            subject: m.subject,
            body: m.body,
            starts_at: m.starts_at,
            ends_at: m.ends_at,
            interval_days: m.interval_days.clamp(1, MAX_VACATION_INTERVAL_DAYS as i32) as u32,
            updated_at: Some(m.updated_at),
        }
    }
}

impl Vacation {
    /// Whether it answers at `now`.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.enabled
            && self.starts_at.is_none_or(|s| s <= now)
            && self.ends_at.is_none_or(|e| now < e)
    }
}

/// A change to the auto-reply; `None` leaves a field as it is; `starts_at: Some(None)`
/// clears the date.
#[derive(Debug, Clone, Default)]
pub struct VacationPatch {
    pub enabled: Option<bool>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub starts_at: Option<Option<DateTime<Utc>>>,
    pub ends_at: Option<Option<DateTime<Utc>>>,
    pub interval_days: Option<u32>,
}

fn check(v: &Vacation) -> Result<()> {
    let mut errors = Vec::new();
    if v.subject.chars().count() > MAX_VACATION_SUBJECT || v.subject.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "subject",
            format!("one line of at most {MAX_VACATION_SUBJECT} characters"),
        ));
    }
    let n = v.body.chars().count();
    if n > MAX_VACATION_BODY || (v.enabled && v.body.trim().is_empty()) {
        errors.push(FieldError::new(
            "body",
            format!("1 to {MAX_VACATION_BODY} characters (required to turn it on)"),
        ));
    }
    if !(1..=MAX_VACATION_INTERVAL_DAYS).contains(&v.interval_days) {
        errors.push(FieldError::new(
            "interval_days",
            format!("from 1 to {MAX_VACATION_INTERVAL_DAYS} days"),
        ));
    }
    if let (Some(s), Some(e)) = (v.starts_at, v.ends_at)
        && e <= s
    {
        errors.push(FieldError::new("ends_at", "must be after starts_at"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

/// `current` with the change `p` made at `now`.
fn merged(current: Vacation, p: VacationPatch, now: DateTime<Utc>) -> Vacation {
    Vacation {
        enabled: p.enabled.unwrap_or(current.enabled),
        subject: p.subject.map_or(current.subject, |s| s.trim().to_string()),
        body: p.body.unwrap_or(current.body),
        starts_at: p.starts_at.unwrap_or(current.starts_at),
        ends_at: p.ends_at.unwrap_or(current.ends_at),
        interval_days: p.interval_days.unwrap_or(current.interval_days),
        updated_at: Some(now),
    }
}

impl TenantStore {
    /// The mailbox's auto-reply (off until set).
    pub async fn vacation(&self, mailbox: Uuid) -> Result<Vacation> {
        self.mailbox(mailbox).await?;
        Ok(self
            .find_by_id::<vacations::Entity>(mailbox)
            .one(self.store.db())
            .await?
            .map(Vacation::from)
            .unwrap_or_default())
    }

    /// Checks a change to the mailbox's auto-reply without making it.
    pub async fn check_vacation(&self, mailbox: Uuid, p: &VacationPatch) -> Result<()> {
        let current = self.vacation(mailbox).await?;
        check(&merged(current, p.clone(), Utc::now()))
    }

    /// Changes the mailbox's auto-reply.
    pub async fn set_vacation(&self, mailbox: Uuid, p: VacationPatch) -> Result<Vacation> {
        let current = self.vacation(mailbox).await?;
        let now = Utc::now();
        let next = merged(current, p, now);
        check(&next)?;
        let tx = self.store.tx().await?;
        vacations::Entity::insert(vacations::ActiveModel {
            mailbox_id: Set(mailbox),
            tenant_id: Set(self.tid()),
            enabled: Set(next.enabled),
            subject: Set(next.subject.clone()),
            body: Set(next.body.clone()),
            starts_at: Set(next.starts_at),
            ends_at: Set(next.ends_at),
            interval_days: Set(next.interval_days as i32),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(vacations::Column::MailboxId)
                .update_columns([
                    vacations::Column::Enabled,
                    vacations::Column::Subject,
                    vacations::Column::Body,
                    vacations::Column::StartsAt,
                    vacations::Column::EndsAt,
                    vacations::Column::IntervalDays,
                    vacations::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&*tx)
        .await?;
        // A new auto-reply answers everyone again.
        self.delete_many::<vacation_replies::Entity>()
            .filter(vacation_replies::Column::MailboxId.eq(mailbox))
            .exec(&*tx)
            .await?;
        self.audit(
            &*tx,
            "mailbox.vacation.update",
            "mailbox",
            Some(mailbox),
            json!({"enabled": next.enabled, "starts_at": next.starts_at, "ends_at": next.ends_at}),
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Takes the right to answer `sender` from `mailbox` at `now`: true when no reply went to
    /// it within `interval_days` (and records this one), false otherwise. Two deliveries at
    /// once: one of them gets it.
    pub async fn claim_vacation_reply(
        &self,
        mailbox: Uuid,
        sender: &str,
        interval_days: u32,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let sender = sender.trim().to_lowercase();
        let db = self.store.db();
        let cutoff = now - chrono::Duration::days(i64::from(interval_days));
        let renewed = self
            .update_many::<vacation_replies::Entity>()
            .filter(vacation_replies::Column::MailboxId.eq(mailbox))
            .filter(vacation_replies::Column::Sender.eq(sender.clone()))
            .filter(vacation_replies::Column::SentAt.lt(cutoff))
            .col_expr(vacation_replies::Column::SentAt, Expr::value(now))
            .exec(db)
            .await?
            .rows_affected;
        if renewed == 1 {
            return Ok(true);
        }
        let inserted = vacation_replies::Entity::insert(vacation_replies::ActiveModel {
            mailbox_id: Set(mailbox),
            sender: Set(sender),
            tenant_id: Set(self.tid()),
            sent_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                vacation_replies::Column::MailboxId,
                vacation_replies::Column::Sender,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .or_else(|e| match e {
            sea_orm::DbErr::RecordNotInserted => Ok(0),
            e => Err(e),
        })?;
        Ok(inserted == 1)
    }
}

/// What the auto-reply stage needs of a mailbox.
#[derive(Debug, Clone)]
pub struct VacationOf {
    /// The mailbox's tenant.
    pub tenant: Uuid,
    /// Its address.
    pub address: String,
    /// Its display name.
    pub display_name: String,
    /// The auto-reply.
    pub vacation: Vacation,
}

impl SystemStore {
    /// The mailbox's auto-reply when it has one turned on; `None` otherwise.
    pub async fn vacation_of(&self, mailbox: Uuid) -> Result<Option<VacationOf>> {
        use super::scope::all_tenants;
        let Some(v) = all_tenants::find_by_id::<vacations::Entity>(mailbox)
            .filter(vacations::Column::Enabled.eq(true))
            .one(self.store.db())
            .await?
        else {
            return Ok(None);
        };
        let Some(m) = all_tenants::find_by_id::<mailboxes::Entity>(mailbox)
            .filter(mailboxes::Column::DeletedAt.is_null())
            .one(self.store.db())
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(VacationOf {
            tenant: m.tenant_id,
            address: m.address,
            display_name: m.display_name,
            vacation: v.into(),
        }))
    }

    /// Deletes records of replies older than any interval.
    pub async fn sweep_vacation_replies(&self, now: DateTime<Utc>) -> Result<u64> {
        use super::scope::all_tenants;
        Ok(all_tenants::delete_many::<vacation_replies::Entity>()
            .filter(
                vacation_replies::Column::SentAt
                    .lt(now - chrono::Duration::days(REPLIES_KEPT_DAYS)),
            )
            .exec(self.store.db())
            .await?
            .rows_affected)
    }
}
