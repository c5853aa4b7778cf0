//! Contacts, through the tenant-scoped store: a personal book per mailbox, and a shared
//! directory per tenant that lists every mailbox automatically plus entries admins add.

use super::entities::contacts;
use super::page::{Page, PageRequest};
use super::{TenantStore, Tx};
use crate::contacts::format::{Card, RowError, Typed, validate};
use crate::error::{Error, Result};
use crate::ids::new_id;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

/// Contacts one book may hold.
pub const MAX_BOOK: u64 = 50_000;

/// Which address book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Book {
    /// A mailbox's personal book.
    Personal(Uuid),
    /// The tenant's shared directory.
    Shared,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Cards stored.
    pub imported: usize,
    /// Rows refused, each with why.
    pub errors: Vec<RowError>,
}

fn search_text(c: &Card) -> String {
    let mut parts = vec![c.full_name.clone()];
    parts.extend(c.given_name.clone());
    parts.extend(c.family_name.clone());
    parts.extend(c.emails.iter().map(|e| e.value.clone()));
    parts.extend(c.organization.clone());
    parts.join(" ").to_lowercase()
}

/// The card a row holds.
pub fn card_of(c: &contacts::Model) -> Card {
    Card {
        uid: c.uid.clone(),
        full_name: c.full_name.clone(),
        given_name: c.given_name.clone(),
        family_name: c.family_name.clone(),
        emails: serde_json::from_str(&c.emails).unwrap_or_default(),
        phones: serde_json::from_str(&c.phones).unwrap_or_default(),
        organization: c.organization.clone(),
        title: c.title.clone(),
        notes: c.notes.clone(),
        labels: serde_json::from_str(&c.labels).unwrap_or_default(),
    }
}

fn fill(am: &mut contacts::ActiveModel, c: &Card) {
    am.uid = Set(c.uid.clone());
    am.full_name = Set(c.full_name.clone());
    am.given_name = Set(c.given_name.clone());
    am.family_name = Set(c.family_name.clone());
    am.emails = Set(json!(c.emails).to_string());
    am.phones = Set(json!(c.phones).to_string());
    am.organization = Set(c.organization.clone());
    am.title = Set(c.title.clone());
    am.notes = Set(c.notes.clone());
    am.labels = Set(json!(c.labels).to_string());
    am.search_text = Set(search_text(c));
    am.updated_at = Set(Utc::now());
}

impl TenantStore {
    /// Checks the actor may read (or write) `book`: a mailbox owner its personal book (and may
    /// read the shared directory); admins and keys any book of the tenant.
    async fn reach_book(&self, book: Book, write: bool) -> Result<()> {
        match (book, self.actor.mailbox) {
            (Book::Personal(m), _) => self.mailbox(m).await.map(|_| ()),
            (Book::Shared, Some(_)) if write => Err(Error::forbidden(
                "admin_required",
                "the shared directory is maintained by the tenant's admins",
            )),
            (Book::Shared, _) => Ok(()),
        }
    }

    fn book_query(&self, book: Book) -> sea_orm::Select<contacts::Entity> {
        let q = self.find::<contacts::Entity>();
        match book {
            Book::Personal(m) => q.filter(contacts::Column::MailboxId.eq(m)),
            Book::Shared => q.filter(contacts::Column::MailboxId.is_null()),
        }
    }

    /// A book's contacts in creation order, optionally those matching `q` (names, emails,
    /// organisation; case-insensitive substring).
    pub async fn list_contacts(
        &self,
        book: Book,
        q: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<contacts::Model>> {
        self.reach_book(book, false).await?;
        let mut query = self.book_query(book);
        if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
            if q.chars().count() > 200 {
                return Err(Error::invalid("q", "must be at most 200 characters"));
            }
            query = query.filter(contacts::Column::SearchText.contains(q.to_lowercase()));
        }
        super::page::fetch_page(
            self.store.db(),
            query,
            contacts::Column::Id,
            page,
            false,
            |c| c.id,
        )
        .await
    }

    /// Whether a contact of `book` has this address (any case).
    pub async fn book_has_address(&self, book: Book, address: &str) -> Result<bool> {
        let address = address.trim().to_lowercase();
        Ok(self
            .list_contacts(book, Some(&address), PageRequest::parse(Some(200), None)?)
            .await?
            .items
            .iter()
            .any(|c| {
                card_of(c)
                    .emails
                    .iter()
                    .any(|e| e.value.eq_ignore_ascii_case(&address))
            }))
    }

    /// Adds the people a mailbox writes to its personal book (address and name, when given),
    /// skipping addresses a contact of the book already has. Returns how many were added.
    pub async fn remember_recipients(
        &self,
        mailbox: Uuid,
        people: &[(String, Option<String>)],
    ) -> Result<usize> {
        let book = Book::Personal(mailbox);
        let mut added = 0;
        for (address, name) in people {
            let address = address.trim().to_lowercase();
            if self.book_has_address(book, &address).await? {
                continue;
            }
            let card = Card {
                full_name: name
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(&address)
                    .to_string(),
                emails: vec![Typed {
                    value: address.clone(),
                    kind: None,
                }],
                ..Card::default()
            };
            self.create_contact(book, card).await?;
            added += 1;
        }
        Ok(added)
    }

