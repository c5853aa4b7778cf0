//! Routing rules through the tenant-scoped store: the tenant's list, each domain's and each
//! mailbox's, ordered by position; and, for delivery, every enabled rule that applies to a
//! mailbox, in the order they run.

use super::entities::{mailboxes, rules, rules_versions};
use super::{SystemStore, TenantStore};
use crate::error::{Error, FieldError, Result};
use crate::ids::new_id;
use crate::rules::{MAX_NAME_CHARS, MAX_RULES_PER_LIST, RuleBody};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

/// Which list: the tenant's, a domain's or a mailbox's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleList {
    /// The tenant's rules: every copy in the tenant.
    Tenant,
    /// A domain's: copies for its mailboxes.
    Domain(Uuid),
    /// A mailbox's own.
    Mailbox(Uuid),
}

impl RuleList {
    /// `tenant`, `domain` or `mailbox`.
    pub fn level(self) -> &'static str {
        match self {
            RuleList::Tenant => "tenant",
            RuleList::Domain(_) => "domain",
            RuleList::Mailbox(_) => "mailbox",
        }
    }

    fn rank(level: &str) -> u8 {
        match level {
            "tenant" => 0,
            "domain" => 1,
            _ => 2,
        }
    }

    /// The list a rule row is in.
    pub fn of(r: &rules::Model) -> Self {
        match (r.level.as_str(), r.domain_id, r.mailbox_id) {
            ("domain", Some(d), _) => RuleList::Domain(d),
            ("mailbox", _, Some(m)) => RuleList::Mailbox(m),
            _ => RuleList::Tenant,
        }
    }

    /// The `domain_id` and `mailbox_id` of a rule in this list.
    fn ids(self) -> (Option<Uuid>, Option<Uuid>) {
        match self {
            RuleList::Tenant => (None, None),
            RuleList::Domain(d) => (Some(d), None),
            RuleList::Mailbox(m) => (None, Some(m)),
        }
    }

    fn filter(self) -> Condition {
        let c = Condition::all().add(rules::Column::Level.eq(self.level()));
        match self {
            RuleList::Tenant => c,
            RuleList::Domain(d) => c.add(rules::Column::DomainId.eq(d)),
            RuleList::Mailbox(m) => c.add(rules::Column::MailboxId.eq(m)),
        }
    }
}

/// A new rule.
#[derive(Debug, Clone)]
pub struct NewRule {
    /// Its list.
    pub list: RuleList,
    /// Its name.
    pub name: String,
    /// Whether it runs.
    pub enabled: bool,
    /// Its conditions and actions.
    pub body: RuleBody,
}

/// A change to a rule; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RulePatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub body: Option<RuleBody>,
}

fn check_name(name: &str) -> Result<()> {
    let n = name.trim().chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Error::Validation(vec![FieldError::new(
            "name",
            format!("1 to {MAX_NAME_CHARS} characters, on one line"),
        )]));
    }
    Ok(())
}

impl TenantStore {
    /// Raises the tenant's rules version (in the transaction of the change).
    async fn bump_rules_version<C: sea_orm::ConnectionTrait>(&self, c: &C) -> Result<()> {
        rules_versions::Entity::insert(rules_versions::ActiveModel {
            tenant_id: Set(self.tid()),
            version: Set(1),
        })
        .on_conflict(
            OnConflict::column(rules_versions::Column::TenantId)
                .value(
                    rules_versions::Column::Version,
                    Expr::col((rules_versions::Entity, rules_versions::Column::Version)).add(1),
                )
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
        Ok(())
    }

    /// Checks that the list exists in this tenant and that the caller may use it: a
    /// mailbox's own credentials reach only that mailbox's list.
    async fn check_list(&self, list: RuleList) -> Result<()> {
        match list {
            RuleList::Mailbox(m) => {
                self.mailbox(m).await?;
            }
            RuleList::Tenant | RuleList::Domain(_) if self.actor.mailbox.is_some() => {
                return Err(Error::Forbidden {
                    code: "forbidden",
                    detail: "a mailbox manages its own rules only".into(),
                });
            }
            RuleList::Domain(d) => {
                self.domain(d).await?;
            }
            RuleList::Tenant => {}
        }
        Ok(())
    }

    /// The rules of one list, in order.
    pub async fn list_rules(&self, list: RuleList) -> Result<Vec<rules::Model>> {
        self.check_list(list).await?;
        Ok(self
            .find::<rules::Entity>()
            .filter(list.filter())
            .order_by_asc(rules::Column::Position)
            .order_by_asc(rules::Column::CreatedAt)
            .all(self.store.db())
            .await?)
    }

    /// The enabled rules that apply to `mailbox`, in the order they run: the tenant's, its
    /// domain's, its own, each by position (what delivery and `POST /v1/rules/test` run).
    pub async fn rules_applying(&self, mailbox: Uuid) -> Result<Vec<rules::Model>> {
        let domain = self.mailbox(mailbox).await?.domain_id;
        let mut rows = self
            .find::<rules::Entity>()
            .filter(rules::Column::Enabled.eq(true))
            .filter(
                Condition::any()
                    .add(RuleList::Tenant.filter())
                    .add(RuleList::Domain(domain).filter())
                    .add(RuleList::Mailbox(mailbox).filter()),
            )
            .all(self.store.db())
            .await?;
        rows.sort_by(|a, b| {
            (RuleList::rank(&a.level), a.position, a.created_at).cmp(&(
                RuleList::rank(&b.level),
                b.position,
                b.created_at,
            ))
        });
        Ok(rows)
    }

    /// One rule.
    pub async fn rule(&self, id: Uuid) -> Result<rules::Model> {
        let r = self
            .find_by_id::<rules::Entity>(id)
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)?;
        // A mailbox's credentials see only its own rules.
        if let Some(own) = self.actor.mailbox
            && r.mailbox_id != Some(own)
        {
            return Err(Error::NotFound);
        }
        Ok(r)
    }

