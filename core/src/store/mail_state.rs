//! The one owner of IMAP mail state: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, each message's UID
//! and MODSEQ, the folder counters that move with them, the expunge log, and the events that
//! announce a change.
//!
//! Every writer of messages calls here, inside its own transaction: delivery and import
//! (`delivery.rs`), flag changes, moves and deletes (`message_changes.rs`, for REST now and
//! IMAP STORE/MOVE/EXPUNGE next), folder creation (`mailboxes.rs`, `folders.rs`). The rules:
//!
//! - A folder's UIDVALIDITY comes from its mailbox's `uidvalidity_seq`, raised by one for each
//!   folder ever made, so a folder re-created under an old name never reuses a UIDVALIDITY.
//! - Each change takes **one** MODSEQ step per folder it touches ([`step_folders`]); every
//!   message it changes or adds there carries the new HIGHESTMODSEQ as its MODSEQ.
//! - New messages take UIDs from UIDNEXT in the same statement; UIDs are never reused.
//! - A message leaving a folder (moved or deleted) is logged in `expunged` with its UID and the
//!   step's MODSEQ ([`log_expunged`]), for QRESYNC's VANISHED.
//! - Events ([`event`]) are collected during the transaction and published by the caller
//!   after it commits, never for one that rolled back. A listener that missed events reads
//!   what changed after its last MODSEQ with [`changes_since`].
//!
//! Callers lock the folders they step in id order before any mailbox row (see
//! `message_changes.rs`), so two writers never wait for each other in a cycle.

use super::entities::{expunged, folders, mailboxes, messages};
use super::scope::{Tenant, all_tenants};
use super::sql::{lock_in_order, values_list};
use super::{TenantStore, Tx};
use crate::bus::MailboxEvent;
use crate::error::{Error, Result};
use crate::ids::new_id;
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// How one change moves a folder's counters besides its MODSEQ step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FolderDelta {
    /// Messages arriving (each takes a UID).
    pub added: i64,
    /// Messages leaving.
    pub removed: i64,
    /// Change of the unseen count.
    pub unseen: i64,
    /// Change of the bytes held.
    pub bytes: i64,
}

/// A folder's state after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FolderState {
    /// UIDNEXT after the step: the UIDs taken are `uidnext - added .. uidnext`.
    pub uidnext: i64,
    /// HIGHESTMODSEQ after the step: the MODSEQ of everything the change touched there.
    pub highestmodseq: i64,
}

/// What a change did, as announced on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    /// A message arrived in the folder (delivered, imported, moved in).
    Appended,
    /// A message's flags or keywords changed.
    Flags,
    /// A message left the folder (moved out, deleted for good).
    Expunged,
}

impl ChangeKind {
    /// The event's `kind`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Appended => "appended",
            ChangeKind::Flags => "flags",
            ChangeKind::Expunged => "expunged",
        }
    }
}

/// The event announcing one change (publish it after the commit).
pub(crate) fn event(
    tenant: Uuid,
    mailbox: Uuid,
    folder: Uuid,
    kind: ChangeKind,
    uid: i64,
    modseq: i64,
) -> MailboxEvent {
    MailboxEvent {
        tenant_id: tenant,
        mailbox_id: mailbox,
        folder_id: folder,
        kind: kind.as_str().into(),
        uid,
        modseq,
    }
}

/// A fresh UIDVALIDITY for a new folder of `tenant`'s `mailbox`: never used before in the
/// mailbox.
pub(crate) async fn new_uidvalidity(tx: &Tx, tenant: Uuid, mailbox: Uuid) -> Result<i64> {
    Tenant(tenant)
        .update_many::<mailboxes::Entity>()
        .col_expr(
            mailboxes::Column::UidvaliditySeq,
            Expr::col(mailboxes::Column::UidvaliditySeq).add(1),
        )
        .filter(mailboxes::Column::Id.eq(mailbox))
        .exec(&**tx)
        .await?;
    let seq: Option<i64> = Tenant(tenant)
        .find_by_id::<mailboxes::Entity>(mailbox)
        .select_only()
        .column(mailboxes::Column::UidvaliditySeq)
        .into_tuple()
        .one(&**tx)
        .await?;
    seq.ok_or(Error::NotFound)
}

