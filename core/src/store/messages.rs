//! The message store: write path (delivery and import) and the read path lists and raw bytes
//! need.
//!
//! Invariants:
//! - A body is stored once per distinct content (SHA-256) in `blobs`; every copy references it.
//!   The stored message is the copy's `trace_prefix` followed by the blob, byte for byte.
//! - UID and MODSEQ are allocated from the folder row inside the storing transaction, so they
//!   are unique and strictly increasing per folder, and no UID is visible before it is
//!   committed.
//! - A mailbox's `used_bytes` changes in the same transaction, by a relative update, so it is
//!   exact under concurrency.
//! - All copies of one delivery commit together or not at all: `250` is sent after that.

use super::delivery::Item;
use super::entities::{blob_parts, blobs, folders, messages};
use super::new_message::{NewCopy, NewMessage, StoredCopy, events_of};
use super::page::{Page, PageRequest};
use super::scope::all_tenants;
use super::{Store, SystemStore, TenantStore};
use crate::bus::MailboxEvent;
use crate::error::{Error, Result};
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

impl Store {
    /// Stores a message's copies in one transaction (a batch of one: see `delivery.rs`).
    /// Copies for mailboxes deleted meanwhile are left out (they are not in the result), unless
    /// `tenant` is set: then every copy must be a live mailbox of that tenant. Returns each
    /// copy and the (mailbox, tenant) pairs.
    pub(crate) async fn store_copies(
        &self,
        tenant: Option<Uuid>,
        msg: &NewMessage<'_>,
        copies: &[NewCopy],
    ) -> Result<(Vec<StoredCopy>, Vec<(Uuid, Uuid)>)> {
        let mut out = self
            .store_batch(&[Item {
                tenant,
                msg,
                copies,
            }])
            .await?;
        out.pop()
            .ok_or_else(|| Error::Internal("a batch of one stored nothing".into()))
    }
}

