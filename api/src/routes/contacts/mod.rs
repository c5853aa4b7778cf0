//! `/v1/contacts`: address books. A mailbox owner's token reaches its personal book (and reads
//! the shared directory with `?book=shared`); admins and keys name a personal book with
//! `?mailbox_id=`, or work in the tenant's shared directory, which lists every mailbox
//! automatically plus the entries admins add.

pub mod create;
pub mod delete;
pub mod export;
pub mod get;
pub mod import;
pub mod list;
pub mod update;

use crate::extract::Authed;
use chrono::{DateTime, Utc};
use mailroom_core::contacts::format::{Card, Typed};
use mailroom_core::store::entities::contacts;
use mailroom_core::store::{Book, card_of};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Which book.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BookQuery {
    /// A mailbox's personal book (admins and keys; a mailbox owner's token means its own).
    pub mailbox_id: Option<Uuid>,
    /// `shared` for the tenant's shared directory.
    pub book: Option<String>,
}

impl BookQuery {
    /// The book meant.
    pub fn book(&self, auth: &Authed) -> Result<Book, mailroom_core::Error> {
        match (
            self.book.as_deref(),
            self.mailbox_id,
            auth.principal.mailbox(),
        ) {
            (Some("shared"), None, _) => Ok(Book::Shared),
            (Some("shared"), Some(_), _) => Err(mailroom_core::Error::invalid(
                "book",
                "give either book=shared or mailbox_id",
            )),
            (Some("personal") | None, Some(m), _) => Ok(Book::Personal(m)),
            (Some("personal") | None, None, Some(own)) => Ok(Book::Personal(own)),
            (None, None, None) => Ok(Book::Shared),
            (Some("personal"), None, None) => Err(mailroom_core::Error::invalid(
                "mailbox_id",
                "name the mailbox whose book you mean",
            )),
            (Some(_), _, _) => Err(mailroom_core::Error::invalid(
                "book",
                "must be shared or personal",
            )),
        }
    }
}

/// An email address or phone number with its kind.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypedValue {
    /// The address or number.
    pub value: String,
    /// `work`, `home`, `mobile`, … (lower case).
    #[serde(default)]
    pub kind: Option<String>,
}

/// A contact's card.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    /// Full name, as shown (required on create).
    #[serde(default)]
    pub full_name: Option<String>,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Email addresses (at most 20).
    #[serde(default)]
    pub emails: Option<Vec<TypedValue>>,
    /// Phone numbers (at most 20).
    #[serde(default)]
    pub phones: Option<Vec<TypedValue>>,
    /// Organisation.
    #[serde(default)]
    pub organization: Option<String>,
    /// Job title.
    #[serde(default)]
    pub title: Option<String>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// Groups / labels (at most 20).
    #[serde(default)]
    pub labels: Option<Vec<String>>,
}

fn blank_to_none(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn typed(v: Vec<TypedValue>) -> Vec<Typed> {
    v.into_iter()
        .map(|t| Typed {
            value: t.value.trim().to_string(),
            kind: t.kind.map(|k| k.trim().to_lowercase()),
        })
        .collect()
}

impl ContactRequest {
    /// Applies the given fields over `card`.
    pub fn apply(self, mut card: Card) -> Card {
        if let Some(v) = self.full_name {
            card.full_name = v.trim().to_string();
        }
        if self.given_name.is_some() {
            card.given_name = blank_to_none(self.given_name);
        }
        if self.family_name.is_some() {
            card.family_name = blank_to_none(self.family_name);
        }
        if let Some(v) = self.emails {
            card.emails = typed(v);
        }
        if let Some(v) = self.phones {
            card.phones = typed(v);
        }
        if self.organization.is_some() {
            card.organization = blank_to_none(self.organization);
        }
        if self.title.is_some() {
            card.title = blank_to_none(self.title);
        }
        if self.notes.is_some() {
            card.notes = self.notes.filter(|n| !n.trim().is_empty());
        }
        if let Some(v) = self.labels {
            card.labels = v.into_iter().map(|l| l.trim().to_string()).collect();
        }
        card
    }
}

/// A contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactResponse {
    /// Contact id.
    pub id: Uuid,
    /// `personal` or `shared`.
    pub book: &'static str,
    /// The personal book's mailbox.
    pub mailbox_id: Option<Uuid>,
    /// `manual`, or `mailbox` for a directory entry that follows a mailbox (read-only).
    pub source: String,
    /// Full name.
    pub full_name: String,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Email addresses.
    pub emails: Vec<TypedValue>,
    /// Phone numbers.
    pub phones: Vec<TypedValue>,
    /// Organisation.
    pub organization: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Groups / labels.
    pub labels: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<contacts::Model> for ContactResponse {
    fn from(c: contacts::Model) -> Self {
        let card = card_of(&c);
        let tv = |v: Vec<Typed>| {
            v.into_iter()
                .map(|t| TypedValue {
                    value: t.value,
                    kind: t.kind,
                })
                .collect()
        };
        Self {
            id: c.id,
            book: if c.mailbox_id.is_some() {
                "personal"
            } else {
                "shared"
            },
            mailbox_id: c.mailbox_id,
            source: c.source,
            full_name: card.full_name,
            given_name: card.given_name,
            family_name: card.family_name,
            emails: tv(card.emails),
            phones: tv(card.phones),
            organization: card.organization,
            title: card.title,
            notes: card.notes,
            labels: card.labels,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

crate::list_type!(ContactList, ContactResponse);
