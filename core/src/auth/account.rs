//! Who can log in: a person (user) or a mailbox's owner (with the mailbox password or an app
//! password).

use crate::store::entities::{mailboxes, users};
use uuid::Uuid;

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
