//! "What does this recipient address deliver to?" — one resolver for the SMTP server and for
//! admins (`GET /v1/routing/resolve`).
//!
//! For an address on one of our verified domains, in order of precedence:
//! 1. the exact local part: a mailbox, an alias or a group (they share one namespace);
//! 2. the sub-address base: `ana+news@` reaches `ana@`;
//! 3. a domain alias: every address of `example.net` delivers as the same address of
//!    `example.com` (steps 1, 2 and 4 there);
//! 4. the domain's catch-all alias (`*@`);
//! 5. otherwise the address is unknown.
//!
//! Aliases and groups expand recursively (a group may contain groups); an address already
//! expanded is not expanded again (loops are cut), and expansion stops at a depth and a
//! recipient limit. Expansion never leaves the tenant of the address: a destination on another
//! tenant's domain is external (it will go out through the outbound path and come back in as
//! that tenant's mail, subject to its rules, quotas and suspensions).

use super::entities::kinds::DomainStatus;
use super::entities::kinds::MailboxStatus;
use super::entities::{aliases, domains, group_members, groups, local_parts, mailboxes};
use super::scope::{Tenant, all_tenants};
use crate::error::Result;
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter};
use serde::Serialize;
use std::collections::{HashSet, VecDeque};
use uuid::Uuid;

/// How deep aliases and groups may nest.
pub const MAX_DEPTH: usize = 10;
/// How many final recipients one address may expand to.
pub const MAX_RECIPIENTS: usize = 1000;
/// Steps of the trace kept.
const MAX_TRACE: usize = 100;

/// A mailbox the address delivers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Mailbox id.
    pub mailbox_id: Uuid,
    /// Its address.
    pub address: String,
    /// Whether it has used its whole quota (as read while resolving: the SMTP server answers
    /// a lone full mailbox with `452` without asking again).
    #[serde(skip)]
    pub full: bool,
}

/// Why an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// `not_our_domain`, `unknown_recipient`, `mailbox_suspended`, `expansion_limit` or
    /// `invalid_address`.
    pub code: &'static str,
    /// For people.
    pub detail: String,
}

/// A group with a sending policy that the address reaches: the sender must be allowed by it
/// (checked once the message and its authentication results are known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendGuard {
    /// The group's address.
    pub group: String,
    /// `tenant` or `members` (`anyone` needs no guard).
    pub policy: String,
    /// The group's tenant (`tenant`: the sender's domain must be one of its verified domains).
    #[serde(skip)]
    pub tenant_id: Uuid,
    /// The group's member addresses, lower case (`members`: the sender must be one of them).
    #[serde(skip)]
    pub members: Vec<String>,
}

/// The answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Resolution {
    /// The address as normalised.
    pub address: String,
    /// Mailboxes to deliver to, each once.
    pub mailboxes: Vec<Delivery>,
    /// External addresses to forward to, each once.
    pub external: Vec<String>,
    /// Set when the address must be refused (at SMTP: 550).
    pub rejected: Option<Rejection>,
    /// Groups reached with a sending policy to enforce (a group reached through another
    /// group is sent to by that group, which is its member, so it sets no guard).
    pub send_policies: Vec<SendGuard>,
    /// How the answer was reached, step by step.
    pub trace: Vec<String>,
}

/// Resolves addresses, seeing only `tenant`'s domains when given (the API), or every
/// tenant's (the SMTP server).
pub(crate) struct Resolver<'a, C> {
    pub(crate) db: &'a C,
    pub(crate) tenant: Option<Uuid>,
}

enum Target {
    Mailbox(mailboxes::Model),
    Alias(aliases::Model),
    Group(groups::Model),
}

/// Splits and normalises `local@domain` (the domain to punycode, both lower case).
pub fn split_address(address: &str) -> Option<(String, String)> {
    let address = address.trim();
    let (local, domain) = address.rsplit_once('@')?;
    if local.is_empty()
        || local.len() > 64
        || local.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let domain = idna::domain_to_ascii(domain.trim_end_matches('.')).ok()?;
    if domain.is_empty() {
        return None;
    }
    Some((local.to_ascii_lowercase(), domain))
}