/// Takes one MODSEQ step in each folder of `deltas`, with its UIDs and counters; returns each
/// folder's state after it. On Postgres several folders are locked in id order and stepped in
/// one statement; otherwise one statement per folder, in id order.
pub(crate) async fn step_folders(
    tx: &Tx,
    deltas: &BTreeMap<Uuid, FolderDelta>,
) -> Result<HashMap<Uuid, FolderState>> {
    let mut after = HashMap::new();
    if tx.get_database_backend() == DbBackend::Postgres && deltas.len() > 1 {
        lock_in_order::<folders::Entity, _>(tx, folders::Column::Id, deltas.keys()).await?;
        let (values, params) = values_list(deltas.iter().map(|(id, d)| {
            [
                (*id).into(),
                d.added.into(),
                d.removed.into(),
                d.unseen.into(),
                d.bytes.into(),
            ]
        }));
        let sql = format!(
            "UPDATE folders AS f SET uidnext = f.uidnext + v.added, \
             highestmodseq = f.highestmodseq + 1, \
             total_messages = f.total_messages + v.added - v.removed, \
             unseen_messages = f.unseen_messages + v.unseen, total_bytes = f.total_bytes + v.bytes \
             FROM (VALUES {values}) AS v(id, added, removed, unseen, bytes) WHERE f.id = v.id \
             RETURNING f.id, f.uidnext, f.highestmodseq"
        );
        for row in tx
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                params,
            ))
            .await?
        {
            after.insert(
                row.try_get::<Uuid>("", "id")?,
                FolderState {
                    uidnext: row.try_get::<i64>("", "uidnext")?,
                    highestmodseq: row.try_get::<i64>("", "highestmodseq")?,
                },
            );
        }
    } else {
        for (id, d) in deltas {
            let f = all_tenants::update_many::<folders::Entity>()
                .col_expr(
                    folders::Column::Uidnext,
                    Expr::col(folders::Column::Uidnext).add(d.added),
                )
                .col_expr(
                    folders::Column::Highestmodseq,
                    Expr::col(folders::Column::Highestmodseq).add(1),
                )
                .col_expr(
                    folders::Column::TotalMessages,
                    Expr::col(folders::Column::TotalMessages).add(d.added - d.removed),
                )
                .col_expr(
                    folders::Column::UnseenMessages,
                    Expr::col(folders::Column::UnseenMessages).add(d.unseen),
                )
                .col_expr(
                    folders::Column::TotalBytes,
                    Expr::col(folders::Column::TotalBytes).add(d.bytes),
                )
                .filter(folders::Column::Id.eq(*id))
                .exec_with_returning(&**tx)
                .await?;
            if let Some(f) = f.into_iter().next() {
                after.insert(
                    f.id,
                    FolderState {
                        uidnext: f.uidnext,
                        highestmodseq: f.highestmodseq,
                    },
                );
            }
        }
    }
    if after.len() != deltas.len() {
        return Err(Error::NotFound);
    }
    Ok(after)
}

/// Logs UIDs that left `folder` at `modseq` (for QRESYNC's VANISHED).
pub(crate) async fn log_expunged(
    tx: &Tx,
    tenant: Uuid,
    mailbox: Uuid,
    folder: Uuid,
    uids: &[i64],
    modseq: i64,
) -> Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let log: Vec<expunged::ActiveModel> = uids
        .iter()
        .map(|uid| expunged::ActiveModel {
            id: Set(new_id()),
            tenant_id: Set(tenant),
            mailbox_id: Set(mailbox),
            folder_id: Set(folder),
            uid: Set(*uid),
            modseq: Set(modseq),
            expunged_at: Set(now),
        })
        .collect();
    expunged::Entity::insert_many(log)
        .exec_without_returning(&**tx)
        .await?;
    Ok(())
}

/// What changed in a folder after a MODSEQ: what a listener that missed events (or an IMAP
/// client resynchronising with QRESYNC) reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderChanges {
    /// The folder's HIGHESTMODSEQ now.
    pub highestmodseq: i64,
    /// Messages added or changed after the MODSEQ: (UID, MODSEQ), by UID.
    pub changed: Vec<(i64, i64)>,
    /// UIDs that left the folder after the MODSEQ, ascending.
    pub vanished: Vec<i64>,
}

/// Changed and vanished UIDs one [`TenantStore::folder_changes`] call returns at most, each.
pub const MAX_CHANGES: u64 = 10_000;

impl TenantStore {
    /// What changed in `folder` of `mailbox` after `modseq`: what a listener that missed events
    /// (a lagging or resynchronising subscriber of `Bus::subscribe_mailbox`, an IMAP client
    /// with QRESYNC) reads to catch up. At most [`MAX_CHANGES`] of each kind, lowest UIDs
    /// first; `not_found` for a folder that is not the mailbox's.
    pub async fn folder_changes(
        &self,
        mailbox: Uuid,
        folder: Uuid,
        modseq: i64,
    ) -> Result<FolderChanges> {
        let db = self.store.db();
        let m = self.mailbox_on(db, mailbox).await?;
        changes_since(db, m.tenant_id, m.id, folder, modseq, MAX_CHANGES).await
    }
}

/// What changed in `folder` (of `tenant`'s `mailbox`) after `modseq`, read on `db`, at most
/// `limit` of each kind.
async fn changes_since(
    db: &impl ConnectionTrait,
    tenant: Uuid,
    mailbox: Uuid,
    folder: Uuid,
    modseq: i64,
    limit: u64,
) -> Result<FolderChanges> {
    let f = Tenant(tenant)
        .find_by_id::<folders::Entity>(folder)
        .filter(folders::Column::MailboxId.eq(mailbox))
        .one(db)
        .await?
        .ok_or(Error::NotFound)?;
    let changed: Vec<(i64, i64)> = Tenant(tenant)
        .find::<messages::Entity>()
        .select_only()
        .column(messages::Column::Uid)
        .column(messages::Column::Modseq)
        .filter(messages::Column::FolderId.eq(folder))
        .filter(messages::Column::Modseq.gt(modseq))
        .order_by_asc(messages::Column::Uid)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    let vanished: Vec<i64> = Tenant(tenant)
        .find::<expunged::Entity>()
        .select_only()
        .column(expunged::Column::Uid)
        .filter(expunged::Column::FolderId.eq(folder))
        .filter(expunged::Column::Modseq.gt(modseq))
        .order_by_asc(expunged::Column::Uid)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    Ok(FolderChanges {
        highestmodseq: f.highestmodseq,
        changed,
        vanished,
    })
}
