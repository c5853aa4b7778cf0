//! Who can log in: a person (user) or a mailbox's owner (with the mailbox password or an app
//! password).

use crate::store::entities::{mailboxes, users};
use uuid::Uuid;

/// Which principal a login names when one address is both a user's login and a mailbox's
/// address (a tenant's admin may also have a mailbox at the same address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginKind {
    /// The person (owner, admin, member, platform admin).
    User,
    /// The mailbox's owner (mailbox password or app password).
    Mailbox,
}

/// A login account.
#[derive(Debug, Clone)]
pub(crate) enum Account {
    /// A platform admin or tenant user.
    User(users::Model),
    /// A mailbox.
    Mailbox(mailboxes::Model),
}

impl Account {
    pub(crate) fn id(&self) -> Uuid {
        match self {
            Account::User(u) => u.id,
            Account::Mailbox(m) => m.id,
        }
    }

    pub(crate) fn tenant_id(&self) -> Option<Uuid> {
        match self {
            Account::User(u) => u.tenant_id,
            Account::Mailbox(m) => Some(m.tenant_id),
        }
    }

    /// Email or mailbox address.
    pub(crate) fn login(&self) -> &str {
        match self {
            Account::User(u) => &u.email,
            Account::Mailbox(m) => &m.address,
        }
    }

    pub(crate) fn is_mailbox(&self) -> bool {
        matches!(self, Account::Mailbox(_))
    }
}