impl<C: ConnectionTrait> Resolver<'_, C> {
    /// A verified domain by name, of `tenant` when given.
    async fn domain(&self, name: &str, tenant: Option<Uuid>) -> Result<Option<domains::Model>> {
        let mut q = all_tenants::find::<domains::Entity>()
            .filter(domains::Column::Name.eq(name))
            .filter(domains::Column::Status.eq(DomainStatus::Verified));
        if let Some(t) = tenant {
            q = q.filter(domains::Column::TenantId.eq(t));
        }
        Ok(q.one(self.db).await?)
    }

    async fn entry(&self, domain: Uuid, local: &str) -> Result<Option<Target>> {
        // The common case, a mailbox, in one query.
        let owner = Query::select()
            .column(local_parts::Column::OwnerId)
            .from(local_parts::Entity)
            .and_where(local_parts::Column::DomainId.eq(domain))
            .and_where(local_parts::Column::LocalPart.eq(local))
            .and_where(local_parts::Column::OwnerType.eq("mailbox"))
            .to_owned();
        if let Some(m) = all_tenants::find::<mailboxes::Entity>()
            .filter(mailboxes::Column::Id.in_subquery(owner))
            .filter(mailboxes::Column::DeletedAt.is_null())
            .one(self.db)
            .await?
        {
            return Ok(Some(Target::Mailbox(m)));
        }
        let Some(lp) = all_tenants::find::<local_parts::Entity>()
            .filter(local_parts::Column::DomainId.eq(domain))
            .filter(local_parts::Column::LocalPart.eq(local))
            .one(self.db)
            .await?
        else {
            return Ok(None);
        };
        Ok(match lp.owner_type.as_str() {
            // A live mailbox was found above: this one is deleted.
            "mailbox" => None,
            "alias" => all_tenants::find_by_id::<aliases::Entity>(lp.owner_id)
                .one(self.db)
                .await?
                .map(Target::Alias),
            "group" => all_tenants::find_by_id::<groups::Entity>(lp.owner_id)
                .one(self.db)
                .await?
                .map(Target::Group),
            _ => None,
        })
    }

    /// Exact, then sub-address base, then the domain alias target, then the catch-all.
    async fn lookup(
        &self,
        domain: &domains::Model,
        local: &str,
        trace: &mut Vec<String>,
    ) -> Result<Option<Target>> {
        if let Some(t) = self.entry(domain.id, local).await? {
            return Ok(Some(t));
        }
        if let Some((base, _)) = local.split_once('+').filter(|(b, _)| !b.is_empty())
            && let Some(t) = self.entry(domain.id, base).await?
        {
            trace.push(format!(
                "{local}@{}: sub-address of {base}@{}",
                domain.name, domain.name
            ));
            return Ok(Some(t));
        }
        if let Some(target_id) = domain.alias_of
            && let Some(target) = Tenant(domain.tenant_id)
                .find_by_id::<domains::Entity>(target_id)
                .filter(domains::Column::Status.eq(DomainStatus::Verified))
                .one(self.db)
                .await?
        {
            trace.push(format!("{}: domain alias of {}", domain.name, target.name));
            if let Some(t) = self.entry(target.id, local).await? {
                return Ok(Some(t));
            }
            if let Some((base, _)) = local.split_once('+').filter(|(b, _)| !b.is_empty())
                && let Some(t) = self.entry(target.id, base).await?
            {
                return Ok(Some(t));
            }
            if let Some(t) = self.entry(target.id, "*").await? {
                trace.push(format!("catch-all of {}", target.name));
                return Ok(Some(t));
            }
        }
        if let Some(t) = self.entry(domain.id, "*").await? {
            trace.push(format!("catch-all of {}", domain.name));
            return Ok(Some(t));
        }
        Ok(None)
    }

    /// Resolves one recipient address.
    pub(crate) async fn resolve(&self, address: &str) -> Result<Resolution> {
        let mut r = Resolution {
            address: address.trim().to_ascii_lowercase(),
            ..Default::default()
        };
        let Some((local, domain)) = split_address(address) else {
            r.rejected = Some(Rejection {
                code: "invalid_address",
                detail: "not an address of the form local@domain".into(),
            });
            return Ok(r);
        };
        r.address = format!("{local}@{domain}");
        let mut seen: HashSet<String> = HashSet::new();
        let mut seen_mailboxes: HashSet<Uuid> = HashSet::new();
        // Expansion stays inside the tenant the address belongs to: a destination on another
        // tenant's domain is external to this one, exactly like a domain elsewhere.
        let mut tenant = self.tenant;
        // (local part, domain, depth, reached through a group)
        let mut queue: VecDeque<(String, String, usize, bool)> =
            VecDeque::from([(local, domain, 0, false)]);
        while let Some((local, domain_name, depth, via_group)) = queue.pop_front() {
            if r.mailboxes.len() + r.external.len() > MAX_RECIPIENTS {
                break;
            }
            let addr = format!("{local}@{domain_name}");
            let top = depth == 0;
            if !seen.insert(addr.clone()) {
                r.trace.push(format!("{addr}: already expanded (loop cut)"));
                continue;
            }
            let Some(domain) = self.domain(&domain_name, tenant).await? else {
                if top {
                    r.rejected = Some(Rejection {
                        code: "not_our_domain",
                        detail: format!("{domain_name} is not a verified domain here"),
                    });
                    return Ok(r);
                }
                if !r.external.contains(&addr) {
                    r.trace.push(format!("{addr}: external"));
                    r.external.push(addr);
                }
                continue;
            };
            tenant = Some(domain.tenant_id);
            match self.lookup(&domain, &local, &mut r.trace).await? {
                None if top => {
                    r.rejected = Some(Rejection {
                        code: "unknown_recipient",
                        detail: format!("{addr} does not exist"),
                    });
                    return Ok(r);
                }
                None => r.trace.push(format!("{addr}: unknown, dropped")),
                Some(Target::Mailbox(m)) => {
                    if m.status != MailboxStatus::Active {
                        if top {
                            r.rejected = Some(Rejection {
                                code: "mailbox_suspended",
                                detail: format!("{} is suspended", m.address),
                            });
                            return Ok(r);
                        }
                        r.trace.push(format!("{}: suspended, skipped", m.address));
                    } else if seen_mailboxes.insert(m.id) {
                        r.trace.push(format!("{addr}: mailbox {}", m.address));
                        r.mailboxes.push(Delivery {
                            mailbox_id: m.id,
                            full: m.quota_bytes.is_some_and(|q| m.used_bytes >= q),
                            address: m.address,
                        });
                    }
                }
                Some(Target::Alias(a)) if depth >= MAX_DEPTH => {
                    r.trace.push(format!(
                        "{addr}: alias {} not expanded: nesting deeper than {MAX_DEPTH}",
                        a.id
                    ));
                }
                Some(Target::Alias(a)) => {
                    let dests: Vec<String> =
                        serde_json::from_str(&a.destinations).unwrap_or_default();
                    r.trace
                        .push(format!("{addr}: alias to {}", dests.join(", ")));
                    for d in dests {
                        if let Some((l, dn)) = split_address(&d) {
                            queue.push_back((l, dn, depth + 1, via_group));
                        }
                    }
                }
                Some(Target::Group(_)) if depth >= MAX_DEPTH => {
                    r.trace.push(format!(
                        "{addr}: group not expanded: nesting deeper than {MAX_DEPTH}"
                    ));
                }
                Some(Target::Group(g)) => {
                    let members: Vec<String> = all_tenants::find::<group_members::Entity>()
                        .filter(group_members::Column::GroupId.eq(g.id))
                        .all(self.db)
                        .await?
                        .into_iter()
                        .map(|m| m.address)
                        .collect();
                    r.trace.push(format!("{addr}: group of {}", members.len()));
                    if g.send_policy != "anyone" && !via_group {
                        r.trace.push(format!(
                            "{addr}: only senders allowed by policy {}",
                            g.send_policy
                        ));
                        r.send_policies.push(SendGuard {
                            group: addr.clone(),
                            policy: g.send_policy.clone(),
                            tenant_id: g.tenant_id,
                            members: members.iter().map(|m| m.to_ascii_lowercase()).collect(),
                        });
                    }
                    for d in members {
                        if let Some((l, dn)) = split_address(&d) {
                            queue.push_back((l, dn, depth + 1, true));
                        }
                    }
                }
            }
        }
        if r.mailboxes.len() + r.external.len() > MAX_RECIPIENTS {
            r.rejected = Some(Rejection {
                code: "expansion_limit",
                detail: format!("expands to more than {MAX_RECIPIENTS} recipients"),
            });
        }
        if r.trace.len() > MAX_TRACE {
            let more = r.trace.len() - MAX_TRACE;
            r.trace.truncate(MAX_TRACE);
            r.trace.push(format!("… and {more} more steps"));
        }
        Ok(r)
    }
}