impl SystemStore {
    /// Stores inbound messages and their copies in one transaction, all or nothing (the MX
    /// path: mailboxes come from the resolver, each copy's tenant from its mailbox row; copies
    /// for mailboxes deleted meanwhile are left out). Deliveries from SMTP reach this through
    /// the group committer ([`super::GroupCommitter`]). Returns, per message, its copies in
    /// mailbox-id order and the events to publish once committed.
    pub async fn deliver_batch(
        &self,
        batch: &[(NewMessage<'_>, Vec<NewCopy>)],
    ) -> Result<Vec<(Vec<StoredCopy>, Vec<MailboxEvent>)>> {
        let items: Vec<Item<'_>> = batch
            .iter()
            .map(|(msg, copies)| Item {
                tenant: None,
                msg,
                copies,
            })
            .collect();
        Ok(self
            .store
            .store_batch(&items)
            .await?
            .into_iter()
            .map(|(stored, tenants)| {
                let events = events_of(&tenants, &stored);
                (stored, events)
            })
            .collect())
    }
}

pub(crate) async fn raw_of(store: &Store, m: &messages::Model) -> Result<Vec<u8>> {
    let (size, first): (i64, Vec<u8>) =
        all_tenants::find_by_id::<blobs::Entity>(m.blob_hash.clone())
            .select_only()
            .column(blobs::Column::Size)
            .column(blobs::Column::Data)
            .into_tuple()
            .one(store.db())
            .await?
            .ok_or(Error::Internal(format!("blob {} missing", m.blob_hash)))?;
    let size = usize::try_from(size).unwrap_or(0);
    let mut out = Vec::with_capacity(m.trace_prefix.len() + size.max(first.len()));
    out.extend_from_slice(m.trace_prefix.as_bytes());
    out.extend_from_slice(&first);
    // The rest of a large body, part by part.
    let mut seq = 1;
    while out.len() - m.trace_prefix.len() < size {
        let part: Option<Vec<u8>> =
            all_tenants::find_by_id::<blob_parts::Entity>((m.blob_hash.clone(), seq))
                .select_only()
                .column(blob_parts::Column::Data)
                .into_tuple()
                .one(store.db())
                .await?;
        let Some(part) = part else {
            return Err(Error::Internal(format!(
                "blob {} is missing part {seq}",
                m.blob_hash
            )));
        };
        out.extend_from_slice(&part);
        seq += 1;
    }
    Ok(out)
}

impl TenantStore {
    /// Stores one imported message into a folder of a mailbox within reach.
    pub async fn import_message(
        &self,
        mailbox: Uuid,
        msg: &NewMessage<'_>,
        copy: NewCopy,
    ) -> Result<(StoredCopy, Vec<MailboxEvent>)> {
        self.mailbox(mailbox).await?;
        let copy = NewCopy {
            mailbox_id: mailbox,
            ..copy
        };
        let (stored, tenants) = self
            .store
            .store_copies(Some(self.tid()), msg, std::slice::from_ref(&copy))
            .await?;
        let events = events_of(&tenants, &stored);
        let one = stored.into_iter().next().ok_or(Error::NotFound)?;
        Ok((one, events))
    }

    /// A folder of a mailbox by name (`INBOX` in any case).
    pub async fn folder_by_name(&self, mailbox: Uuid, name: &str) -> Result<folders::Model> {
        self.mailbox(mailbox).await?;
        let name = if name.eq_ignore_ascii_case("inbox") {
            "INBOX".to_string()
        } else {
            name.to_string()
        };
        self.find::<folders::Entity>()
            .filter(folders::Column::MailboxId.eq(mailbox))
            .filter(folders::Column::Name.eq(name))
            .one(self.store.db())
            .await?
            .ok_or_else(|| Error::invalid("folder", "no such folder in this mailbox"))
    }

    /// Messages of a folder, newest first.
    pub async fn list_messages(
        &self,
        mailbox: Uuid,
        folder: Uuid,
        page: PageRequest,
    ) -> Result<Page<messages::Model>> {
        self.mailbox(mailbox).await?;
        let q = self
            .find::<messages::Entity>()
            .filter(messages::Column::MailboxId.eq(mailbox))
            .filter(messages::Column::FolderId.eq(folder));
        super::page::fetch_page(self.store.db(), q, messages::Column::Id, page, true, |m| {
            m.id
        })
        .await
    }

    /// One message of a mailbox within reach.
    pub async fn message(&self, mailbox: Uuid, id: Uuid) -> Result<messages::Model> {
        self.mailbox(mailbox).await?;
        self.find_by_id::<messages::Entity>(id)
            .filter(messages::Column::MailboxId.eq(mailbox))
            .one(self.store.db())
            .await?
            .ok_or(Error::NotFound)
    }

    /// The stored bytes of a message: our trace header fields, then exactly what was received.
    pub async fn raw_message(&self, mailbox: Uuid, id: Uuid) -> Result<Vec<u8>> {
        let m = self.message(mailbox, id).await?;
        raw_of(&self.store, &m).await
    }

    /// A message's row and its stored bytes.
    pub async fn message_with_raw(
        &self,
        mailbox: Uuid,
        id: Uuid,
    ) -> Result<(messages::Model, Vec<u8>)> {
        let m = self.message(mailbox, id).await?;
        let raw = raw_of(&self.store, &m).await?;
        Ok((m, raw))
    }

    /// How many messages a mailbox holds, and their bytes.
    pub async fn message_totals(&self, mailbox: Uuid) -> Result<(u64, i64)> {
        let m = self.mailbox(mailbox).await?;
        let n: Option<i64> = self
            .find::<messages::Entity>()
            .select_only()
            .column_as(messages::Column::Id.count(), "n")
            .filter(messages::Column::MailboxId.eq(mailbox))
            .into_tuple()
            .one(self.store.db())
            .await?;
        Ok((n.unwrap_or(0) as u64, m.used_bytes))
    }
}