    /// One contact the actor can reach.
    pub async fn contact(&self, id: Uuid) -> Result<contacts::Model> {
        let c = self
            .find_by_id::<contacts::Entity>(id)
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)?;
        let book = c.mailbox_id.map_or(Book::Shared, Book::Personal);
        self.reach_book(book, false).await?;
        Ok(c)
    }

    async fn insert_contact<C: ConnectionTrait>(
        &self,
        c: &C,
        book: Book,
        card: &Card,
        source: Option<Uuid>,
    ) -> Result<contacts::Model> {
        let now = Utc::now();
        let mut am = contacts::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(self.tid()),
            mailbox_id: Set(match book {
                Book::Personal(m) => Some(m),
                Book::Shared => None,
            }),
            source: Set(if source.is_some() {
                "mailbox"
            } else {
                "manual"
            }
            .into()),
            source_mailbox_id: Set(source),
            created_at: Set(now),
            ..Default::default()
        };
        fill(&mut am, card);
        Ok(am.insert(c).await?)
    }

    async fn check_room(&self, tx: &Tx, book: Book, adding: u64) -> Result<()> {
        let n = self.book_query(book).count(&**tx).await?;
        if n + adding > MAX_BOOK {
            return Err(Error::conflict(
                "book_full",
                format!("an address book holds at most {MAX_BOOK} contacts"),
            ));
        }
        Ok(())
    }

    /// Adds a contact to a book.
    pub async fn create_contact(&self, book: Book, card: Card) -> Result<contacts::Model> {
        validate(&card).map_err(|m| Error::invalid("contact", m))?;
        self.reach_book(book, true).await?;
        let tx = self.store.tx().await?;
        self.check_room(&tx, book, 1).await?;
        let c = self.insert_contact(&*tx, book, &card, None).await?;
        self.audit(
            &*tx,
            "contact.create",
            "contact",
            Some(c.id),
            json!({"full_name": c.full_name}),
        )
        .await?;
        tx.commit().await?;
        Ok(c)
    }

    /// Replaces a contact's card. Directory entries of mailboxes follow their mailbox and
    /// cannot be edited.
    pub async fn update_contact(&self, id: Uuid, card: Card) -> Result<contacts::Model> {
        validate(&card).map_err(|m| Error::invalid("contact", m))?;
        let c = self.contact(id).await?;
        self.reach_book(c.mailbox_id.map_or(Book::Shared, Book::Personal), true)
            .await?;
        if c.source == "mailbox" {
            return Err(Error::conflict(
                "managed_contact",
                "this directory entry follows its mailbox; change the mailbox instead",
            ));
        }
        let tx = self.store.tx().await?;
        let mut am: contacts::ActiveModel = c.into();
        fill(&mut am, &card);
        let c = am.update(&*tx).await?;
        self.audit(
            &*tx,
            "contact.update",
            "contact",
            Some(id),
            json!({"full_name": c.full_name}),
        )
        .await?;
        tx.commit().await?;
        Ok(c)
    }

    /// Deletes a contact (not a mailbox's directory entry).
    pub async fn delete_contact(&self, id: Uuid) -> Result<()> {
        let c = self.contact(id).await?;
        self.reach_book(c.mailbox_id.map_or(Book::Shared, Book::Personal), true)
            .await?;
        if c.source == "mailbox" {
            return Err(Error::conflict(
                "managed_contact",
                "this directory entry follows its mailbox; delete the mailbox instead",
            ));
        }
        let tx = self.store.tx().await?;
        self.delete_many::<contacts::Entity>()
            .filter(contacts::Column::Id.eq(id))
            .exec(&*tx)
            .await?;
        self.audit(
            &*tx,
            "contact.delete",
            "contact",
            Some(id),
            json!({"full_name": c.full_name}),
        )
        .await?;
        tx.commit().await
    }

    /// Imports parsed cards: every valid card is stored, every invalid row reported; a row is
    /// never stored in part.
    pub async fn import_contacts(
        &self,
        book: Book,
        rows: Vec<std::result::Result<Card, RowError>>,
    ) -> Result<ImportReport> {
        self.reach_book(book, true).await?;
        let mut report = ImportReport::default();
        let tx = self.store.tx().await?;
        let valid = rows.iter().filter(|r| r.is_ok()).count() as u64;
        self.check_room(&tx, book, valid).await?;
        for row in rows {
            match row {
                Ok(card) => {
                    self.insert_contact(&*tx, book, &card, None).await?;
                    report.imported += 1;
                }
                Err(e) => report.errors.push(e),
            }
        }
        self.audit(
            &*tx,
            "contact.import",
            "contact",
            None,
            json!({"imported": report.imported, "errors": report.errors.len()}),
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Adds a mailbox's entry to the shared directory.
    pub(crate) async fn add_directory_entry<C: ConnectionTrait>(
        &self,
        c: &C,
        mailbox: Uuid,
        name: &str,
        address: &str,
    ) -> Result<()> {
        let card = Card {
            full_name: name.to_string(),
            emails: vec![Typed {
                value: address.to_string(),
                kind: Some("work".into()),
            }],
            ..Default::default()
        };
        self.insert_contact(c, Book::Shared, &card, Some(mailbox))
            .await?;
        Ok(())
    }

    /// Keeps a mailbox's directory entry in step (`None`: the mailbox is gone).
    pub(crate) async fn sync_directory_entry<C: ConnectionTrait>(
        &self,
        c: &C,
        mailbox: Uuid,
        name: Option<&str>,
    ) -> Result<()> {
        let entries = self
            .find::<contacts::Entity>()
            .filter(contacts::Column::SourceMailboxId.eq(mailbox))
            .all(c)
            .await?;
        for e in entries {
            match name {
                Some(n) => {
                    let mut card = card_of(&e);
                    card.full_name = n.to_string();
                    let mut am: contacts::ActiveModel = e.into();
                    fill(&mut am, &card);
                    am.update(c).await?;
                }
                None => {
                    self.delete_many::<contacts::Entity>()
                        .filter(contacts::Column::Id.eq(e.id))
                        .exec(c)
                        .await?;
                }
            }
        }
        Ok(())
    }
}
