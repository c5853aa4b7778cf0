//! A tenant's spam settings and its own classifier counts, through the tenant-scoped store.

use super::TenantStore;
use super::entities::{spam_learned, spam_lists, spam_quarantine, spam_settings, spam_tokens};
use crate::error::{Error, FieldError, Result};
use crate::spam::bayes::{Counts, Model};
use crate::spam::{DEFAULT_JUNK, DEFAULT_REJECT};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use std::collections::HashMap;

/// What a DMARC failure of a domain publishing `p=reject` gets.
pub const DMARC_REJECT_CHOICES: [&str; 2] = ["reject", "junk"];

/// Seconds a greylisted sender waits by default (what most greylisting servers use).
pub const DEFAULT_GREYLIST_DELAY_SECS: u32 = 300;
/// Longest greylisting delay that may be set (an hour: longer delays lose mail from servers
/// that give up early).
pub const MAX_GREYLIST_DELAY_SECS: u32 = 3600;
/// Days a quarantined message is kept by default.
pub const DEFAULT_QUARANTINE_DAYS: u32 = 30;
/// Longest quarantine retention that may be set.
pub const MAX_QUARANTINE_DAYS: u32 = 365;

/// Token rows written per statement.
const TOKENS_PER_STATEMENT: usize = 500;

/// A tenant's spam settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SpamSettings {
    /// Incoming mail is scored (and filed by its score).
    pub enabled: bool,
    /// At or above: Junk.
    pub junk_threshold: f64,
    /// At or above: refused at SMTP time; `None`: never.
    pub reject_threshold: Option<f64>,
    /// At or above (and below `reject_threshold`): held in quarantine; `None`: never.
    pub quarantine_threshold: Option<f64>,
    /// `reject`: refused at SMTP time (`550 5.7.1`); `junk`: scored (`DMARC_REJECT`).
    pub dmarc_reject: String,
    /// Spam messages its users taught the classifier.
    pub learned_spam: i64,
    /// Ham messages its users taught the classifier.
    pub learned_ham: i64,
    /// A new (client network, sender, recipient) is asked to retry later (`451 4.7.1`).
    pub greylist: bool,
    /// Seconds before a greylisted sender's retry is taken.
    pub greylist_delay_secs: u32,
    /// Days a quarantined message is kept before it is deleted.
    pub quarantine_days: u32,
    /// The classifier learns by itself from messages other evidence makes certain.
    pub autolearn: bool,
}

impl Default for SpamSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            junk_threshold: DEFAULT_JUNK,
            reject_threshold: Some(DEFAULT_REJECT),
            quarantine_threshold: None,
            dmarc_reject: "junk".into(),
            learned_spam: 0,
            learned_ham: 0,
            greylist: false,
            greylist_delay_secs: DEFAULT_GREYLIST_DELAY_SECS,
            quarantine_days: DEFAULT_QUARANTINE_DAYS,
            autolearn: true,
        }
    }
}

impl From<spam_settings::Model> for SpamSettings {
    fn from(m: spam_settings::Model) -> Self {
        Self {
            enabled: m.enabled,
            junk_threshold: m.junk_threshold,
            reject_threshold: m.reject_threshold,
            quarantine_threshold: m.quarantine_threshold,
            dmarc_reject: m.dmarc_reject,
            learned_spam: m.learned_spam,
            learned_ham: m.learned_ham,
            greylist: m.greylist,
            greylist_delay_secs: Ord::max(m.greylist_delay_secs, 1) as u32,
            quarantine_days: Ord::max(m.quarantine_days, 1) as u32,
            autolearn: m.autolearn,
        }
    }
}

impl SpamSettings {
    /// The thresholds, as the filter reads them.
    pub fn thresholds(&self) -> crate::spam::Thresholds {
        crate::spam::Thresholds {
            junk: self.junk_threshold,
            quarantine: self.quarantine_threshold,
            reject: self.reject_threshold,
        }
    }
}

