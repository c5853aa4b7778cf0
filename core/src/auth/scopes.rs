//! Roles of people and scopes of credentials.

use serde::{Deserialize, Serialize};

/// What a person is on the platform or in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Tenant member: reads the tenant's settings, works with mail.
    Member,
    /// Tenant admin: manages users (but not owners), keys, domains, mailboxes.
    Admin,
    /// Tenant owner: everything in the tenant, including other owners.
    Owner,
    /// Runs the platform: creates and suspends tenants. Belongs to no tenant.
    PlatformAdmin,
    /// A mailbox's owner, logged in with the mailbox's password: reaches that mailbox only.
    Mailbox,
}

impl Role {
    /// The name stored in the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
            Role::PlatformAdmin => "platform_admin",
            Role::Mailbox => "mailbox",
        }
    }

    /// Parses a stored or requested role name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "member" => Role::Member,
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            "platform_admin" => Role::PlatformAdmin,
            "mailbox" => Role::Mailbox,
            _ => return None,
        })
    }

    /// Every scope this role grants.
    pub fn scopes(self) -> Vec<Scope> {
        Scope::ALL
            .iter()
            .copied()
            .filter(|s| self.allows(*s))
            .collect()
    }

    /// Whether this role grants `scope`.
    pub fn allows(self, scope: Scope) -> bool {
        use Scope::*;
        match self {
            Role::Owner | Role::Admin => true,
            Role::Member => matches!(
                scope,
                TenantsRead
                    | UsersRead
                    | ApiKeysRead
                    | ApiKeysWrite
                    | DomainsRead
                    | MailboxesRead
                    | MessagesRead
                    | MessagesWrite
                    | EventsRead
                    | ContactsRead
                    | SpamRead
                    | RulesRead
            ),
            // Platform admins act through the platform endpoints, not through tenant scopes.
            Role::PlatformAdmin => matches!(scope, TenantsRead | TenantsWrite),
            // Confined to its own mailbox by the store (see `Principal::confined_to`).
            Role::Mailbox => matches!(
                scope,
                MailboxesRead
                    | MailboxesWrite
                    | MessagesRead
                    | MessagesWrite
                    | ContactsRead
                    | ContactsWrite
                    | RulesRead
                    | RulesWrite
            ),
        }
    }
}

/// A permission a credential may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    TenantsRead,
    TenantsWrite,
    UsersRead,
    UsersWrite,
    ApiKeysRead,
    ApiKeysWrite,
    AuditRead,
    DomainsRead,
    DomainsWrite,
    MailboxesRead,
    MailboxesWrite,
    MessagesRead,
    MessagesWrite,
    EventsRead,
    ContactsRead,
    ContactsWrite,
    SpamRead,
    SpamWrite,
    RulesRead,
    RulesWrite,
}

impl Scope {
    /// Every scope, in a stable order.
    pub const ALL: [Scope; 20] = [
        Scope::TenantsRead,
        Scope::TenantsWrite,
        Scope::UsersRead,
        Scope::UsersWrite,
        Scope::ApiKeysRead,
        Scope::ApiKeysWrite,
        Scope::AuditRead,
        Scope::DomainsRead,
        Scope::DomainsWrite,
        Scope::MailboxesRead,
        Scope::MailboxesWrite,
        Scope::MessagesRead,
        Scope::MessagesWrite,
        Scope::EventsRead,
        Scope::ContactsRead,
        Scope::ContactsWrite,
        Scope::SpamRead,
        Scope::SpamWrite,
        Scope::RulesRead,
        Scope::RulesWrite,
    ];

    /// The scope's name, such as `domains:read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TenantsRead => "tenants:read",
            Scope::TenantsWrite => "tenants:write",
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::ApiKeysRead => "api_keys:read",
            Scope::ApiKeysWrite => "api_keys:write",
            Scope::AuditRead => "audit:read",
            Scope::DomainsRead => "domains:read",
            Scope::DomainsWrite => "domains:write",
            Scope::MailboxesRead => "mailboxes:read",
            Scope::MailboxesWrite => "mailboxes:write",
            Scope::MessagesRead => "messages:read",
            Scope::MessagesWrite => "messages:write",
            Scope::EventsRead => "events:read",
            Scope::ContactsRead => "contacts:read",
            Scope::ContactsWrite => "contacts:write",
            Scope::SpamRead => "spam:read",
            Scope::SpamWrite => "spam:write",
            Scope::RulesRead => "rules:read",
            Scope::RulesWrite => "rules:write",
        }
    }

    /// Parses a scope name.
    pub fn parse(s: &str) -> Option<Self> {
        Scope::ALL.iter().copied().find(|x| x.as_str() == s)
    }

    /// The read scope a write scope implies (a key that may write may also read).
    pub fn implied_read(self) -> Option<Scope> {
        Some(match self {
            Scope::TenantsWrite => Scope::TenantsRead,
            Scope::UsersWrite => Scope::UsersRead,
            Scope::ApiKeysWrite => Scope::ApiKeysRead,
            Scope::DomainsWrite => Scope::DomainsRead,
            Scope::MailboxesWrite => Scope::MailboxesRead,
            Scope::MessagesWrite => Scope::MessagesRead,
            Scope::ContactsWrite => Scope::ContactsRead,
            Scope::SpamWrite => Scope::SpamRead,
            Scope::RulesWrite => Scope::RulesRead,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
        for r in [
            Role::Member,
            Role::Admin,
            Role::Owner,
            Role::PlatformAdmin,
            Role::Mailbox,
        ] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn members_cannot_administer() {
        assert!(!Role::Member.allows(Scope::UsersWrite));
        assert!(!Role::Member.allows(Scope::AuditRead));
        assert!(!Role::Member.allows(Scope::DomainsWrite));
        assert!(Role::Admin.allows(Scope::UsersWrite));
        assert!(!Role::PlatformAdmin.allows(Scope::UsersRead));
    }
}
