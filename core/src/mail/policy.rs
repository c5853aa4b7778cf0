//! Group sending policies on inbound mail. A group whose policy is `tenant` takes mail only
//! from the tenant's own domains, one whose policy is `members` only from its member
//! addresses, and in both cases the sender is the message's From address **authenticated**:
//! DMARC must pass (SPF or DKIM aligned with the From domain), so a forged From does not pass.
//! Without authentication results (`smtp.authenticate = false`) no sender is authenticated
//! and such groups refuse everything.

use super::authn::AuthOutcome;
use super::summary::Summary;
use crate::error::Result;
use crate::store::{SendGuard, SystemStore};

/// The message's From address when DMARC authenticated it, lower case.
pub fn authenticated_from(summary: &Summary, auth: Option<&AuthOutcome>) -> Option<String> {
    let auth = auth?;
    if auth.dmarc != "pass" || summary.from.len() != 1 {
        return None;
    }
    let address = summary.from[0].address.as_deref()?;
    let (local, domain) = crate::store::split_address(address)?;
    Some(format!("{local}@{domain}"))
}

/// `None` when every guard lets the sender through, else why one refuses (for a `550 5.7.1`).
pub async fn refusal(
    guards: &[SendGuard],
    summary: &Summary,
    auth: Option<&AuthOutcome>,
    sys: &SystemStore,
) -> Result<Option<String>> {
    if guards.is_empty() {
        return Ok(None);
    }
    let sender = authenticated_from(summary, auth);
    for g in guards {
        let allowed = match (&sender, g.policy.as_str()) {
            (None, _) => false,
            (Some(s), "members") => g.members.iter().any(|m| m == s),
            (Some(s), "tenant") => match s.rsplit_once('@') {
                Some((_, domain)) => sys.tenant_of_domain(domain).await? == Some(g.tenant_id),
                None => false,
            },
            // An unknown policy refuses rather than opens the list.
            (Some(_), _) => false,
        };
        if !allowed {
            let who = match g.policy.as_str() {
                "members" => "its members",
                _ => "its organisation's own addresses",
            };
            let why = if sender.is_none() {
                " (the From address must pass DMARC)"
            } else {
                ""
            };
            return Ok(Some(format!(
                "{} accepts mail only from {who}{why}",
                g.group
            )));
        }
    }
    Ok(None)
}