/// A change to the settings: `None` leaves a field as it is; `reject_threshold:
/// Some(None)` turns refusing off.
#[derive(Debug, Clone, Default)]
pub struct SpamSettingsPatch {
    pub enabled: Option<bool>,
    pub junk_threshold: Option<f64>,
    pub reject_threshold: Option<Option<f64>>,
    pub quarantine_threshold: Option<Option<f64>>,
    pub dmarc_reject: Option<String>,
    pub greylist: Option<bool>,
    pub greylist_delay_secs: Option<u32>,
    pub quarantine_days: Option<u32>,
    pub autolearn: Option<bool>,
}

/// What learning a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learnt {
    /// New lesson.
    Learnt,
    /// It was learnt with the other label: that lesson was taken back.
    Relearnt,
    /// Already learnt with this label: nothing changed.
    AlreadyKnown,
}

fn check_patch(p: &SpamSettingsPatch, current: &SpamSettings) -> Result<()> {
    let mut errors = Vec::new();
    let junk = p.junk_threshold.unwrap_or(current.junk_threshold);
    if !(junk.is_finite() && (-100.0..=1000.0).contains(&junk)) {
        errors.push(FieldError::new(
            "junk_threshold",
            "must be a number from -100 to 1000",
        ));
    }
    let reject = p.reject_threshold.unwrap_or(current.reject_threshold);
    if let Some(r) = reject
        && !(r.is_finite() && r > junk && r <= 1000.0)
    {
        errors.push(FieldError::new(
            "reject_threshold",
            "must be above junk_threshold and at most 1000, or null (never refuse)",
        ));
    }
    let quarantine = p
        .quarantine_threshold
        .unwrap_or(current.quarantine_threshold);
    if let Some(q) = quarantine
        && !(q.is_finite() && q > junk && reject.is_none_or(|r| q < r))
    {
        errors.push(FieldError::new(
            "quarantine_threshold",
            "must be above junk_threshold and below reject_threshold, or null (no quarantine)",
        ));
    }
    if let Some(d) = &p.dmarc_reject
        && !DMARC_REJECT_CHOICES.contains(&d.as_str())
    {
        errors.push(FieldError::new("dmarc_reject", "must be reject or junk"));
    }
    if let Some(d) = p.greylist_delay_secs
        && !(1..=MAX_GREYLIST_DELAY_SECS).contains(&d)
    {
        errors.push(FieldError::new(
            "greylist_delay_secs",
            format!("must be from 1 to {MAX_GREYLIST_DELAY_SECS} seconds"),
        ));
    }
    if let Some(d) = p.quarantine_days
        && !(1..=MAX_QUARANTINE_DAYS).contains(&d)
    {
        errors.push(FieldError::new(
            "quarantine_days",
            format!("must be from 1 to {MAX_QUARANTINE_DAYS} days"),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

impl TenantStore {
    /// The tenant's spam settings (the defaults until changed).
    pub async fn spam_settings(&self) -> Result<SpamSettings> {
        Ok(self
            .find::<spam_settings::Entity>()
            .one(self.store.db())
            .await?
            .map(SpamSettings::from)
            .unwrap_or_default())
    }

    /// Changes the tenant's spam settings.
    pub async fn update_spam_settings(&self, p: SpamSettingsPatch) -> Result<SpamSettings> {
        let tx = self.store.tx().await?;
        let current = self
            .find::<spam_settings::Entity>()
            .one(&*tx)
            .await?
            .map(SpamSettings::from)
            .unwrap_or_default();
        check_patch(&p, &current)?;
        let next = SpamSettings {
            enabled: p.enabled.unwrap_or(current.enabled),
            junk_threshold: p.junk_threshold.unwrap_or(current.junk_threshold),
            reject_threshold: p.reject_threshold.unwrap_or(current.reject_threshold),
            quarantine_threshold: p
                .quarantine_threshold
                .unwrap_or(current.quarantine_threshold),
            dmarc_reject: p.dmarc_reject.clone().unwrap_or(current.dmarc_reject),
            greylist: p.greylist.unwrap_or(current.greylist),
            greylist_delay_secs: p.greylist_delay_secs.unwrap_or(current.greylist_delay_secs),
            quarantine_days: p.quarantine_days.unwrap_or(current.quarantine_days),
            autolearn: p.autolearn.unwrap_or(current.autolearn),
            ..current
        };
        spam_settings::Entity::insert(spam_settings::ActiveModel {
            tenant_id: Set(self.tid()),
            enabled: Set(next.enabled),
            junk_threshold: Set(next.junk_threshold),
            reject_threshold: Set(next.reject_threshold),
            quarantine_threshold: Set(next.quarantine_threshold),
            dmarc_reject: Set(next.dmarc_reject.clone()),
            learned_spam: Set(next.learned_spam),
            learned_ham: Set(next.learned_ham),
            greylist: Set(next.greylist),
            greylist_delay_secs: Set(next.greylist_delay_secs as i32),
            quarantine_days: Set(next.quarantine_days as i32),
            autolearn: Set(next.autolearn),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(spam_settings::Column::TenantId)
                .update_columns([
                    spam_settings::Column::Enabled,
                    spam_settings::Column::JunkThreshold,
                    spam_settings::Column::RejectThreshold,
                    spam_settings::Column::QuarantineThreshold,
                    spam_settings::Column::DmarcReject,
                    spam_settings::Column::Greylist,
                    spam_settings::Column::GreylistDelaySecs,
                    spam_settings::Column::QuarantineDays,
                    spam_settings::Column::Autolearn,
                    spam_settings::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&*tx)
        .await?;
        self.audit(
            &*tx,
            "spam.settings.update",
            "tenant",
            Some(self.tid()),
            json!({
                "enabled": next.enabled,
                "junk_threshold": next.junk_threshold,
                "reject_threshold": next.reject_threshold,
                "quarantine_threshold": next.quarantine_threshold,
                "dmarc_reject": next.dmarc_reject,
                "greylist": next.greylist,
                "greylist_delay_secs": next.greylist_delay_secs,
                "quarantine_days": next.quarantine_days,
                "autolearn": next.autolearn,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// The tenant's own counts for `tokens` (those it has), with its message totals from
    /// `s` (its settings, read by the caller); `None` when it has learnt nothing.
    pub async fn spam_own_model(&self, s: &SpamSettings, tokens: &[u64]) -> Result<Option<Model>> {
        if s.learned_spam + s.learned_ham == 0 {
            return Ok(None);
        }
        let mut model = Model {
            nspam: s.learned_spam.clamp(0, i64::from(u32::MAX)) as u32,
            nham: s.learned_ham.clamp(0, i64::from(u32::MAX)) as u32,
            tokens: HashMap::new(),
        };
        for part in tokens.chunks(TOKENS_PER_STATEMENT) {
            let keys: Vec<i64> = part.iter().map(|t| *t as i64).collect();
            let rows = self
                .find::<spam_tokens::Entity>()
                .filter(spam_tokens::Column::Token.is_in(keys))
                .all(self.store.db())
                .await?;
            for r in rows {
                model.tokens.insert(
                    r.token as u64,
                    Counts {
                        spam: r.spam.clamp(0, i64::from(u32::MAX)) as u32,
                        ham: r.ham.clamp(0, i64::from(u32::MAX)) as u32,
                    },
                );
            }
        }
        Ok(Some(model))
    }

    /// Teaches the tenant's classifier that the message whose body has `digest`
    /// ([`super::blob_hash`]: a stored message's `blob_hash`) and these distinct tokens is
    /// spam (or ham). Learning the same message again changes nothing; with the other label,
    /// the earlier lesson (a user's or autolearn's) is taken back first.
    pub async fn spam_learn(&self, digest: &str, tokens: &[u64], spam: bool) -> Result<Learnt> {
        self.learn(digest, tokens, spam, true).await
    }

    /// Autolearn: like [`TenantStore::spam_learn`], but a message learnt before, with either
    /// label, is left as it is (a user's lesson is never overturned by autolearn).
    pub async fn spam_autolearn(&self, digest: &str, tokens: &[u64], spam: bool) -> Result<Learnt> {
        self.learn(digest, tokens, spam, false).await
    }

    async fn learn(
        &self,
        digest: &str,
        tokens: &[u64],
        spam: bool,
        relabel: bool,
    ) -> Result<Learnt> {
        let tx = self.store.tx().await?;
        let before = self
            .find::<spam_learned::Entity>()
            .filter(spam_learned::Column::Digest.eq(digest))
            .one(&*tx)
            .await?;
        let outcome = match before {
            Some(b) if b.spam == spam || !relabel => return Ok(Learnt::AlreadyKnown),
            Some(_) => {
                self.add_tokens(&tx, tokens, !spam, -1).await?;
                self.update_many::<spam_learned::Entity>()
                    .col_expr(spam_learned::Column::Spam, Expr::value(spam))
                    .filter(spam_learned::Column::Digest.eq(digest))
                    .exec(&*tx)
                    .await?;
                Learnt::Relearnt
            }
            None => {
                // Two copies learnt at once: the second finds the row and learns nothing.
                let inserted = spam_learned::Entity::insert(spam_learned::ActiveModel {
                    tenant_id: Set(self.tid()),
                    digest: Set(digest.to_string()),
                    spam: Set(spam),
                    created_at: Set(Utc::now()),
                })
                .on_conflict(
                    OnConflict::columns([
                        spam_learned::Column::TenantId,
                        spam_learned::Column::Digest,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&*tx)
                .await
                .or_else(|e| match e {
                    sea_orm::DbErr::RecordNotInserted => Ok(0),
                    e => Err(e),
                })?;
                if inserted == 0 {
                    return Ok(Learnt::AlreadyKnown);
                }
                Learnt::Learnt
            }
        };
        self.add_tokens(&tx, tokens, spam, 1).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Adds `by` to the spam (or ham) count of each token and of the messages learnt.
    async fn add_tokens(&self, tx: &super::Tx, tokens: &[u64], spam: bool, by: i64) -> Result<()> {
        let col = if spam {
            spam_tokens::Column::Spam
        } else {
            spam_tokens::Column::Ham
        };
        let name = if spam { "spam" } else { "ham" };
        for part in tokens.chunks(TOKENS_PER_STATEMENT) {
            let rows = part.iter().map(|t| spam_tokens::ActiveModel {
                tenant_id: Set(self.tid()),
                token: Set(*t as i64),
                spam: Set(if spam { by } else { 0 }),
                ham: Set(if spam { 0 } else { by }),
            });
            if by > 0 {
                spam_tokens::Entity::insert_many(rows)
                    .on_conflict(
                        OnConflict::columns([
                            spam_tokens::Column::TenantId,
                            spam_tokens::Column::Token,
                        ])
                        .value(
                            col,
                            Expr::cust(format!("spam_tokens.{name} + excluded.{name}")),
                        )
                        .to_owned(),
                    )
                    .exec_without_returning(&**tx)
                    .await?;
            } else {
                let keys: Vec<i64> = part.iter().map(|t| *t as i64).collect();
                self.update_many::<spam_tokens::Entity>()
                    .col_expr(col, Expr::col(col).add(by))
                    .filter(spam_tokens::Column::Token.is_in(keys.clone()))
                    .filter(col.gt(0))
                    .exec(&**tx)
                    .await?;
                self.delete_many::<spam_tokens::Entity>()
                    .filter(spam_tokens::Column::Token.is_in(keys))
                    .filter(spam_tokens::Column::Spam.lte(0))
                    .filter(spam_tokens::Column::Ham.lte(0))
                    .exec(&**tx)
                    .await?;
            }
        }
        // The message totals live with the settings (a row is made with the defaults).
        let d = SpamSettings::default();
        spam_settings::Entity::insert(spam_settings::ActiveModel {
            tenant_id: Set(self.tid()),
            enabled: Set(d.enabled),
            junk_threshold: Set(d.junk_threshold),
            reject_threshold: Set(d.reject_threshold),
            quarantine_threshold: Set(d.quarantine_threshold),
            dmarc_reject: Set(d.dmarc_reject),
            learned_spam: Set(0),
            learned_ham: Set(0),
            greylist: Set(d.greylist),
            greylist_delay_secs: Set(d.greylist_delay_secs as i32),
            quarantine_days: Set(d.quarantine_days as i32),
            autolearn: Set(d.autolearn),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(spam_settings::Column::TenantId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&**tx)
        .await
        .or_else(|e| match e {
            sea_orm::DbErr::RecordNotInserted => Ok(0),
            e => Err(e),
        })?;
        let total = if spam {
            spam_settings::Column::LearnedSpam
        } else {
            spam_settings::Column::LearnedHam
        };
        self.update_many::<spam_settings::Entity>()
            .col_expr(total, Expr::col(total).add(by))
            .exec(&**tx)
            .await?;
        Ok(())
    }
}

impl super::SystemStore {
    /// The tenant of a mailbox and the spam settings it is judged by (the tenant's, with the
    /// mailbox's own Junk threshold when it has one; the MX path, per recipient); `None` when
    /// the mailbox is gone.
    pub async fn spam_settings_of_mailbox(
        &self,
        mailbox: uuid::Uuid,
    ) -> Result<Option<(uuid::Uuid, SpamSettings)>> {
        use super::entities::mailboxes;
        use super::scope::all_tenants;
        use sea_orm::QuerySelect;
        let found: Option<(uuid::Uuid, Option<f64>)> =
            all_tenants::find_by_id::<mailboxes::Entity>(mailbox)
                .select_only()
                .column(mailboxes::Column::TenantId)
                .column(mailboxes::Column::SpamJunkThreshold)
                .into_tuple()
                .one(self.store.db())
                .await?;
        let Some((tenant, own_junk)) = found else {
            return Ok(None);
        };
        let mut settings = self.spam_store(tenant).spam_settings().await?;
        // The mailbox's own Junk threshold, when it set one.
        if let Some(j) = own_junk {
            settings.junk_threshold = j;
        }
        Ok(Some((tenant, settings)))
    }

    /// A tenant store for the spam filter's work on `tenant`'s behalf.
    pub fn spam_store(&self, tenant: uuid::Uuid) -> TenantStore {
        TenantStore::new(
            self.store.clone(),
            crate::ids::TenantId::from_uuid(tenant),
            super::Actor::system("spam"),
        )
    }
}

/// `allow` or `block`.
pub const SPAM_LIST_KINDS: [&str; 2] = ["allow", "block"];
/// Entries one tenant's lists hold at most.
pub const MAX_SPAM_LIST: u64 = 10_000;

/// A list entry to add.
#[derive(Debug, Clone)]
pub struct NewSpamListEntry {
    /// `None`: every mailbox of the tenant.
    pub mailbox_id: Option<uuid::Uuid>,
    /// `allow` or `block`.
    pub kind: String,
    /// An address or a domain.
    pub pattern: String,
    /// Why.
    pub note: String,
}

/// A list pattern as stored: lower case, an address (`a@b.example`) or a domain
/// (`b.example`; a leading `@` or `*.` is dropped).
pub fn spam_list_pattern(p: &str) -> Result<String> {
    let p = p.trim().to_lowercase();
    let p = p
        .strip_prefix("*.")
        .or_else(|| p.strip_prefix('@'))
        .unwrap_or(&p)
        .to_string();
    let bad = || {
        Error::invalid(
            "pattern",
            "must be an address (a@b.example) or a domain (b.example)",
        )
    };
    if p.is_empty() || p.len() > 320 || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let domain = match p.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !local.contains('@') => domain,
        Some(_) => return Err(bad()),
        None => p.as_str(),
    };
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err(bad());
    }
    Ok(p)
}

/// Whether a list pattern covers an address: the same address, or an address at the domain
/// or one of its subdomains.
pub fn spam_list_covers(pattern: &str, address: &str) -> bool {
    let address = address.trim().to_lowercase();
    if pattern.contains('@') {
        return pattern == address;
    }
    let Some((_, domain)) = address.rsplit_once('@') else {
        return false;
    };
    domain == pattern
        || domain
            .strip_suffix(pattern)
            .is_some_and(|rest| rest.ends_with('.'))
}

impl TenantStore {
    /// The tenant's allow and block list entries (tenant-wide and per mailbox), oldest first.
    pub async fn list_spam_entries(
        &self,
        mailbox: Option<uuid::Uuid>,
        page: super::PageRequest,
    ) -> Result<super::Page<spam_lists::Model>> {
        let mut q = self.find::<spam_lists::Entity>();
        if let Some(m) = mailbox {
            q = q.filter(spam_lists::Column::MailboxId.eq(m));
        }
        super::page::fetch_page(
            self.store.db(),
            q,
            spam_lists::Column::Id,
            page,
            false,
            |m| m.id,
        )
        .await
    }

    /// The entries that apply to a mailbox: the tenant's and the mailbox's own.
    pub async fn spam_entries_for(&self, mailbox: uuid::Uuid) -> Result<Vec<spam_lists::Model>> {
        use sea_orm::Condition;
        Ok(self
            .find::<spam_lists::Entity>()
            .filter(
                Condition::any()
                    .add(spam_lists::Column::MailboxId.is_null())
                    .add(spam_lists::Column::MailboxId.eq(mailbox)),
            )
            .all(self.store.db())
            .await?)
    }

    /// Adds an entry to the allow or block list.
    pub async fn add_spam_entry(&self, e: NewSpamListEntry) -> Result<spam_lists::Model> {
        use sea_orm::{ActiveModelTrait, PaginatorTrait};
        if !SPAM_LIST_KINDS.contains(&e.kind.as_str()) {
            return Err(Error::invalid("kind", "must be allow or block"));
        }
        let pattern = spam_list_pattern(&e.pattern)?;
        if e.note.chars().count() > 500 {
            return Err(Error::invalid("note", "at most 500 characters"));
        }
        if let Some(m) = e.mailbox_id {
            self.mailbox(m).await?;
        }
        let tx = self.store.tx().await?;
        let existing = self
            .find::<spam_lists::Entity>()
            .filter(spam_lists::Column::Pattern.eq(pattern.clone()))
            .all(&*tx)
            .await?;
        if existing.iter().any(|x| x.mailbox_id == e.mailbox_id) {
            return Err(Error::conflict(
                "already_listed",
                "this pattern is on the list already (remove it to change it)",
            ));
        }
        if self.find::<spam_lists::Entity>().count(&*tx).await? >= MAX_SPAM_LIST {
            return Err(Error::conflict(
                "limit_reached",
                format!("a tenant's spam lists hold at most {MAX_SPAM_LIST} entries"),
            ));
        }
        let row = spam_lists::ActiveModel {
            id: Set(crate::ids::new_id()),
            tenant_id: Set(self.tid()),
            mailbox_id: Set(e.mailbox_id),
            kind: Set(e.kind.clone()),
            pattern: Set(pattern.clone()),
            note: Set(e.note.clone()),
            created_at: Set(Utc::now()),
        }
        .insert(&*tx)
        .await?;
        self.audit(
            &*tx,
            "spam.list.add",
            "spam_list",
            Some(row.id),
            json!({"kind": e.kind, "pattern": pattern, "mailbox_id": e.mailbox_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Removes an entry.
    pub async fn remove_spam_entry(&self, id: uuid::Uuid) -> Result<()> {
        let tx = self.store.tx().await?;
        let r = self
            .delete_many::<spam_lists::Entity>()
            .filter(spam_lists::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        if r.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        self.audit(&*tx, "spam.list.remove", "spam_list", Some(id), json!({}))
            .await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_addresses_or_domains() {
        assert_eq!(
            spam_list_pattern(" News@Shop.Example ").unwrap(),
            "news@shop.example"
        );
        assert_eq!(spam_list_pattern("@shop.example").unwrap(), "shop.example");
        assert_eq!(spam_list_pattern("*.shop.example").unwrap(), "shop.example");
        for bad in [
            "",
            "shop",
            "a b.example",
            "@",
            "x@",
            "@@x.example",
            ".example",
        ] {
            assert!(spam_list_pattern(bad).is_err(), "{bad}");
        }
        assert!(spam_list_covers("shop.example", "a@shop.example"));
        assert!(spam_list_covers("shop.example", "a@mail.shop.example"));
        assert!(!spam_list_covers("shop.example", "a@evilshop.example"));
        assert!(spam_list_covers("a@shop.example", "A@Shop.Example"));
        assert!(!spam_list_covers("a@shop.example", "b@shop.example"));
    }
}

/// A message to hold in quarantine for one mailbox.
#[derive(Debug, Clone)]
pub struct Quarantined<'a> {
    pub mailbox_id: uuid::Uuid,
    pub sender: &'a str,
    pub from: &'a str,
    pub subject: &'a str,
    pub score: f64,
    pub report: serde_json::Value,
    pub data: &'a [u8],
}

impl TenantStore {
    /// Holds a message in quarantine for a mailbox (the same bytes held for it already are
    /// not held twice: a sender retrying after a failure).
    pub async fn quarantine(&self, q: Quarantined<'_>) -> Result<uuid::Uuid> {
        use sea_orm::ActiveModelTrait;
        let size = q.data.len() as i64;
        let same = self
            .find::<spam_quarantine::Entity>()
            .filter(spam_quarantine::Column::MailboxId.eq(q.mailbox_id))
            .filter(spam_quarantine::Column::Size.eq(size))
            .filter(spam_quarantine::Column::Subject.eq(q.subject))
            .all(self.store.db())
            .await?
            .into_iter()
            .find(|r| r.data == q.data);
        if let Some(r) = same {
            return Ok(r.id);
        }
        let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
        let row = spam_quarantine::ActiveModel {
            id: Set(crate::ids::new_id()),
            tenant_id: Set(self.tid()),
            mailbox_id: Set(q.mailbox_id),
            sender: Set(cut(q.sender, 320)),
            from_addr: Set(cut(q.from, 320)),
            subject: Set(cut(q.subject, 500)),
            score: Set(q.score),
            report: Set(q.report.to_string()),
            size: Set(size),
            data: Set(q.data.to_vec()),
            created_at: Set(Utc::now()),
        }
        .insert(&*self.store.writer().await)
        .await?;
        Ok(row.id)
    }

    /// The tenant's quarantine (optionally one mailbox's), newest first, without the bytes.
    pub async fn list_quarantine(
        &self,
        mailbox: Option<uuid::Uuid>,
        page: super::PageRequest,
    ) -> Result<super::Page<spam_quarantine::Model>> {
        let mut q = self.find::<spam_quarantine::Entity>();
        if let Some(m) = mailbox {
            self.mailbox(m).await?;
            q = q.filter(spam_quarantine::Column::MailboxId.eq(m));
        }
        super::page::fetch_page(
            self.store.db(),
            q,
            spam_quarantine::Column::Id,
            page,
            true,
            |m| m.id,
        )
        .await
    }

    /// One held message, bytes included.
    pub async fn quarantined(&self, id: uuid::Uuid) -> Result<spam_quarantine::Model> {
        self.find_by_id::<spam_quarantine::Entity>(id)
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)
    }

    /// Lets go of a held message (released or deleted).
    pub async fn drop_quarantined(&self, id: uuid::Uuid, action: &str) -> Result<()> {
        let tx = self.store.tx().await?;
        let r = self
            .delete_many::<spam_quarantine::Entity>()
            .filter(spam_quarantine::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        if r.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        self.audit(&*tx, action, "spam_quarantine", Some(id), json!({}))
            .await?;
        tx.commit().await
    }
}