    /// Adds a rule at the end of its list.
    pub async fn create_rule(&self, r: NewRule) -> Result<rules::Model> {
        check_name(&r.name)?;
        r.body.check()?;
        self.check_list(r.list).await?;
        let tx = self.store.tx().await?;
        let count = self
            .find::<rules::Entity>()
            .filter(r.list.filter())
            .count(&*tx)
            .await?;
        if count >= MAX_RULES_PER_LIST {
            return Err(Error::Conflict {
                code: "too_many_rules",
                detail: format!("a list holds at most {MAX_RULES_PER_LIST} rules"),
            });
        }
        let last: Option<i64> = self
            .find::<rules::Entity>()
            .select_only()
            .column(rules::Column::Position)
            .filter(r.list.filter())
            .order_by_desc(rules::Column::Position)
            .into_tuple()
            .one(&*tx)
            .await?;
        let now = Utc::now();
        let row = rules::Model {
            id: new_id(),
            tenant_id: self.tid(),
            level: r.list.level().into(),
            domain_id: r.list.ids().0,
            mailbox_id: r.list.ids().1,
            position: last.map_or(0, |p| p + 1),
            name: r.name.trim().to_string(),
            enabled: r.enabled,
            body: serde_json::to_string(&r.body).map_err(|e| Error::Internal(e.to_string()))?,
            created_at: now,
            updated_at: now,
        };
        rules::Entity::insert(rules::ActiveModel {
            id: Set(row.id),
            tenant_id: Set(row.tenant_id),
            level: Set(row.level.clone()),
            domain_id: Set(row.domain_id),
            mailbox_id: Set(row.mailbox_id),
            position: Set(row.position),
            name: Set(row.name.clone()),
            enabled: Set(row.enabled),
            body: Set(row.body.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(&*tx)
        .await?;
        self.audit(
            &*tx,
            "rule.create",
            "rule",
            Some(row.id),
            json!({"name": row.name, "level": row.level}),
        )
        .await?;
        self.bump_rules_version(&*tx).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Changes a rule.
    pub async fn update_rule(&self, id: Uuid, p: RulePatch) -> Result<rules::Model> {
        if let Some(n) = &p.name {
            check_name(n)?;
        }
        if let Some(b) = &p.body {
            b.check()?;
        }
        let mut r = self.rule(id).await?;
        if let Some(n) = p.name {
            r.name = n.trim().to_string();
        }
        if let Some(e) = p.enabled {
            r.enabled = e;
        }
        if let Some(b) = p.body {
            r.body = serde_json::to_string(&b).map_err(|e| Error::Internal(e.to_string()))?;
        }
        // Strictly later than before: the delivery cache recompiles on a changed time.
        r.updated_at = Ord::max(Utc::now(), r.updated_at + chrono::Duration::microseconds(1));
        let tx = self.store.tx().await?;
        self.update_many::<rules::Entity>()
            .filter(rules::Column::Id.eq(id))
            .col_expr(rules::Column::Name, Expr::value(r.name.clone()))
            .col_expr(rules::Column::Enabled, Expr::value(r.enabled))
            .col_expr(rules::Column::Body, Expr::value(r.body.clone()))
            .col_expr(rules::Column::UpdatedAt, Expr::value(r.updated_at))
            .exec(&*tx)
            .await?;
        self.audit(
            &*tx,
            "rule.update",
            "rule",
            Some(id),
            json!({"name": r.name, "enabled": r.enabled}),
        )
        .await?;
        self.bump_rules_version(&*tx).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Deletes a rule.
    pub async fn delete_rule(&self, id: Uuid) -> Result<()> {
        let r = self.rule(id).await?;
        let tx = self.store.tx().await?;
        self.delete_many::<rules::Entity>()
            .filter(rules::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        self.audit(
            &*tx,
            "rule.delete",
            "rule",
            Some(id),
            json!({"name": r.name}),
        )
        .await?;
        self.bump_rules_version(&*tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a whole list with `rules` (name, body), in order, at once (a Sieve import):
    /// either every rule is saved or none.
    pub async fn replace_rules(
        &self,
        list: RuleList,
        rules: Vec<(String, RuleBody)>,
    ) -> Result<Vec<rules::Model>> {
        self.check_list(list).await?;
        if rules.len() as u64 > MAX_RULES_PER_LIST {
            return Err(Error::Conflict {
                code: "too_many_rules",
                detail: format!("a list holds at most {MAX_RULES_PER_LIST} rules"),
            });
        }
        for (name, body) in &rules {
            check_name(name)?;
            body.check()?;
        }
        let tx = self.store.tx().await?;
        self.delete_many::<rules::Entity>()
            .filter(list.filter())
            .exec(&*tx)
            .await?;
        let now = Utc::now();
        for (pos, (name, body)) in rules.iter().enumerate() {
            rules::Entity::insert(rules::ActiveModel {
                id: Set(new_id()),
                tenant_id: Set(self.tid()),
                level: Set(list.level().into()),
                domain_id: Set(list.ids().0),
                mailbox_id: Set(list.ids().1),
                position: Set(pos as i64),
                name: Set(name.trim().to_string()),
                enabled: Set(true),
                body: Set(serde_json::to_string(body).map_err(|e| Error::Internal(e.to_string()))?),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .exec_without_returning(&*tx)
            .await?;
        }
        self.audit(
            &*tx,
            "rule.import",
            "rule",
            None,
            json!({"level": list.level(), "rules": rules.len()}),
        )
        .await?;
        self.bump_rules_version(&*tx).await?;
        tx.commit().await?;
        self.list_rules(list).await
    }

    /// Puts a list in the order of `ids`, which must name each of its rules once.
    pub async fn reorder_rules(&self, list: RuleList, ids: &[Uuid]) -> Result<Vec<rules::Model>> {
        let current = self.list_rules(list).await?;
        let mut want: Vec<Uuid> = ids.to_vec();
        want.sort();
        let mut have: Vec<Uuid> = current.iter().map(|r| r.id).collect();
        have.sort();
        if want != have {
            return Err(Error::Validation(vec![FieldError::new(
                "ids",
                "must name every rule of the list once, and nothing else",
            )]));
        }
        let tx = self.store.tx().await?;
        for (pos, id) in ids.iter().enumerate() {
            self.update_many::<rules::Entity>()
                .filter(rules::Column::Id.eq(*id))
                .col_expr(rules::Column::Position, Expr::value(pos as i64))
                .exec(&*tx)
                .await?;
        }
        self.audit(
            &*tx,
            "rule.reorder",
            "rule",
            None,
            json!({"level": list.level(), "ids": ids}),
        )
        .await?;
        self.bump_rules_version(&*tx).await?;
        tx.commit().await?;
        self.list_rules(list).await
    }
}

impl SystemStore {
    /// The tenant's rules version (0 before its first rule).
    pub async fn rules_version(&self, tenant: Uuid) -> Result<i64> {
        use super::scope::all_tenants;
        let v: Option<i64> = all_tenants::find_by_id::<rules_versions::Entity>(tenant)
            .select_only()
            .column(rules_versions::Column::Version)
            .into_tuple()
            .one(self.store.db())
            .await?;
        Ok(v.unwrap_or(0))
    }

    /// The tenant of a (not deleted) mailbox.
    pub async fn tenant_of_mailbox(&self, mailbox: Uuid) -> Result<Option<Uuid>> {
        use super::scope::all_tenants;
        Ok(all_tenants::find_by_id::<mailboxes::Entity>(mailbox)
            .select_only()
            .column(mailboxes::Column::TenantId)
            .filter(mailboxes::Column::DeletedAt.is_null())
            .into_tuple()
            .one(self.store.db())
            .await?)
    }
}
